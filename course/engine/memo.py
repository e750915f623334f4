"""Slow studies remembered on disk, under a fingerprint of everything that made them.

A chapter's study (hundreds of training runs) is a pure function of its arguments and of
the course's code: the same keys, sizes and source give the same arrays, bit for bit.
:func:`on_disk` keeps the result of such a function in
``$COURSE_RESULTS_DIR`` (default: ``results/`` in :func:`course.engine.data.cache_dir`)
under a name that fingerprints

* the function (module and qualified name) and every argument's *value* (arrays and
  PRNG keys by their bytes, dataclasses field by field),
* the current values of its module's upper-case constants (so ``chapter.WIDTHS = [...]``
  typed in a notebook computes afresh, and is not answered from the file),
* the source of every ``.py`` file in the ``course`` package, and
* the versions of JAX, jaxlib and NumPy, the JAX backend, its device count, and the
  flags that change numerics (``JAX_ENABLE_X64``, ``XLA_FLAGS``).

So a chapter opened a second time, or the unit test that checks the claim a notebook just
made, reads the result instead of training again, and any change to the code, the
arguments or the platform computes afresh.  ``COURSE_RESULTS_CACHE=0`` turns it off.

Files live in one folder per code fingerprint; the first result kept under new code
removes the other folders, so results of an older course do not pile up on disk.

An argument the fingerprint cannot read (a function, an open file) means the call is
simply computed, never guessed at.  A result that cannot be pickled is returned and not
kept.  A file that cannot be read back (truncated, written by another class layout) is
computed again and replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np

from course.engine import data

F = TypeVar("F", bound=Callable[..., Any])

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # course/


class FingerprintError(TypeError):
    """An argument whose value the fingerprint cannot read."""


def enabled() -> bool:
    """Whether results are kept (``COURSE_RESULTS_CACHE`` is not ``0``)."""
    return os.environ.get("COURSE_RESULTS_CACHE", "1") != "0"


def results_dir() -> Path:
    """``$COURSE_RESULTS_DIR``, else ``results/`` in the course's data cache."""
    root = os.environ.get("COURSE_RESULTS_DIR")
    return Path(root) if root else data.cache_dir() / "results"


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of the course's source and of the platform that runs it (once per process)."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
        h.update(path.read_bytes())
    import jaxlib

    platform = (
        jax.__version__,
        jaxlib.__version__,
        np.__version__,
        jax.default_backend(),
        jax.device_count(),
        os.environ.get("JAX_ENABLE_X64", ""),
        os.environ.get("XLA_FLAGS", ""),
        bool(jax.config.jax_enable_x64),
    )
    h.update(repr(platform).encode())
    return h.hexdigest()


def _parts(value: Any) -> Iterator[bytes]:
    """A value as a stream of bytes that differs whenever the value does."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        yield f"{type(value).__name__}:{value!r};".encode()
    elif isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        yield f"key:{jax.random.key_impl(value)}:".encode()
        yield from _parts(np.asarray(jax.random.key_data(value)))
    elif isinstance(value, np.ndarray | np.generic | jax.Array):
        array = np.asarray(value)
        if array.dtype == object:
            raise FingerprintError(f"an object array of shape {array.shape}")
        yield f"array:{array.dtype.str}:{array.shape}:".encode()
        yield hashlib.sha256(np.ascontiguousarray(array).tobytes()).digest()
    elif isinstance(value, list | tuple):
        yield f"{type(value).__name__}[{len(value)}]:".encode()
        for item in value:
            yield from _parts(item)
    elif isinstance(value, dict):
        yield f"dict[{len(value)}]:".encode()
        for k in sorted(value, key=repr):
            yield from _parts(k)
            yield from _parts(value[k])
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        yield f"{cls.__module__}.{cls.__qualname__}:".encode()
        for field in dataclasses.fields(value):
            yield field.name.encode()
            yield from _parts(getattr(value, field.name))
    else:
        raise FingerprintError(f"a value of type {type(value).__name__}")


def fingerprint(fn: Callable[..., Any], arguments: dict[str, Any]) -> str:
    """The file-name-safe fingerprint of ``fn(**arguments)`` under the current code.

    Raises:
        FingerprintError: when an argument's value cannot be read.
    """
    h = hashlib.sha256(code_fingerprint().encode())
    h.update(f"{fn.__module__}.{fn.__qualname__}".encode())
    module = inspect.getmodule(fn)
    for name, value in sorted(vars(module).items() if module else ()):
        if name.isupper():
            try:
                parts = list(_parts(value))
            except FingerprintError:  # a constant that is a function or a class
                continue
            h.update(name.encode())
            for part in parts:
                h.update(part)
    for name in sorted(arguments):
        h.update(name.encode())
        for part in _parts(arguments[name]):
            h.update(part)
    return h.hexdigest()[:32]


def on_disk(fn: F | None = None, *, ignore: tuple[str, ...] = ()) -> F | Callable[[F], F]:
    """Keep ``fn``'s results on disk, keyed by its arguments and the course's code.

    Use it on pure, slow functions whose result is data (arrays, dataclasses of arrays),
    never on what returns a widget or depends on the clock.

    Args:
        fn: the function (when used as ``@on_disk``).
        ignore: argument names that do not change the result (``progress``).

    Returns:
        The wrapped function; ``wrapped.uncached`` is the original.
    """
    if fn is None:
        return functools.partial(on_disk, ignore=ignore)
    signature = inspect.signature(fn)
    for name in ignore:
        if name not in signature.parameters:
            raise ValueError(f"ignore: {fn.__qualname__} has no argument {name!r}")

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not enabled():
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {k: v for k, v in bound.arguments.items() if k not in ignore}
        try:
            name = fingerprint(fn, arguments)
        except FingerprintError:
            return fn(*args, **kwargs)
        folder = results_dir() / code_fingerprint()[:16]
        path = folder / f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}-{name}.pkl"
        found = _load(path)
        if found is not None:
            return found[0]
        result = fn(*args, **kwargs)
        _store(path, result)
        return result

    wrapped.uncached = fn  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def _load(path: Path) -> tuple[Any] | None:
    """``(result,)`` from ``path``, or None when it is missing or unreadable."""
    try:
        with path.open("rb") as f:
            return (pickle.load(f),)
    except OSError:  # missing, or a directory that cannot exist: nothing kept
        return None
    except Exception:  # truncated, or written by another layout of the classes
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None


def _store(path: Path, result: Any) -> None:
    """Write ``result`` atomically (a reader never sees half a file); skip the unpicklable.

    The first file in a new code folder removes the folders of other code versions.
    """
    try:
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a result holding a function or a widget: computed each time
        return
    if not path.parent.exists():
        for stale in path.parent.parent.glob("*"):
            # another version's code folder (never this one: a parallel kernel may have
            # just made it), not a file or folder of the user's
            if stale.is_dir() and len(stale.name) == 16 and stale != path.parent:
                shutil.rmtree(stale, ignore_errors=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except OSError:  # a full or read-only disk, or a folder another version just removed
        return
