"""Argument checks shared by every public function of the course.

Each check raises a ``TypeError`` (wrong kind of value) or ``ValueError`` (right
kind, outside the allowed range) whose message names the argument, the value
received and what is allowed, so a student never meets a raw XLA shape error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import jax
import numpy as np


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def as_number(value: Any, kinds: str = "biuf") -> Any:
    """A concrete 0-d NumPy/JAX array of a dtype kind in ``kinds`` as a Python number.

    Lets ``lr=jnp.float32(0.01)`` or ``n_train=jnp.int32(500)`` through the checks, and
    keeps configs hashable; anything else (traced values, other dtype kinds, arrays with
    axes) is returned unchanged.
    """
    if (
        isinstance(value, np.ndarray | jax.Array)
        and not isinstance(value, jax.core.Tracer)
        and value.shape == ()
        and np.dtype(value.dtype).kind in kinds
    ):
        return np.asarray(value).item()
    return value


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int after checking ``lo <= value <= hi``.

    Args:
        name: the argument's name, used in the error message.
        value: the value received.
        lo: smallest allowed value (inclusive), or None for no bound.
        hi: largest allowed value (inclusive), or None for no bound.

    Raises:
        TypeError: ``value`` is not an integer (bools are refused too).
        ValueError: ``value`` is outside ``[lo, hi]``.
    """
    value = as_number(value, "iu")
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be in {_range(lo, hi)}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite float after checking it lies in the interval.

    Args:
        name: the argument's name, used in the error message.
        value: the value received.
        lo: lower bound or None.
        hi: upper bound or None.
        lo_open: exclude ``lo`` itself.
        hi_open: exclude ``hi`` itself.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is not finite or lies outside the interval.
    """
    value = as_number(value, "iuf")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    interval = _range(lo, hi, lo_open=lo_open, hi_open=hi_open)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite and in {interval}, got {value}")
    too_low = lo is not None and (value <= lo if lo_open else value < lo)
    too_high = hi is not None and (value >= hi if hi_open else value > hi)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` when it is one of ``choices``; otherwise list the valid ones.

    Raises:
        TypeError: ``value`` is not a string.
        ValueError: ``value`` is not among ``choices``.
    """
    choices = list(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}; got {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")
    return value


def check_key(name: str, key: Any) -> jax.Array:
    """Return ``key`` when it is a single JAX PRNG key (new-style or raw uint32[2]).

    Raises:
        TypeError: ``key`` is not a PRNG key.
    """
    if isinstance(key, jax.Array):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return key
    raise TypeError(
        f"{name} must be a single jax.random key (e.g. jax.random.key(0)), got {_describe(key)}"
    )


def check_int_list(
    name: str, values: Any, lo: int | None = None, hi: int | None = None
) -> list[int]:
    """Return a non-empty list of ints, each within ``[lo, hi]``.

    Raises:
        TypeError: ``values`` is not a sequence of integers.
        ValueError: it is empty or an entry is out of range.
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of integers, got {_describe(values)}")
    values = list(np.asarray(values).tolist()) if isinstance(values, np.ndarray) else list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    return [check_int(f"{name}[{i}]", v, lo, hi) for i, v in enumerate(values)]


def check_float_list(
    name: str, values: Any, lo: float | None = None, hi: float | None = None, **kw: bool
) -> list[float]:
    """Return a non-empty list of finite floats, each within the interval (see check_float)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of numbers, got {_describe(values)}")
    values = list(np.asarray(values).tolist()) if isinstance(values, np.ndarray) else list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    return [check_float(f"{name}[{i}]", v, lo, hi, **kw) for i, v in enumerate(values)]


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    kind: str | None = None,
) -> np.ndarray | jax.Array:
    """Check an array's number of dimensions and dtype kind ('f' float, 'i' integer).

    Raises:
        TypeError: not an array, or the wrong dtype kind.
        ValueError: the wrong number of dimensions.
    """
    if not isinstance(value, np.ndarray | jax.Array):
        raise TypeError(f"{name} must be an array, got {_describe(value)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if value.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                f"got shape {tuple(value.shape)}"
            )
    if kind is not None:
        actual = np.dtype(value.dtype).kind
        ok = actual in ("i", "u") if kind == "i" else actual == kind
        if not ok:
            wanted = {"f": "floating-point", "i": "integer"}[kind]
            raise TypeError(f"{name} must have a {wanted} dtype, got {value.dtype}")
    return value


def _range(lo: Any, hi: Any, *, lo_open: bool = False, hi_open: bool = False) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return f"{value!r} ({type(value).__name__})"
