"""Convolution and pooling from scratch against NumPy loops and XLA's own operations.

The references: plain float64 NumPy loops written from the formulas (cross-correlation, no
kernel flip; the pooling window starts at i·s), and ``lax.conv_general_dilated`` /
``lax.reduce_window`` with the same strides and padding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import conv

RNG = np.random.default_rng(0)
TOL = {"rtol": 1e-5, "atol": 1e-5}  # float32 sums of ≤ 27 products of N(0, 1) numbers


def np_pad(x, kernel, stride, padding):
    """Zero padding as the lax 'SAME' rule, written out for the NumPy references."""
    pads = [(0, 0)]
    for n, k in zip(x.shape[1:-1], kernel, strict=True):
        out = -(-n // stride) if padding == "same" else (n - k) // stride + 1
        total = max((out - 1) * stride + k - n, 0) if padding == "same" else 0
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [*pads, (0, 0)])


def np_conv1d(x, w, stride, padding="valid"):
    x = np_pad(x, w.shape[:1], stride, padding)
    k = w.shape[0]
    n = (x.shape[1] - k) // stride + 1
    out = np.zeros((x.shape[0], n, w.shape[2]))
    for i in range(n):
        for kk in range(k):  # out[b, i, d] = Σ_k Σ_c x[b, i·s + k, c] · w[k, c, d]
            out[:, i, :] += x[:, i * stride + kk, :] @ w[kk]
    return out


def np_conv2d(x, w, stride, padding="valid"):
    x = np_pad(x, w.shape[:2], stride, padding)
    kh, kw = w.shape[:2]
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            for p in range(kh):
                for q in range(kw):
                    out[:, i, j, :] += x[:, i * stride + p, j * stride + q, :] @ w[p, q]
    return out


def np_pool2d(x, size, stride, kind):
    oh, ow = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    reduce = np.max if kind == "max" else np.mean
    for i in range(oh):
        for j in range(ow):
            window = x[:, i * stride : i * stride + size, j * stride : j * stride + size, :]
            out[:, i, j, :] = reduce(window, axis=(1, 2))
    return out


def lax_conv(x, w, stride, padding):
    spec = ("NWC", "WIO", "NWC") if x.ndim == 3 else ("NHWC", "HWIO", "NHWC")
    strides = (stride,) * (x.ndim - 2)
    return jax.lax.conv_general_dilated(
        x, w, strides, padding.upper(), dimension_numbers=spec, precision="highest"
    )


@pytest.mark.parametrize("padding", conv.PADDINGS)
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv1d_is_the_cross_correlation_numpy_and_lax_compute(stride, padding):
    x = RNG.normal(size=(3, 17, 2))
    w = RNG.normal(size=(5, 2, 4))
    ours = conv.conv1d(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), stride, padding)
    np.testing.assert_allclose(ours, np_conv1d(x, w, stride, padding), **TOL)
    np.testing.assert_allclose(ours, lax_conv(x.astype(np.float32), w.astype(np.float32),
                                              stride, padding), **TOL)  # fmt: skip
    assert ours.shape[1] == conv.out_length(17, 5, stride, padding)


@pytest.mark.parametrize("padding", conv.PADDINGS)
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_is_the_cross_correlation_numpy_and_lax_compute(stride, padding):
    x = RNG.normal(size=(2, 9, 8, 3))
    w = RNG.normal(size=(3, 3, 3, 5))
    ours = conv.conv2d(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), stride, padding)
    np.testing.assert_allclose(ours, np_conv2d(x, w, stride, padding), **TOL)
    np.testing.assert_allclose(ours, lax_conv(x.astype(np.float32), w.astype(np.float32),
                                              stride, padding), **TOL)  # fmt: skip


def test_a_flipped_kernel_gives_a_different_answer():
    """The check above can fail: true convolution (flipped kernel) is not what layers do."""
    x = RNG.normal(size=(2, 9, 8, 3)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 3, 5)).astype(np.float32)
    flipped = conv.conv2d(jnp.asarray(x), jnp.asarray(w[::-1, ::-1]))
    assert np.abs(np.asarray(flipped) - np_conv2d(x, w, 1)).max() > 1.0


def test_same_padding_keeps_the_size_at_stride_1_and_ceil_divides_it_otherwise():
    assert [conv.out_length(8, k, 1, "same") for k in (1, 2, 3, 4, 5)] == [8] * 5
    assert [conv.out_length(9, 3, s, "same") for s in (1, 2, 3, 4)] == [9, 5, 3, 3]
    assert [conv.out_length(9, 3, s, "valid") for s in (1, 2, 3, 4)] == [7, 4, 3, 2]


@pytest.mark.parametrize("kind", conv.POOLS)
@pytest.mark.parametrize(("size", "stride"), [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_pool2d_window_starts_at_i_times_stride(size, stride, kind):
    x = RNG.normal(size=(2, 7, 6, 3))
    ours = np.asarray(conv.pool2d(jnp.asarray(x, jnp.float32), size, stride, kind))
    np.testing.assert_allclose(ours, np_pool2d(x, size, stride, kind), **TOL)
    init, op = (-jnp.inf, jax.lax.max) if kind == "max" else (0.0, jax.lax.add)
    ref = jax.lax.reduce_window(jnp.asarray(x, jnp.float32), init, op, (1, size, size, 1),
                                (1, stride, stride, 1), "VALID")  # fmt: skip
    ref = ref if kind == "max" else ref / size**2
    np.testing.assert_allclose(ours, ref, **TOL)


def test_the_sources_pooling_formula_is_not_pooling():
    """001 §3.4's max over a window that ignores (i, j) gives one value everywhere."""
    x = RNG.normal(size=(1, 8, 8, 1)).astype(np.float32)
    ours = np.asarray(conv.pool2d(jnp.asarray(x), 2))[0, :, :, 0]
    source = np.full((4, 4), x[0, :2, :2, 0].max())
    assert len(np.unique(ours)) > 1 and not np.allclose(ours, source)


@pytest.mark.parametrize("kind", conv.POOLS)
def test_pool1d_matches_reduce_window(kind):
    x = RNG.normal(size=(3, 11, 2)).astype(np.float32)
    ours = conv.pool1d(jnp.asarray(x), 3, 2, kind)
    init, op = (-jnp.inf, jax.lax.max) if kind == "max" else (0.0, jax.lax.add)
    ref = jax.lax.reduce_window(jnp.asarray(x), init, op, (1, 3, 1), (1, 2, 1), "VALID")
    np.testing.assert_allclose(ours, ref if kind == "max" else ref / 3, **TOL)


def test_conv_vmaps_over_runs_and_differentiates_like_lax():
    """A sweep vmaps the convolution over runs, and training differentiates it."""
    x = jnp.asarray(RNG.normal(size=(4, 10, 2)), jnp.float32)
    ws = jnp.asarray(RNG.normal(size=(3, 5, 2, 4)), jnp.float32)  # three runs' kernels
    batched = jax.vmap(lambda w: conv.conv1d(x, w, 2, "same"))(ws)
    for r in range(3):
        np.testing.assert_allclose(batched[r], lax_conv(x, ws[r], 2, "same"), **TOL)
    ours = jax.grad(lambda w: jnp.sum(jnp.sin(conv.conv1d(x, w, 2, "same"))))(ws[0])
    ref = jax.grad(lambda w: jnp.sum(jnp.sin(lax_conv(x, w, 2, "same"))))(ws[0])
    np.testing.assert_allclose(ours, ref, **TOL)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, w: conv.conv1d(x, w, padding="full"), "padding"),
        (lambda x, w: conv.conv1d(x, w, stride=0), "stride"),
        (lambda x, w: conv.conv1d(x[:, :3], w), "larger than the input"),
        (lambda x, w: conv.conv1d(x[0], w), "x must be"),
        (lambda x, w: conv.pool1d(x, 2, kind="median"), "kind"),
        (lambda x, w: conv.pool1d(x, 0), "size"),
    ],
)
def test_bad_arguments_are_named(call, message):
    x = jnp.ones((2, 10, 2))
    w = jnp.ones((5, 2, 3))
    with pytest.raises((ValueError, TypeError), match=message):
        call(x, w)
