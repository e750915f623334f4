"""Benchmark: chapter 09's grid of small GANs three ways, timed in one process.

Grid: the chapter's GAN (generator 2→64→64→2 and discriminator 2→64→64→1, ReLU; Adam with
β₁ = 0.5 and learning rate 10⁻³ for both; batch 64; the non-saturating loss) on the ring of
8 Gaussians, 2 400 step pairs; 4 numbers of real examples (8…4096) × 6 seeds = 24 runs.

1. the engine: ``course.engine.gan.sweep`` (one vmapped ``lax.scan``, sharded over the
   host devices);
2. a PyTorch *batched ensemble* (CPU, 2 threads) — what a PyTorch user writes for many small
   runs: every run's weights stacked as (runs, in, out) tensors, ``torch.baddbmm`` per
   layer, per-run real batches, the runs' losses summed, one fused Adam per network (Adam is
   elementwise, so this is exactly independent optimisers), timed after a warm-up;
3. a PyTorch eager loop (one generator, one discriminator and two optimizers per run).

Each run is judged as the chapter judges it: modes covered (of 8) by 400 samples at the
end, mean over seeds, per number of examples — so a fast implementation that trains
differently would show.  Prints a table and one line of JSON.  ``--quick`` shrinks the grid
(for the smoke test); ``--skip-torch`` leaves PyTorch out.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import time

os.environ["COURSE_JAX_CACHE"] = "0"  # honest compile times: no persistent cache

import jax
import numpy as np

import course  # noqa: F401  (host devices)
from course.chapters import generative_adversarial_networks as chapter
from course.engine import gan

WIDTH, LATENT, BATCH, LR, B1 = chapter.WIDTH, chapter.LATENT, chapter.BATCH, chapter.LR, 0.5


def setup(quick: bool):
    steps, seeds, sizes = (64, 2, [8, 4096]) if quick else (chapter.STEPS, 6, chapter.N_TRAINS)
    real = chapter.target(n_train=chapter.N_POOL, n_test=10, key=jax.random.key(0)).x_train
    return real, steps, seeds, sizes


def covered(samples: np.ndarray) -> np.ndarray:
    """Modes covered at the end, mean over seeds: samples (seed, size, n, 2) → (size,)."""
    return chapter.mode_stats(samples.astype(np.float32)).covered.mean(0)


def run_engine(real, steps, seeds, sizes):
    cfg = dataclasses.replace(chapter.config(steps=steps), n_logs=1)
    assert (cfg.batch_size, cfg.lr, cfg.b1, cfg.generator.hidden) == (BATCH, LR, B1, (WIDTH,) * 2)

    def grid():
        return gan.sweep(cfg, real, key=jax.random.key(1), seeds=seeds, n_train=sizes,
                         progress=False)  # fmt: skip

    first = grid()  # compiles, then runs
    result = grid()  # the same programs, warm
    samples = result.history["samples"][:, 0, 0, 0, :, -1]  # (size, seed, n, 2)
    return first.seconds - result.seconds, result.seconds, covered(np.swapaxes(samples, 0, 1))


def torch_nets(runs: int):
    """Stacked Glorot-normal weights for ``runs`` generators and discriminators."""
    import torch

    def mlp(sizes):
        layers = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            w = torch.randn(runs, fan_in, fan_out) * math.sqrt(2.0 / (fan_in + fan_out))
            layers.append((w.requires_grad_(), torch.zeros(runs, 1, fan_out).requires_grad_()))
        return layers

    return mlp((LATENT, WIDTH, WIDTH, 2)), mlp((2, WIDTH, WIDTH, 1))


def adam(layers):
    import torch

    params = [p for layer in layers for p in layer]
    try:
        return torch.optim.Adam(params, lr=LR, betas=(B1, 0.999), fused=True)
    except (RuntimeError, TypeError):  # a build without the fused CPU kernel
        return torch.optim.Adam(params, lr=LR, betas=(B1, 0.999))


def stacked(layers, h):  # (runs, batch, in) → (runs, batch, out)
    import torch

    for i, (w, b) in enumerate(layers):
        h = torch.baddbmm(b, h, w)
        if i < len(layers) - 1:
            h = torch.relu(h)
    return h


def run_torch_batched(real, steps, seeds, sizes, warmup: int = 20):
    import torch
    import torch.nn.functional as tf

    torch.manual_seed(0)
    x = torch.from_numpy(np.array(real))  # a writable copy
    runs = seeds * len(sizes)
    n = torch.tensor([s for _ in range(seeds) for s in sizes], dtype=torch.float32)  # (runs,)

    def train(g, d, g_opt, d_opt, n_steps):
        for _ in range(n_steps):
            idx = (torch.rand(runs, BATCH) * n[:, None]).long()  # (runs, batch), each < its n
            fake = stacked(g, torch.randn(runs, BATCH, LATENT)).detach()
            d_loss = (
                tf.softplus(-stacked(d, x[idx])).mean((1, 2)).sum()
                + tf.softplus(stacked(d, fake)).mean((1, 2)).sum()
            )  # the sum over runs of each run's loss
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
            g_loss = tf.softplus(-stacked(d, stacked(g, torch.randn(runs, BATCH, LATENT))))
            g_opt.zero_grad()
            g_loss.mean((1, 2)).sum().backward()
            g_opt.step()

    g, d = torch_nets(runs)
    train(g, d, adam(g), adam(d), warmup)  # warm-up: allocator and kernels
    g, d = torch_nets(runs)
    g_opt, d_opt = adam(g), adam(d)
    start = time.perf_counter()
    train(g, d, g_opt, d_opt, steps)
    with torch.no_grad():
        samples = stacked(g, torch.randn(runs, chapter.N_SAMPLES, LATENT)).numpy()
    seconds = time.perf_counter() - start
    return seconds, covered(samples.reshape(seeds, len(sizes), chapter.N_SAMPLES, 2))


def run_torch_eager(real, steps, seeds, sizes):
    import torch
    import torch.nn.functional as tf

    def net(n_in, n_out):
        return torch.nn.Sequential(
            torch.nn.Linear(n_in, WIDTH), torch.nn.ReLU(),
            torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU(),
            torch.nn.Linear(WIDTH, n_out),
        )  # fmt: skip

    x = torch.from_numpy(np.array(real))  # a writable copy
    samples = np.zeros((seeds, len(sizes), chapter.N_SAMPLES, 2), np.float32)
    start = time.perf_counter()
    for s in range(seeds):
        for j, size in enumerate(sizes):
            torch.manual_seed(s * 1000 + j)
            g, d = net(LATENT, 2), net(2, 1)
            g_opt = torch.optim.Adam(g.parameters(), lr=LR, betas=(B1, 0.999))
            d_opt = torch.optim.Adam(d.parameters(), lr=LR, betas=(B1, 0.999))
            for _ in range(steps):
                real_batch = x[torch.randint(0, size, (BATCH,))]
                fake = g(torch.randn(BATCH, LATENT)).detach()
                d_loss = tf.softplus(-d(real_batch)).mean() + tf.softplus(d(fake)).mean()
                d_opt.zero_grad()
                d_loss.backward()
                d_opt.step()
                g_opt.zero_grad()
                tf.softplus(-d(g(torch.randn(BATCH, LATENT)))).mean().backward()
                g_opt.step()
            with torch.no_grad():
                samples[s, j] = g(torch.randn(chapter.N_SAMPLES, LATENT)).numpy()
    return time.perf_counter() - start, covered(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny grid (smoke test)")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    real, steps, seeds, sizes = setup(args.quick)
    print(f"devices: {jax.devices()}")
    print(f"grid: {len(sizes)} sizes {sizes} x {seeds} seeds = {seeds * len(sizes)} GANs, "
          f"{steps} step pairs, batch {BATCH}, width {WIDTH}")  # fmt: skip
    compile_s, engine_s, cov_engine = run_engine(real, steps, seeds, sizes)
    rows = [("engine (scan + vmap + mesh)", engine_s, cov_engine)]
    if not args.skip_torch:
        try:
            import torch

            torch.set_num_threads(2)
            rows.append(("PyTorch batched (bmm)", *run_torch_batched(real, steps, seeds, sizes)))
            rows.append(("PyTorch eager loop", *run_torch_eager(real, steps, seeds, sizes)))
        except ImportError:
            print("PyTorch is not installed (`make bench` installs the bench extra); skipped")
    print(f"\nengine compile {compile_s:.2f} s (not in its wall time)")
    print(f"{'implementation':<30}{'wall s':>9}{'x engine':>10}   modes covered (of 8) per size")
    for name, secs, cov in rows:
        print(f"{name:<30}{secs:9.2f}{secs / engine_s:10.1f}   "
              + " ".join(f"{c:.1f}" for c in cov))  # fmt: skip
    print(json.dumps({
        "engine_s": round(engine_s, 3), "compile_s": round(compile_s, 3),
        **{name: round(secs / engine_s, 2) for name, secs, _ in rows[1:]},
        "covered": {name: [round(float(c), 2) for c in cov] for name, _, cov in rows},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
