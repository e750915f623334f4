"""Where and how the numerics run: host devices, compile counting, timing.

On a CPU-only machine XLA exposes one device that a vmapped sweep keeps on one
core.  Importing :mod:`course` therefore asks XLA for one host device per core
(``--xla_force_host_platform_device_count``) unless ``XLA_FLAGS`` already says
how many, or ``COURSE_HOST_DEVICES`` sets the number (``1`` keeps XLA's default).
:mod:`course.engine.sweep` shards its runs over a mesh of all devices, so the same code
uses every core here and every accelerator on a machine that has them.

Compiled programs are also kept on disk (JAX's persistent compilation cache, in
``$COURSE_CACHE_DIR/jax``), so a chapter opened a second time warms up in a
fraction of the time.  ``COURSE_JAX_CACHE=0`` turns that off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

FLAG = "--xla_force_host_platform_device_count"


def configure_host_devices(environ: dict[str, str] | None = None) -> int | None:
    """Add the host-device flag to ``XLA_FLAGS`` before JAX starts its CPU backend.

    Returns the number of devices requested, or None when nothing was changed.
    Has no effect once JAX's backend is running (it reads ``XLA_FLAGS`` once).
    """
    env = os.environ if environ is None else environ
    flags = env.get("XLA_FLAGS", "")
    if FLAG in flags:
        return None
    wanted = env.get("COURSE_HOST_DEVICES")
    n = int(wanted) if wanted else (os.cpu_count() or 1)
    if n <= 1:
        return None
    env["XLA_FLAGS"] = f"{flags} {FLAG}={n}".strip()
    return n


def configure_compilation_cache(environ: dict[str, str] | None = None) -> str | None:
    """Point JAX's persistent compilation cache at the course's cache directory.

    Returns the directory, or None when ``COURSE_JAX_CACHE=0`` or the user already
    chose one (``JAX_COMPILATION_CACHE_DIR``).
    """
    env = os.environ if environ is None else environ
    if env.get("COURSE_JAX_CACHE", "1") == "0" or env.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    root = env.get("COURSE_CACHE_DIR") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dl-at-scale"
    )
    path = os.path.join(root, "jax")
    settings = {
        "jax_compilation_cache_dir": path,
        "jax_persistent_cache_min_compile_time_secs": 0.5,
    }
    if "jax" in sys.modules:  # JAX already read its environment: set the options directly
        import jax

        for name, value in settings.items():
            jax.config.update(name, value)
    else:
        for name, value in settings.items():
            env[name.upper()] = str(value)
    return path


class CompileCounter:
    """Counts XLA backend compilations while active (a context manager).

    >>> with CompileCounter() as c:
    ...     f(x)
    >>> c.count
    """

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._active = False

    def _listener(self, event: str, duration: float, **_: Any) -> None:
        if self._active and event == self.EVENT:
            self.count += 1
            self.seconds += duration

    def __enter__(self) -> CompileCounter:
        import jax

        self._active = True
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc: object) -> None:
        import jax

        self._active = False
        jax.monitoring.unregister_event_duration_listener(self._listener)


def block(tree: Any) -> Any:
    """Wait until every array in ``tree`` is computed, then return it."""
    import jax

    return jax.block_until_ready(tree)


@contextlib.contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Measure the wall time of a ``with`` block; the yielded dict's ``"s"`` holds it."""
    box = {"s": 0.0}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


def timeit(fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> list[float]:
    """Wall times (s) of ``repeat`` calls of ``fn`` after ``warmup`` calls, results blocked."""
    for _ in range(warmup):
        block(fn())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        block(fn())
        times.append(time.perf_counter() - start)
    return times
