"""Convolution and pooling from scratch: windows cut out once, then one matmul or one max.

What deep-learning "convolution" layers compute is **cross-correlation** — the kernel is not
flipped::

    out[b, i, d]    = sum_k sum_c x[b, i*s + k, c] * w[k, c, d]                (1-D)
    out[b, i, j, d] = sum_{p,q,c} x[b, i*s + p, j*s + q, c] * w[p, q, c, d]    (2-D)

and pooling takes the max (or the mean) over the window that *starts at the output's own
position* times the stride::

    out[b, i, j, c] = max_{p,q < size} x[b, i*s + p, j*s + q, c]

Every window is cut out once (``windows``: one strided slice per window offset, stacked), so
a convolution is a single ``einsum`` — a matmul XLA runs fast on a CPU even for the tiny
shapes of this course, where its own convolution is slow — and it vmaps over a sweep's runs
like any matmul.  Slices rather than an index gather: a slice's gradient is a pad, a
gather's is a scatter-add, and on XLA's CPU backend that made chapter 07's CNN grid train
1.7 times slower.

Padding follows ``lax.conv_general_dilated``: ``"valid"`` (no padding; the output has
``(n - k) // s + 1`` positions) or ``"same"`` (``ceil(n / s)`` positions; zeros split as
evenly as possible, the odd one at the end).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from course.engine.checks import check_choice, check_int

PADDINGS = ("valid", "same")
POOLS = ("max", "avg")


def padding_amounts(n: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros added before and after an axis of length ``n`` (as ``lax`` pads ``SAME``)."""
    if padding == "valid":
        return 0, 0
    total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def out_length(n: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Positions along an axis of length ``n`` after a window of ``kernel`` at ``stride``."""
    lo, hi = padding_amounts(n, kernel, stride, padding)
    return (n + lo + hi - kernel) // stride + 1


def _check(x: Any, window: tuple[int, ...], stride: int, padding: str) -> None:
    check_int("stride", stride, 1)
    check_choice("padding", padding, PADDINGS)
    spatial = tuple(x.shape[1 : 1 + len(window)])
    if x.ndim != len(window) + 2:
        axes = "length" if len(window) == 1 else "height, width"
        raise ValueError(f"x must be (batch, {axes}, channels), got shape {tuple(x.shape)}")
    for axis, (n, k) in enumerate(zip(spatial, window, strict=True)):
        if padding == "valid" and k > n:
            raise ValueError(
                f"the window ({k}) is larger than the input along axis {axis + 1} ({n}) "
                "with padding='valid'; use a smaller kernel or padding='same'"
            )


def windows(
    x: jax.Array, window: tuple[int, ...], stride: int = 1, padding: str = "valid"
) -> jax.Array:
    """Every window of ``x``: (batch, *out, *window, c) from (batch, *spatial, c).

    Args:
        x: (batch, length, c) or (batch, height, width, c).
        window: the window's size along each spatial axis.
        stride: step between windows (every axis).
        padding: ``"valid"`` or ``"same"`` (zeros).
    """
    _check(x, window, stride, padding)
    spatial = x.shape[1 : 1 + len(window)]
    pads = [padding_amounts(n, k, stride, padding) for n, k in zip(spatial, window, strict=True)]
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    for axis, k in enumerate(window, start=1):
        x = _window_axis(x, axis, k, stride)
    # the window axes were appended after the channels: move them before
    d = len(window)
    order = (0, *range(1, 1 + d), *range(2 + d, 2 + 2 * d), 1 + d)
    return x.transpose(order)


def _window_axis(x: jax.Array, axis: int, k: int, stride: int) -> jax.Array:
    """Windows of ``k`` along ``axis``: strided slices, stacked on a new last axis.

    One strided slice per window offset: their gradients are pads, which XLA's CPU backend
    does far faster than the scatter-add an index gather's gradient needs.
    """
    n_out = (x.shape[axis] - k) // stride + 1
    slices = []
    for offset in range(k):
        start = [0] * x.ndim
        limit = list(x.shape)
        strides = [1] * x.ndim
        start[axis], limit[axis], strides[axis] = offset, offset + (n_out - 1) * stride + 1, stride
        slices.append(jax.lax.slice(x, start, limit, strides))
    return jnp.stack(slices, axis=-1)


def conv1d(x: jax.Array, w: jax.Array, stride: int = 1, padding: str = "valid") -> jax.Array:
    """1-D cross-correlation of (batch, length, c_in) with a (k, c_in, c_out) kernel.

    Returns:
        (batch, out_length(length, k, stride, padding), c_out).
    """
    patches = windows(x, w.shape[:1], stride, padding)  # (batch, L', k, c_in)
    return jnp.einsum("blkc,kcd->bld", patches, w)


def conv2d(x: jax.Array, w: jax.Array, stride: int = 1, padding: str = "valid") -> jax.Array:
    """2-D cross-correlation of (batch, H, W, c_in) with a (kh, kw, c_in, c_out) kernel.

    Returns:
        (batch, H', W', c_out), each spatial size as ``out_length`` gives it.
    """
    patches = windows(x, w.shape[:2], stride, padding)  # (batch, H', W', kh, kw, c_in)
    return jnp.einsum("bijpqc,pqcd->bijd", patches, w)


def _pool(x: jax.Array, d: int, size: int, stride: int | None, kind: str) -> jax.Array:
    check_int("size", size, 1)
    check_choice("kind", kind, POOLS)
    patches = windows(x, (size,) * d, size if stride is None else stride)
    axes = tuple(range(1 + d, 1 + 2 * d))  # the window axes
    return patches.max(axis=axes) if kind == "max" else patches.mean(axis=axes)


def pool1d(x: jax.Array, size: int = 2, stride: int | None = None, kind: str = "max") -> jax.Array:
    """Max or average pooling of (batch, length, c); ``stride`` defaults to ``size``."""
    return _pool(x, 1, size, stride, kind)


def pool2d(x: jax.Array, size: int = 2, stride: int | None = None, kind: str = "max") -> jax.Array:
    """Max or average pooling of (batch, H, W, c): size × size windows from (i·s, j·s)."""
    return _pool(x, 2, size, stride, kind)
