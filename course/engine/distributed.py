r"""One sweep, several processes: ``python -m course.engine.distributed``.

Each process calls :func:`initialize` and then the same sweep.  ``jax.devices()`` then
lists every process's devices, so the sweep's mesh (:func:`course.engine.sweep.mesh_of`)
spans them all: each process places and computes only its own shard of the runs, and the
results are gathered into every process at the end (:func:`course.engine.sweep.to_host`).

On this machine the processes are two CPU processes talking over a loopback port::

    python -m course.engine.distributed --coordinator 127.0.0.1:12345 --processes 2 \
        --process-id 0 --out result.npz &
    python -m course.engine.distributed --coordinator 127.0.0.1:12345 --processes 2 \
        --process-id 1 --out result.npz

:func:`launch` starts such a run on this machine (one CPU device per process) and returns
what process 0 saved.  On several GPU hosts the same command runs once per host, with the
coordinator's address reachable from all of them (with ``--no-cpu-collectives``: gloo is
for CPUs, GPUs bring NCCL).
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_TARGET = "course.chapters.doing_more_with_less:distributed_grid"


def initialize(coordinator: str, processes: int, process_id: int, *, cpu: bool = True) -> None:
    """Join ``processes`` processes through the coordinator at ``host:port``."""
    import jax

    if cpu:  # collectives between CPU processes (GPUs bring their own, NCCL)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=processes, process_id=process_id
    )


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on (for a coordinator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    target: str = DEFAULT_TARGET, *, processes: int = 2, seed: int = 0, timeout: float = 120.0
) -> dict:
    """Run ``target`` as ``processes`` processes of this module on this machine; read the result.

    Each process gets one CPU device (``COURSE_HOST_DEVICES=1``) and the coordinator a free
    loopback port.  The processes log to files, not pipes (a chatty one never blocks), and
    none is left running after a timeout or an error.

    Returns:
        What process 0 saved: ``test_acc``, ``devices``, ``local_devices``, ``processes``.

    Raises:
        RuntimeError: a process failed (with the end of its log).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.npz"
        env = {**os.environ, "COURSE_HOST_DEVICES": "1", "COURSE_PROGRESS": "0"}
        env.pop("XLA_FLAGS", None)
        cmd = [sys.executable, "-m", __name__, "--target", target, "--coordinator",
               f"127.0.0.1:{free_port()}", "--processes", str(processes), "--seed", str(seed),
               "--out", str(out)]  # fmt: skip
        logs = [Path(tmp) / f"process-{i}.log" for i in range(processes)]
        procs = []
        try:
            for i, log in enumerate(logs):
                with log.open("w") as f:
                    procs.append(subprocess.Popen([*cmd, "--process-id", str(i)], env=env,
                                                  stdout=f, stderr=subprocess.STDOUT))  # fmt: skip
            for p in procs:
                p.wait(timeout=timeout)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        failed = [(i, p.returncode, log.read_text()[-2000:])
                  for i, (p, log) in enumerate(zip(procs, logs, strict=True))
                  if p.returncode]  # fmt: skip
        if failed:
            raise RuntimeError(f"{processes}-process run of {target} failed: {failed}")
        with np.load(out) as f:
            return {k: f[k] for k in f.files}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the target sweep in this process as one of ``--processes``; process 0 saves it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=DEFAULT_TARGET, help="module:function(key) -> sweep")
    parser.add_argument("--coordinator", required=True, help="host:port of process 0")
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help=".npz file process 0 writes")
    parser.add_argument("--no-cpu-collectives", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("COURSE_PROGRESS", "0")
    initialize(args.coordinator, args.processes, args.process_id, cpu=not args.no_cpu_collectives)
    import jax

    module, name = args.target.split(":")
    result = getattr(importlib.import_module(module), name)(jax.random.key(args.seed))
    if jax.process_index() == 0:
        np.savez(
            args.out,
            test_acc=result.final("test_acc"),
            devices=len(jax.devices()),
            local_devices=len(jax.local_devices()),
            processes=jax.process_count(),
        )
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
