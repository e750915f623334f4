"""Benchmark: the same grid of training runs five ways, timed in one process.

Grid: MLP 40→100→100→10 on MNIST-1D, Adam (lr 1e-3), batch 100, 1000 steps,
8 training-set sizes (125…4000, log-spaced) × 8 seeds = 64 runs.

1. the engine: ``course.engine.sweep.sweep`` (vmapped, sharded over the host devices);
2. a Python loop over the engine's single jitted run;
3. a PyTorch *batched ensemble* (CPU, 2 threads) — the strongest thing a PyTorch user
   writes for many small runs: every run's weights stacked as (runs, in, out) tensors,
   ``torch.baddbmm`` for each layer, per-run mini-batches, the runs' mean losses summed and
   one fused ``torch.optim.Adam`` step over the stacked tensors (Adam is elementwise, so this
   is exactly independent optimisers), timed after a warm-up; once eager and once with the
   loss and its backward pass through ``torch.compile`` (compile time reported apart, as the
   engine's) — needs the ``bench`` extra (``make bench``);
4. a PyTorch eager loop (one ``nn.Sequential`` and one optimizer per run, 2 threads);
5. scikit-learn's ``MLPClassifier`` with the same architecture, solver and number of steps.

Prints a table (wall time, ratio to the engine, mean test accuracy per size), the
achieved GFLOP/s against a timed float32 matmul peak, peak memory, the latency of
one more single run (500 steps) through the warm compiled function, and finally
one line of JSON with every figure.

A second grid does the same for chapter 07's 1-D CNN (three kernel-5 convolutions with
stride 2 and 24 channels, dense to 10; Adam lr 3e-3, batch 100, 1000 steps; 4 sizes
250…4000 × 4 seeds = 16 runs): the engine (its convolution is strided slices and one matmul),
a PyTorch eager loop (``nn.Conv1d`` layers, one network and optimizer per run) and a
PyTorch batched ensemble (the runs as groups of one grouped ``conv1d``: every run's channels
side by side, ``groups=runs``, per-run mini-batches, one fused Adam).

A third grid runs chapter 08's GRU (32 units, the memory task at distance 20: 41 symbols
per sequence, one label at the end; Adam lr 3e-3, batch 64, 500 steps; 2 sizes × 4 seeds):
the engine (one ``lax.scan`` over time inside the vmapped run), a PyTorch eager loop
(``nn.GRU``, its fused C++ cell, one network and optimizer per run) and a PyTorch batched
ensemble (every run's GRU weights stacked, each time step a few ``bmm``s, one fused Adam).

``--quick`` shrinks everything (for the test that keeps this script working).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import time
import warnings

os.environ["COURSE_JAX_CACHE"] = "0"  # honest compile times: no persistent cache

import jax
import numpy as np

import course  # noqa: F401  (host devices)
from course.engine import data, models, sweep, train
from course.engine.runtime import timeit


def matmul_peak_gflops(n: int = 2048, repeat: int = 10) -> float:
    """Float32 GFLOP/s of a jitted n×n matmul (best of ``repeat``)."""
    a = jax.random.normal(jax.random.key(0), (n, n))
    f = jax.jit(lambda x: x @ x)
    return 2 * n**3 / min(timeit(lambda: f(a), repeat=repeat)) / 1e9


def run_engine(cfg, d, sizes, seeds):
    res = sweep.sweep(cfg, d, key=jax.random.key(0), seeds=seeds, n_trains=sizes, progress=False)
    if res.compile_seconds == 0.0:
        raise RuntimeError("expected a cold compile in the first engine call")
    warm = sweep.sweep(cfg, d, key=jax.random.key(0), seeds=seeds, n_trains=sizes, progress=False)
    acc = warm.final("test_acc").mean(axis=0)  # (sizes,)
    return res.compile_seconds, warm.run_seconds, acc


def run_loop(cfg, d, sizes, seeds):
    trainer = train.make_train(cfg)
    keys = jax.random.split(jax.random.key(0), seeds)
    jax.block_until_ready(trainer(keys[0], d, sizes[0]))  # compile outside the timing
    start = time.perf_counter()
    acc = np.zeros((seeds, len(sizes)))
    for s in range(seeds):
        for j, n in enumerate(sizes):
            acc[s, j] = float(trainer(keys[s], d, n).history["test_acc"][-1])
    return time.perf_counter() - start, acc.mean(axis=0)


def torch_data(d):
    """The data set as PyTorch tensors: x, y, x_test, y_test (2 threads, as the engine)."""
    import torch

    torch.set_num_threads(2)
    labels = {"dtype": torch.long}
    return (
        torch.tensor(np.asarray(d.x_train)), torch.tensor(np.asarray(d.y_train), **labels),
        torch.tensor(np.asarray(d.x_test)), torch.tensor(np.asarray(d.y_test), **labels),
    )  # fmt: skip


def torch_eager_loop(make_net, d, sizes, seeds, steps, batch, lr):
    """One ``make_net()`` and one Adam per run, trained one after another."""
    import torch

    x, y, xt, yt = torch_data(d)
    acc = np.zeros((seeds, len(sizes)))
    start = time.perf_counter()
    for s in range(seeds):
        for j, n in enumerate(sizes):
            torch.manual_seed(s * 1000 + j)
            net = make_net()
            opt = torch.optim.Adam(net.parameters(), lr=lr)
            loss_fn = torch.nn.CrossEntropyLoss()
            for _ in range(steps):
                idx = torch.randint(0, n, (batch,))
                opt.zero_grad()
                loss_fn(net(x[idx]), y[idx]).backward()
                opt.step()
            with torch.no_grad():
                acc[s, j] = (net(xt).argmax(1) == yt).float().mean().item()
    return time.perf_counter() - start, acc.mean(axis=0)


def run_torch(d, sizes, seeds, steps, batch):
    import torch

    def make_net():
        return torch.nn.Sequential(
            torch.nn.Linear(40, 100), torch.nn.ReLU(),
            torch.nn.Linear(100, 100), torch.nn.ReLU(),
            torch.nn.Linear(100, 10),
        )  # fmt: skip

    return torch_eager_loop(make_net, d, sizes, seeds, steps, batch, lr=1e-3)


def run_torch_batched(d, sizes, seeds, steps, batch, *, compiled=False):
    """Every run at once: stacked weights, batched matmuls, one Adam over all of them.

    Returns (wall seconds, accuracy per size, compile seconds).
    """
    import torch

    x, y, xt, yt = torch_data(d)
    torch.manual_seed(0)
    runs = seeds * len(sizes)
    n = torch.tensor([s for _ in range(seeds) for s in sizes], dtype=torch.float32)  # (runs,)

    def init():
        layers = []
        for fan_in, fan_out in ((40, 100), (100, 100), (100, 10)):  # Glorot normal, as ours
            w = torch.randn(runs, fan_in, fan_out) * math.sqrt(2.0 / (fan_in + fan_out))
            b = torch.zeros(runs, 1, fan_out)
            layers.append((w.requires_grad_(), b.requires_grad_()))
        params = [p for layer in layers for p in layer]
        try:
            opt = torch.optim.Adam(params, lr=1e-3, fused=True)
        except (RuntimeError, TypeError):  # a build without the fused CPU kernel
            opt = torch.optim.Adam(params, lr=1e-3)
        return layers, opt

    def forward(layers, h):  # (runs, batch, 40) -> (runs, batch, 10)
        for i, (w, b) in enumerate(layers):
            h = torch.baddbmm(b, h, w)
            if i < len(layers) - 1:
                h = torch.relu(h)
        return h

    def loss_fn(layers, xb, yb):
        # the sum over runs of each run's mean loss: every run gets its own gradient
        logits = forward(layers, xb)
        return (
            torch.nn.functional.cross_entropy(
                logits.reshape(runs * batch, 10), yb.reshape(-1), reduction="sum"
            )
            / batch
        )

    loss_of = torch.compile(loss_fn) if compiled else loss_fn

    def train(layers, opt, n_steps):
        for _ in range(n_steps):
            idx = (torch.rand(runs, batch) * n[:, None]).long()  # (runs, batch), each < its n
            opt.zero_grad()
            loss_of(layers, x[idx], y[idx]).backward()
            opt.step()

    start = time.perf_counter()
    train(*init(), 20)  # warm-up: allocator, kernels (and torch.compile's compilation)
    compile_s = time.perf_counter() - start if compiled else 0.0
    layers, opt = init()
    start = time.perf_counter()
    train(layers, opt, steps)
    with torch.no_grad():
        pred = forward(layers, xt.expand(runs, *xt.shape)).argmax(-1)  # (runs, n_test)
        acc = (pred == yt).float().mean(-1).numpy().reshape(seeds, len(sizes))
    return time.perf_counter() - start, acc.mean(axis=0), compile_s


def run_sklearn(d, sizes, seeds, steps, batch):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    acc = np.zeros((seeds, len(sizes)))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for s in range(seeds):
            for j, n in enumerate(sizes):
                # sklearn counts epochs; ceil(n / batch) steps per epoch → the same step count
                epochs = max(1, round(steps / math.ceil(n / batch)))
                clf = MLPClassifier(
                    (100, 100),
                    solver="adam",
                    learning_rate_init=1e-3,
                    batch_size=batch,
                    max_iter=epochs,
                    alpha=0.0,
                    tol=0.0,
                    n_iter_no_change=10**9,
                    random_state=s,
                )
                clf.fit(d.x_train[:n], d.y_train[:n])
                acc[s, j] = clf.score(d.x_test, d.y_test)
    return time.perf_counter() - start, acc.mean(axis=0)


def single_run_latency(d, steps: int, repeat: int = 30) -> tuple[float, float]:
    """p50/p95 (ms) of one extra run through the warm compiled function."""
    cfg = train.TrainConfig(models.MLP(40, (100, 100), 10), steps=steps, n_logs=1)
    trainer = train.make_train(cfg)
    jax.block_until_ready(trainer(jax.random.key(0), d, 4000))
    rng = np.random.default_rng(0)
    times = []
    for i in range(repeat):
        n = int(rng.integers(125, 4001))
        start = time.perf_counter()
        jax.block_until_ready(trainer(jax.random.key(100 + i), d, n))
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def torch_batched_fit(forward, init, tensors, n, batch, steps, seeds, sizes, warmup=20):
    """Train a batched ensemble (``forward(params, x) -> (runs, batch, classes)``) and time it.

    Each run draws its own mini-batch from its first ``n[run]`` examples; the runs' mean
    losses are summed, so one fused Adam step updates every run independently.  Returns the
    wall time of ``steps`` steps after a warm-up, and the test accuracy per size.
    """
    import torch
    import torch.nn.functional as tf

    x, y, xt, yt = tensors
    runs = len(n)

    def train_steps(params, opt, n_steps):
        for _ in range(n_steps):
            idx = (torch.rand(runs, batch) * n[:, None]).long()  # (runs, batch), each < its n
            opt.zero_grad()
            logits = forward(params, x[idx])
            loss = tf.cross_entropy(logits.flatten(0, 1), y[idx].reshape(-1), reduction="sum")
            (loss / batch).backward()
            opt.step()

    train_steps(*init(), warmup)
    params, opt = init()
    start = time.perf_counter()
    train_steps(params, opt, steps)
    with torch.no_grad():
        pred = forward(params, xt.expand(runs, *xt.shape)).argmax(-1)
        acc = (pred == yt).float().mean(-1).numpy().reshape(seeds, len(sizes))
    return time.perf_counter() - start, acc.mean(axis=0)


def grid_table(title: str, rows: list, compile_s: float) -> dict:
    """Print one grid's table (wall time, ratio to the engine in row 0, accuracy per size)."""
    engine_s = rows[0][1]
    print(f"\n{title} (engine compile {compile_s:.2f} s, not in its wall time)")
    print(f"{'implementation':<28}{'wall s':>9}{'x engine':>10}   test accuracy per size")
    for name, secs, acc in rows:
        accs = " ".join(f"{a:.3f}" for a in acc)
        print(f"{name:<28}{secs:9.2f}{secs / engine_s:10.1f}   {accs}")
    return {
        "engine_s": round(engine_s, 3), "compile_s": round(compile_s, 3),
        **{name: round(secs / engine_s, 2) for name, secs, _ in rows[1:]},
        "accuracy": {name: [round(float(a), 4) for a in acc] for name, _, acc in rows},
    }  # fmt: skip


CNN_CHANNELS, CNN_KERNEL, CNN_STRIDE, CNN_LR = 24, 5, 2, 3e-3


def cnn_lengths(length: int = 40) -> list[int]:
    lengths = []
    for _ in range(3):
        length = (length - CNN_KERNEL) // CNN_STRIDE + 1
        lengths.append(length)
    return lengths


def run_cnn_engine(d, sizes, seeds, steps, batch):
    cfg = train.TrainConfig(
        models.CNN1D(40, (CNN_CHANNELS,) * 3, 10, CNN_KERNEL, CNN_STRIDE),
        steps=steps, batch_size=batch, n_logs=1, lr=CNN_LR,
    )  # fmt: skip
    return run_engine(cfg, d, sizes, seeds)


def run_cnn_torch(d, sizes, seeds, steps, batch):
    import torch

    c, k, st = CNN_CHANNELS, CNN_KERNEL, CNN_STRIDE

    def make_net():
        return torch.nn.Sequential(
            torch.nn.Unflatten(1, (1, 40)),  # (batch, 40) -> (batch, 1 channel, 40)
            torch.nn.Conv1d(1, c, k, st), torch.nn.ReLU(),
            torch.nn.Conv1d(c, c, k, st), torch.nn.ReLU(),
            torch.nn.Conv1d(c, c, k, st), torch.nn.ReLU(),
            torch.nn.Flatten(), torch.nn.Linear(c * cnn_lengths()[-1], 10),
        )  # fmt: skip

    return torch_eager_loop(make_net, d, sizes, seeds, steps, batch, lr=CNN_LR)


def run_cnn_torch_batched(d, sizes, seeds, steps, batch):
    """Every run at once: run r's channels are group r of one grouped convolution."""
    import torch
    import torch.nn.functional as tf

    x, y, xt, yt = torch_data(d)
    torch.manual_seed(0)
    runs, c, k, st = seeds * len(sizes), CNN_CHANNELS, CNN_KERNEL, CNN_STRIDE
    flat = c * cnn_lengths()[-1]
    n = torch.tensor([s for _ in range(seeds) for s in sizes], dtype=torch.float32)

    def init():
        params = []
        for c_in in (1, c, c):  # Glorot normal over the taps, as the engine
            std = math.sqrt(2.0 / (k * c_in + k * c))
            params += [(torch.randn(runs * c, c_in, k) * std).requires_grad_(),
                       torch.zeros(runs * c).requires_grad_()]  # fmt: skip
        params += [(torch.randn(runs, flat, 10) * math.sqrt(2.0 / (flat + 10))).requires_grad_(),
                   torch.zeros(runs, 1, 10).requires_grad_()]  # fmt: skip
        try:
            opt = torch.optim.Adam(params, lr=CNN_LR, fused=True)
        except (RuntimeError, TypeError):
            opt = torch.optim.Adam(params, lr=CNN_LR)
        return params, opt

    def forward(params, xb):  # xb (runs, batch, 40) -> logits (runs, batch, 10)
        h = xb.transpose(0, 1)  # (batch, runs, 40): run r is input channel r
        for i in range(3):
            h = torch.relu(tf.conv1d(h, params[2 * i], params[2 * i + 1], st, groups=runs))
        h = h.reshape(h.shape[0], runs, flat).transpose(0, 1)  # (runs, batch, flat)
        return torch.baddbmm(params[7], h, params[6])

    return torch_batched_fit(forward, init, (x, y, xt, yt), n, batch, steps, seeds, sizes)


def cnn_benchmark(d, *, quick: bool, skip_torch: bool) -> dict:
    """Chapter 07's CNN grid three ways; prints a table, returns the figures."""
    steps, seeds, sizes = (30, 2, [250, 500]) if quick else (1000, 4, [250, 500, 1000, 4000])
    batch = 100
    compile_s, engine_s, acc_engine = run_cnn_engine(d, sizes, seeds, steps, batch)
    rows = [("engine CNN (vmap + mesh)", engine_s, acc_engine)]
    if not skip_torch:
        try:
            rows.append(
                ("PyTorch batched (groups)", *run_cnn_torch_batched(d, sizes, seeds, steps, batch))
            )
            rows.append(("PyTorch eager loop", *run_cnn_torch(d, sizes, seeds, steps, batch)))
        except ImportError:
            print("PyTorch is not installed (`make bench` installs the bench extra); skipped")
    title = f"CNN grid: {len(sizes)} sizes {sizes} x {seeds} seeds, {steps} steps"
    return grid_table(title, rows, compile_s)


RNN_DISTANCE, RNN_LR = 20, 3e-3


def rnn_setup(quick: bool):
    """Chapter 08's GRU on the memory task at distance 20: data, config, grid."""
    from course.chapters import recurrent_networks as ch08

    d = ch08.recall_data(RNN_DISTANCE, key=jax.random.key(1))
    steps, seeds, sizes = (20, 2, [500]) if quick else (500, 4, [500, 2000])
    cfg = dataclasses.replace(ch08.recall_config("gru"), steps=steps, n_logs=1, keep_params=False)
    return d, cfg, steps, seeds, sizes


def run_rnn_torch(d, cfg, sizes, seeds, steps):
    """One ``nn.GRU`` (fused C++ cell) and one Adam per run, inputs one-hot."""
    import torch

    m = cfg.model
    onehot = lambda ids: torch.nn.functional.one_hot(ids.long(), m.vocab).float()  # noqa: E731

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(m.vocab, m.hidden, batch_first=True)
            self.out = torch.nn.Linear(m.hidden, m.outputs)

        def forward(self, ids):  # (batch, T) -> (batch, n_out)
            return self.out(self.gru(onehot(ids))[0][:, -1])

    return torch_eager_loop(Net, d, sizes, seeds, steps, cfg.batch_size, lr=RNN_LR)


def run_rnn_torch_batched(d, cfg, sizes, seeds, steps):
    """Every run's GRU weights stacked (runs, …); each time step is a few ``bmm``s."""
    import torch
    import torch.nn.functional as tf

    x, y, xt, yt = torch_data(d)
    torch.manual_seed(0)
    m, batch = cfg.model, cfg.batch_size
    runs, h_dim = seeds * len(sizes), m.hidden
    n = torch.tensor([s for _ in range(seeds) for s in sizes], dtype=torch.float32)

    def init():
        shapes = [(m.vocab, 3 * h_dim), (h_dim, 3 * h_dim), (1, 3 * h_dim), (h_dim, m.outputs),
                  (1, m.outputs)]  # fmt: skip
        params = [(torch.randn(runs, *shape) / math.sqrt(shape[0])).requires_grad_()
                  for shape in shapes]  # fmt: skip
        return params, torch.optim.Adam(params, lr=RNN_LR, fused=True)

    def forward(params, ids):  # ids (runs, batch, T) -> logits (runs, batch, n_out)
        w_in, w_rec, b, w_out, b_out = params
        u = torch.bmm(tf.one_hot(ids.long(), m.vocab).float().flatten(1, 2), w_in) + b
        u = u.view(runs, ids.shape[1], ids.shape[2], 3 * h_dim)
        h = torch.zeros(runs, ids.shape[1], h_dim)
        for t in range(ids.shape[2]):
            rec = torch.bmm(h, w_rec)
            z = torch.sigmoid(u[:, :, t, :h_dim] + rec[..., :h_dim])
            r = torch.sigmoid(u[:, :, t, h_dim : 2 * h_dim] + rec[..., h_dim : 2 * h_dim])
            cand = torch.tanh(u[:, :, t, 2 * h_dim :] + r * rec[..., 2 * h_dim :])
            h = (1 - z) * cand + z * h
        return torch.baddbmm(b_out, h, w_out)

    return torch_batched_fit(forward, init, (x, y, xt, yt), n, batch, steps, seeds, sizes,
                             warmup=5)  # fmt: skip


def rnn_benchmark(*, quick: bool, skip_torch: bool) -> dict:
    """Chapter 08's GRU grid three ways; prints a table, returns the figures."""
    d, cfg, steps, seeds, sizes = rnn_setup(quick)
    compile_s, engine_s, acc_engine = run_engine(cfg, d, sizes, seeds)
    rows = [("engine GRU (scan + vmap)", engine_s, acc_engine)]
    if not skip_torch:
        try:
            rows.append(
                ("PyTorch batched (bmm)", *run_rnn_torch_batched(d, cfg, sizes, seeds, steps))
            )
            rows.append(("PyTorch eager nn.GRU", *run_rnn_torch(d, cfg, sizes, seeds, steps)))
        except ImportError:
            print("PyTorch is not installed (`make bench` installs the bench extra); skipped")
    title = (f"GRU grid (memory task, distance {RNN_DISTANCE}, {cfg.model.hidden} units): "
             f"{len(sizes)} sizes {sizes} x {seeds} seeds, {steps} steps")  # fmt: skip
    return grid_table(title, rows, compile_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny grid (smoke test)")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    steps, seeds, n_sizes = (50, 2, 2) if args.quick else (1000, 8, 8)
    batch = 100
    sizes = sweep.log_grid(125, 4000, n_sizes)
    d = data.mnist1d()
    cfg = train.TrainConfig(
        models.MLP(40, (100, 100), 10), steps=steps, batch_size=batch, n_logs=1, lr=1e-3
    )
    n_runs = seeds * len(sizes)
    print(f"devices: {jax.devices()}")
    print(f"grid: {len(sizes)} sizes {sizes} x {seeds} seeds = {n_runs} runs, {steps} steps")

    peak = matmul_peak_gflops(512 if args.quick else 2048)
    compile_s, engine_s, acc_engine = run_engine(cfg, d, sizes, seeds)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gflops = sweep.gflop(cfg, d, n_runs) / engine_s
    loop_s, acc_loop = run_loop(cfg, d, sizes, seeds)
    torch_s = acc_torch = batched_s = acc_batched = compiled_s = acc_compiled = None
    torch_compile_s = None
    if not args.skip_torch:
        try:
            batched_s, acc_batched, _ = run_torch_batched(d, sizes, seeds, steps, batch)
            compiled_s, acc_compiled, torch_compile_s = run_torch_batched(
                d, sizes, seeds, steps, batch, compiled=True
            )
            torch_s, acc_torch = run_torch(d, sizes, seeds, steps, batch)
        except ImportError:
            print("PyTorch is not installed (`make bench` installs the bench extra); skipped")
    sklearn_s = acc_sklearn = None
    if not args.skip_sklearn:
        sklearn_s, acc_sklearn = run_sklearn(d, sizes, seeds, steps, batch)
    p50, p95 = single_run_latency(d, 50 if args.quick else 500, 5 if args.quick else 30)

    rows = [
        ("engine (vmap + mesh)", engine_s, acc_engine),
        ("loop over jitted run", loop_s, acc_loop),
        ("PyTorch batched ensemble", batched_s, acc_batched),
        ("  + torch.compile", compiled_s, acc_compiled),
        ("PyTorch eager loop", torch_s, acc_torch),
        ("scikit-learn MLPClassifier", sklearn_s, acc_sklearn),
    ]
    print(f"\n{'implementation':<28}{'wall s':>9}{'x engine':>10}   test accuracy per size")
    for name, secs, acc in rows:
        if secs is None:
            print(f"{name:<28}{'skipped':>9}")
            continue
        accs = " ".join(f"{a:.3f}" for a in acc)
        print(f"{name:<28}{secs:9.2f}{secs / engine_s:10.1f}   {accs}")
    gaps = {
        name: float(np.max(np.abs(np.asarray(acc) - acc_engine)))
        for name, secs, acc in rows[1:]
        if secs is not None
    }
    print(
        "largest test-accuracy gap to the engine at any size (8 seeds; seed noise ≈ 0.02): "
        + ", ".join(f"{name} {gap:.3f}" for name, gap in gaps.items())
    )
    print(f"\nengine compile: {compile_s:.2f} s (not in its wall time)")
    if torch_compile_s is not None:
        print(f"torch.compile warm-up: {torch_compile_s:.2f} s (not in its wall time)")
    print(
        f"engine throughput: {gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of the "
        f"float32 matmul peak {peak:.1f} GFLOP/s (6·params·examples)"
    )
    print(f"peak memory (RSS) after the engine: {rss_mb:.0f} MB")
    print(
        f"one more single run ({50 if args.quick else 500} steps, warm): p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms"
    )

    cnn = cnn_benchmark(d, quick=args.quick, skip_torch=args.skip_torch)
    rnn = rnn_benchmark(quick=args.quick, skip_torch=args.skip_torch)

    def ratio(x):
        return None if x is None else round(x / engine_s, 2)

    def accs(a):
        return (
            None
            if a is None
            else {str(n): round(float(v), 4) for n, v in zip(sizes, a, strict=True)}
        )

    print(
        json.dumps(
            {
                "engine_s": round(engine_s, 3),
                "compile_s": round(compile_s, 3),
                "loop_s": round(loop_s, 3),
                "torch_s": None if torch_s is None else round(torch_s, 3),
                "torch_batched_s": None if batched_s is None else round(batched_s, 3),
                "torch_compiled_s": None if compiled_s is None else round(compiled_s, 3),
                "torch_compile_warmup_s": None
                if torch_compile_s is None
                else round(torch_compile_s, 3),
                "sklearn_s": None if sklearn_s is None else round(sklearn_s, 3),
                "ratio_loop": ratio(loop_s),
                "ratio_torch": ratio(torch_s),
                "ratio_torch_batched": ratio(batched_s),
                "ratio_torch_compiled": ratio(compiled_s),
                "ratio_sklearn": ratio(sklearn_s),
                "gflops": round(gflops, 1),
                "peak_gflops": round(peak, 1),
                "single_run_p50_ms": round(p50, 1),
                "single_run_p95_ms": round(p95, 1),
                "rss_mb": round(rss_mb),
                "devices": len(jax.devices()),
                "max_accuracy_gap": {k: round(v, 4) for k, v in gaps.items()},
                "cnn": cnn,
                "rnn": rnn,
                "accuracy": {
                    "engine": accs(acc_engine),
                    "loop": accs(acc_loop),
                    "torch": accs(acc_torch),
                    "torch_batched": accs(acc_batched),
                    "torch_compiled": accs(acc_compiled),
                    "sklearn": accs(acc_sklearn),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
