"""The engine's new pieces against references: distillation's loss and gradient, pruning
masks, quantization grids, the pruned model's frozen mask, data parallelism and the sweep
across two processes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax

from course.engine import compress, losses
from course.engine import data as datasets
from course.engine.models import MLP
from course.engine.parallel import DataParallelTrainer, data_mesh, make_data_parallel
from course.engine.train import TrainConfig, make_train

MODEL = MLP(8, (16,), 3)


def params(seed: int = 0):
    return MODEL.init(key=jax.random.key(seed))


def small_data(n: int = 64, soft: bool = True) -> datasets.Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 1).astype(np.int32)
    d = datasets.Dataset(x, y, x[:16], y[:16], n_classes=3)
    return d.replace(soft_train=rng.normal(size=(n, 3)).astype(np.float32)) if soft else d


# --------------------------------------------------------------------------- distillation


def test_distillation_loss_matches_scipy_kl_times_t_squared():
    """Reference: T²·Σ p (log p − log q) with SciPy's log_softmax; to 1e-5."""
    rng = np.random.default_rng(1)
    f, t = rng.normal(size=(5, 4)), rng.normal(size=(5, 4)) * 3
    for temp in (1.0, 4.0):
        lp, lq = log_softmax(t / temp, axis=-1), log_softmax(f / temp, axis=-1)
        ref = temp**2 * np.sum(np.exp(lp) * (lp - lq), axis=-1)
        ours = losses.distillation(jnp.asarray(f, jnp.float32), jnp.asarray(t, jnp.float32), temp)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    same = losses.distillation(jnp.asarray(t, jnp.float32), jnp.asarray(t, jnp.float32), 2.0)
    np.testing.assert_allclose(same, 0.0, atol=1e-6)  # a student equal to its teacher: no loss


def test_distillation_gradient_is_t_times_the_softmax_difference():
    """Hinton et al. (2015, eq. 2) with the T² factor: d/df of T²·KL is T·(softmax(f/T) −
    softmax(t/T)); jax.grad of our loss must give it to 1e-5."""
    rng = np.random.default_rng(2)
    f = jnp.asarray(rng.normal(size=(3, 5)), jnp.float32)
    t = jnp.asarray(rng.normal(size=(3, 5)) * 2, jnp.float32)
    for temp in (1.0, 3.0):
        grad = jax.grad(lambda f, temp=temp: losses.distillation(f, t, temp).sum())(f)
        soft = lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)  # noqa: E731
        ref = temp * (soft(np.asarray(f) / temp) - soft(np.asarray(t) / temp))
        np.testing.assert_allclose(grad, ref, rtol=1e-5, atol=1e-6)


def test_distill_zero_trains_exactly_like_no_distillation():
    """α = 0 must leave the run as the labels-only engine run (same key): to 1e-6."""
    d = small_data()
    base = TrainConfig(MODEL, steps=20, batch_size=16, n_logs=2, lr=1e-2)
    plain = make_train(base)(jax.random.key(3), d, 64)
    off = make_train(TrainConfig(MODEL, steps=20, batch_size=16, n_logs=2, lr=1e-2, distill=0.0))
    zero = off(jax.random.key(3), d, 64)
    for k in plain.history:
        np.testing.assert_allclose(zero.history[k], plain.history[k], atol=1e-6)


def test_distill_one_follows_the_teacher_not_the_labels():
    """α = 1 with a teacher that says 'class 2' everywhere: the student predicts class 2 on
    (nearly) every test example, whatever the labels say; with α = 0 it does not."""
    d = small_data()
    teacher = np.tile(np.array([[-5.0, -5.0, 5.0]], np.float32), (64, 1))
    d = d.replace(soft_train=teacher)
    cfg = TrainConfig(MODEL, steps=200, batch_size=16, n_logs=1, lr=1e-2, distill=1.0,
                      temperature=2.0, keep_params=True)  # fmt: skip
    run = make_train(cfg)(jax.random.key(0), d, 64)
    pred = np.argmax(MODEL.apply(run.params, d.x_test), -1)
    assert np.mean(pred == 2) > 0.95
    hp = cfg.hparams(distill=0.0)
    labels = make_train(cfg)(jax.random.key(0), d, 64, hparams=hp)
    pred = np.argmax(MODEL.apply(labels.params, d.x_test), -1)
    assert np.mean(pred == 2) < 0.5


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: make_train(TrainConfig(MODEL, steps=2, n_logs=1, batch_size=8, distill=0.5))(
                jax.random.key(0), small_data(soft=False), 64
            ),
            "no soft_train",
        ),
        (lambda: small_data().replace(soft_train=np.zeros((3, 3))).__post_init__(), "soft_train"),
        (lambda: TrainConfig(MODEL, distill=1.5), "distill"),
        (lambda: TrainConfig(MODEL, distill=0.5, temperature=0.0), "temperature"),
        (lambda: TrainConfig(MODEL).hparams(temperature=2.0), "temperature only acts"),
    ],
)
def test_distillation_bad_input_is_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ------------------------------------------------------------------------------- pruning


def test_magnitude_masks_keep_the_largest_weights_per_matrix():
    """Against a NumPy reference: the kept count is round(keep·size), every kept |w| is at
    least every pruned |w|, and biases are never pruned."""
    p = params()
    for keep in (0.05, 0.3, 0.9):
        masks = compress.magnitude_masks(MODEL, p, keep)
        for layer, m in zip(p, masks, strict=True):
            w, mw = np.asarray(layer["w"]), np.asarray(m["w"])
            assert mw.sum() == max(1, round(keep * w.size))
            assert np.abs(w[mw > 0]).min() >= np.abs(w[mw == 0]).max()
            assert np.all(np.asarray(m["b"]) == 1)


def test_pruned_model_keeps_pruned_weights_at_zero_through_training():
    """Fine-tuning a Pruned model through the engine: the mask is unchanged, every pruned
    weight's effective value stays exactly 0, and kept weights do move."""
    d = small_data(soft=False)
    p = params()
    masks = compress.magnitude_masks(MODEL, p, 0.3)
    model = compress.Pruned(MODEL)
    cfg = TrainConfig(model, steps=30, batch_size=16, n_logs=1, lr=1e-2, keep_params=True)
    run = make_train(cfg)(jax.random.key(0), d, 64, params=compress.Pruned.pruned(p, masks))
    for layer, m, before in zip(run.params["net"], masks, p, strict=True):
        w, mw = np.asarray(layer["w"]), np.asarray(m["w"])
        assert np.all(w[mw == 0] == 0)  # the stored weight itself, not only its masked use
        assert np.abs(w[mw > 0] - np.asarray(before["w"])[mw > 0]).max() > 1e-3
    for k, m in zip(run.params["keep"], jax.tree.leaves(masks), strict=True):
        np.testing.assert_array_equal(k["keep"], m)


# -------------------------------------------------------------------------- quantization


@pytest.mark.parametrize("scale", compress.SCALES)
def test_quantize_uses_at_most_2_to_the_bits_minus_one_levels_and_rounds_to_nearest(scale):
    """Each tensor (or column) keeps at most 2^b − 1 distinct values, every weight moves by at
    most half a step, the largest |w| is kept exactly, and zeros stay zero."""
    p = params()
    p[0]["w"] = p[0]["w"].at[0, 0].set(0.0)
    for bits in (2, 3, 8):
        q = compress.quantize(MODEL, p, bits, scale)
        w, qw = np.asarray(p[0]["w"]), np.asarray(q[0]["w"])
        cols = [qw[:, j] for j in range(qw.shape[1])] if scale == "channel" else [qw.ravel()]
        assert all(len(np.unique(c)) <= 2**bits - 1 for c in cols)
        peak = np.abs(w).max(0) if scale == "channel" else np.abs(w).max()
        step = peak / (2 ** (bits - 1) - 1)
        assert np.all(np.abs(qw - w) <= step / 2 + 1e-7)
        np.testing.assert_allclose(
            np.abs(qw).max(0 if scale == "channel" else None), peak, rtol=1e-6
        )
        assert qw[0, 0] == 0.0
        np.testing.assert_array_equal(q[0]["b"], p[0]["b"])  # biases stay float


def test_weight_bytes_counts_bits_scales_and_sparse_indices():
    """Hand count for MLP 8 → 16 → 3: 176 weights, 19 biases."""
    p = params()
    assert compress.weight_bytes(MODEL, p) == 4 * (176 + 19)
    assert compress.weight_bytes(MODEL, p, 8, "tensor") == 176 + 4 * 19 + 4 * 2
    assert compress.weight_bytes(MODEL, p, 4, "channel") == 88 + 4 * 19 + 4 * (16 + 3)
    half = compress.apply_masks(p, compress.magnitude_masks(MODEL, p, 0.5))
    assert compress.weight_bytes(MODEL, half, sparse=True) == 8 * 88 + 4 * 19


# ---------------------------------------------------------------------- data parallelism


def test_data_parallel_gradient_is_the_full_batch_gradient():
    """Reference: jax.grad of the mean loss over the whole batch on one device. The split
    gradient must match to 1e-6 relative; a sum over the shards instead of the mean (what a
    replicated input's autodiff gives on its own) is off by a factor of 2."""
    if len(jax.devices()) < 2:
        pytest.skip("needs two devices (course sets one per core)")
    d = small_data(soft=False)
    cfg = TrainConfig(MODEL, steps=1, batch_size=16, n_logs=1, lr=1e-2, l2=1e-3)
    split = make_data_parallel(cfg, tuple(jax.devices()[:2]))
    hp = jax.tree.map(jnp.float32, cfg.hparams())
    p, x, y, w = params(), d.x_train[:16], d.y_train[:16], jnp.ones((16,))

    def full(p):
        loss = losses.cross_entropy(MODEL.apply(p, x), y).mean()
        return loss + 0.5e-3 * sum(jnp.sum(layer["w"] ** 2) for layer in p)

    ref = jax.grad(full)(p)
    ours, _ = jax.jit(split.gradients)(p, x, y, w, None, hp, None)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_data_parallel_run_equals_the_one_device_run():
    """Two host devices, batch split in two, gradients averaged: every logged metric of an SGD
    run within 1e-5 of make_train's run with the same key (SGD, not Adam: Adam's step does not
    see a gradient's scale, so a sum in place of the mean would pass under Adam)."""
    if len(jax.devices()) < 2:
        pytest.skip("needs two devices (course sets one per core)")
    d = small_data(soft=False)
    cfg = TrainConfig(MODEL, optimizer="sgd", steps=40, batch_size=16, n_logs=4, lr=0.1)
    one = make_train(cfg)(jax.random.key(5), d, 64)
    two = make_data_parallel(cfg, tuple(jax.devices()[:2]))(jax.random.key(5), d, 64)
    for k in one.history:
        np.testing.assert_allclose(two.history[k], one.history[k], atol=1e-5)


def test_data_parallel_refuses_what_it_cannot_split():
    mesh = data_mesh(jax.devices()[:1])
    with pytest.raises(ValueError, match="dropout must be None"):
        DataParallelTrainer(TrainConfig(MODEL, batch_size=16, dropout=0.1), mesh)
    if len(jax.devices()) >= 2:
        with pytest.raises(ValueError, match="batch_size must be a multiple"):
            DataParallelTrainer(TrainConfig(MODEL, batch_size=15), data_mesh(jax.devices()[:2]))
    with pytest.raises(TypeError, match="mesh must be"):
        DataParallelTrainer(TrainConfig(MODEL, batch_size=16), "cpu")
