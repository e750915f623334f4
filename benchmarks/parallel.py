"""Benchmark: one model trained data-parallel — the engine against PyTorch, same machine, same run.

Chapter 11 splits each mini-batch of one training run over two devices.  Here the same
networks (two hidden layers of ``width``, Adam, batches of ``batch`` MNIST-1D signals) train
for ``steps`` steps four ways, and each reports milliseconds per step:

* the engine on one device (``make_train``), the engine data-parallel over two host
  devices (``make_data_parallel``: ``shard_map``, gradients averaged by ``pmean``);
* PyTorch in one process (2 threads, as the engine's process has two cores), and PyTorch's
  ``DistributedDataParallel`` over two processes with the gloo backend (one thread each,
  each process training on half of every batch) — the peer a practitioner would pick for
  data parallelism on CPUs.

Ratios are printed against the engine's one-device time.  Ends with one JSON line.
``--quick`` runs one small setting (the smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

GRID = [(128, 100), (128, 2000), (1024, 100), (1024, 1000)]  # (width, batch)

DDP_CHILD = r"""
import os, sys, time, json
import numpy as np
import torch, torch.distributed as dist
rank, world, port, width, batch, steps = map(int, sys.argv[1:7])
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
x = torch.tensor(np.load(sys.argv[7]))
y = torch.tensor(np.load(sys.argv[8]), dtype=torch.long)
torch.manual_seed(0)
layers = [torch.nn.Linear(40, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
          torch.nn.ReLU(), torch.nn.Linear(width, 10)]
net = torch.nn.Sequential(*layers)
model = torch.nn.parallel.DistributedDataParallel(net)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
loss_fn = torch.nn.CrossEntropyLoss()
gen = torch.Generator().manual_seed(1)
def run(n):
    for _ in range(n):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)[rank::world]  # this rank's half
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()  # DDP all-reduces the gradients here
        opt.step()
run(5)
dist.barrier()
start = time.perf_counter()
run(steps)
dist.barrier()
if rank == 0:
    print(json.dumps({"s": time.perf_counter() - start}))
dist.destroy_process_group()
"""


def engine_ms(grid: list[tuple[int, int]], steps: int) -> list[dict]:
    """Engine ms/step on one device and data-parallel on two: chapter 11's own measurement
    (``step_times``), measured afresh rather than read back from disk."""
    import jax

    import course  # noqa: F401  (one host device per core)
    from course.chapters.doing_more_with_less import step_times

    return step_times.__wrapped__(key=jax.random.key(0), grid=tuple(grid), steps=steps, repeat=3)


def torch_ms(width: int, batch: int, steps: int) -> float:
    """PyTorch ms/step in this process (2 threads)."""
    import torch

    from course.engine import data

    torch.set_num_threads(2)
    d = data.mnist1d()
    x = torch.tensor(np.asarray(d.x_train))
    y = torch.tensor(np.asarray(d.y_train), dtype=torch.long)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(40, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(n: int) -> None:
        for _ in range(n):
            idx = torch.randint(0, x.shape[0], (batch,))
            opt.zero_grad()
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()

    run(5)
    start = time.perf_counter()
    run(steps)
    return 1e3 * (time.perf_counter() - start) / steps


def ddp_ms(width: int, batch: int, steps: int, tmp: str) -> float:
    """PyTorch DDP ms/step over two gloo processes (one thread each)."""
    from course.engine import data

    d = data.mnist1d()
    xs, ys = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xs, np.asarray(d.x_train, np.float32))
    np.save(ys, np.asarray(d.y_train, np.int64))
    from course.engine.distributed import free_port

    args = [str(a) for a in (2, free_port(), width, batch, steps)]
    command = [sys.executable, "-c", DDP_CHILD]
    procs = [
        subprocess.Popen([*command, str(r), *args, xs, ys], stdout=subprocess.PIPE, text=True)
        for r in range(2)
    ]
    out = [p.communicate(timeout=600)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"DDP processes failed: {[p.returncode for p in procs]}")
    return 1e3 * json.loads(out[0].strip().splitlines()[-1])["s"] / steps


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small setting (smoke test)")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    grid, steps = ([(64, 100)], 20) if args.quick else (GRID, 200)
    rows = []
    engine = engine_ms(grid, steps)
    with tempfile.TemporaryDirectory() as tmp:
        for (width, batch), times in zip(grid, engine, strict=True):
            row = {"width": width, "batch": batch, "engine_1": times["one_ms"],
                   "engine_2": times["many_ms"]}  # fmt: skip
            if not args.skip_torch:
                try:
                    row["torch_1"] = torch_ms(width, batch, steps)
                    row["torch_ddp_2"] = ddp_ms(width, batch, steps, tmp)
                except ImportError:
                    print("PyTorch is not installed (`make bench` installs the bench extra)")
            rows.append(row)
    print(f"ms per training step, {steps} steps (ratio to the engine on one device)")
    names = [
        ("engine_1", "engine, 1 device"),
        ("engine_2", "engine, 2 devices"),
        ("torch_1", "PyTorch, 1 process"),
        ("torch_ddp_2", "PyTorch DDP, 2 processes"),
    ]
    print(f"{'width':>6}{'batch':>7}" + "".join(f"{label:>28}" for _, label in names))
    for row in rows:
        cells = [
            f"{row[k]:8.2f} ({row[k] / row['engine_1']:4.2f}x)" if k in row else "skipped"
            for k, _ in names
        ]
        print(f"{row['width']:>6}{row['batch']:>7}" + "".join(f"{c:>28}" for c in cells))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
