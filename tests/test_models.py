"""Models: recurrences, masking, parameter counts (convolution and pooling: test_conv.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import models

RNG = np.random.default_rng(0)


def test_vanilla_rnn_and_gru_follow_their_equations():
    for cell in ("vanilla", "gru"):
        m = models.RNN(vocab=6, hidden=4, cell=cell)
        p = jax.tree.map(np.asarray, m.init(key=jax.random.key(0)))
        x = RNG.integers(0, 6, size=(2, 5))
        h = np.zeros((2, 4))
        for t in range(5):
            u = p["w_in"][x[:, t]] + p["b"]
            rec = h @ p["w_rec"]
            if cell == "vanilla":
                h = np.tanh(u + rec)
            else:
                sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
                z, r = sig(u[:, :4] + rec[:, :4]), sig(u[:, 4:8] + rec[:, 4:8])
                n = np.tanh(u[:, 8:] + r * rec[:, 8:])
                h = (1 - z) * n + z * h
        logits = np.asarray(m.apply(m.init(key=jax.random.key(0)), jnp.asarray(x)))
        np.testing.assert_allclose(logits[:, -1], h @ p["w_out"] + p["b_out"], rtol=1e-5, atol=1e-5)


def test_rnn_reads_values_and_reads_out_the_last_step():
    """Guards chapter 08's sequence classifier: ``inputs="values"`` projects each step's
    features (x_t W, a NumPy loop here) and ``readout="last"`` is the every-step readout's
    final step; masked and scaled variants keep the same equations."""
    every = models.RNN(1, 6, "gru", n_out=3, inputs="values")
    last = models.RNN(1, 6, "gru", n_out=3, inputs="values", readout="last")
    p = every.init(key=jax.random.key(1))
    x = RNG.normal(size=(4, 9)).astype(np.float32)  # (batch, time): one feature per step
    out_every = np.asarray(every.apply(p, jnp.asarray(x)))
    out_last = np.asarray(last.apply(p, jnp.asarray(x)))
    assert out_every.shape == (4, 9, 3) and out_last.shape == (4, 3)
    np.testing.assert_allclose(out_last, out_every[:, -1], rtol=1e-6, atol=1e-6)
    q = jax.tree.map(np.asarray, p)
    h = np.zeros((4, 6))
    for t in range(9):
        u = x[:, t : t + 1] @ q["w_in"] + q["b"]  # (batch, 3*hidden)
        rec = h @ q["w_rec"]
        sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
        z, r = sig(u[:, :6] + rec[:, :6]), sig(u[:, 6:12] + rec[:, 6:12])
        h = (1 - z) * np.tanh(u[:, 12:] + r * rec[:, 12:]) + z * h
    np.testing.assert_allclose(out_last, h @ q["w_out"] + q["b_out"], rtol=1e-5, atol=1e-5)


def test_rnn_init_scales_set_the_spectral_radius_and_the_input_weights():
    """recurrent_scale multiplies U (circular law: radius ≈ scale), input_scale multiplies W."""
    base = models.RNN(5, 200).init(key=jax.random.key(2))
    scaled = models.RNN(5, 200, recurrent_scale=1.5, input_scale=0.1).init(key=jax.random.key(2))
    np.testing.assert_allclose(
        np.asarray(scaled["w_rec"]), 1.5 * np.asarray(base["w_rec"]), rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(scaled["w_in"]), 0.1 * np.asarray(base["w_in"]), rtol=1e-6
    )
    radius = np.abs(np.linalg.eigvals(np.asarray(scaled["w_rec"], np.float64))).max()
    assert 1.35 < radius < 1.65  # 1.5 within the finite-size spread at 200 units


MASKABLE = [
    (models.MLP(12, (16, 16), 3), (12,)),
    (models.CNN1D(40, (8, 8, 8), 10), (40,)),
    (models.CNN2D((8, 8), (6, 6), 10), (8, 8)),
    (models.RNN(vocab=7, hidden=10, cell="gru"), None),
    (models.RNN(1, 10, "gru", n_out=4, readout="last", inputs="values"), (12,)),
]


@pytest.mark.parametrize(("model", "shape"), MASKABLE, ids=lambda m: type(m).__name__)
def test_masked_units_do_not_matter_and_get_no_gradient(model, shape):
    width = 3
    key = jax.random.key(0)
    x = (
        jax.random.randint(key, (4, 9), 0, 7)
        if shape is None
        else jax.random.normal(key, (4, *shape))
    )
    params = model.init(key=jax.random.key(1), width=width)
    full = model.init(key=jax.random.key(1))
    padded = jax.tree.map(lambda m, f: (m == 0) & (f != 0), params, full)  # masked weights
    assert sum(int(np.sum(p)) for p in jax.tree.leaves(padded)) > 0
    noisy = jax.tree.map(
        lambda p, pad: jnp.where(pad, jax.random.normal(key, p.shape), p), params, padded
    )
    out = model.apply(params, x, width=width)
    np.testing.assert_allclose(model.apply(noisy, x, width=width), out, rtol=1e-5, atol=1e-5)
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, x, width=width) ** 2))(params)
    for g, pad in zip(jax.tree.leaves(grads), jax.tree.leaves(padded), strict=True):
        assert not np.asarray(jnp.where(pad, g, 0.0)).any(), "a padded weight got a gradient"
    n_active = sum(int(np.count_nonzero(np.asarray(p))) for p in jax.tree.leaves(params))
    assert n_active <= model.n_params(width) < model.n_params()


@pytest.mark.parametrize(
    "model", [m for m, _ in MASKABLE] + [models.Linear(5, 2)], ids=lambda m: type(m).__name__
)
def test_parameter_count_matches_the_pytree(model):
    assert model.n_params() == models.count_params(model.init(key=jax.random.key(0)))


def test_gan_pair_shapes():
    g, d = models.gan_pair(latent=3, hidden=8, data_dim=2)
    z = jnp.ones((5, 3))
    fake = g.apply(g.init(key=jax.random.key(0)), z)
    assert fake.shape == (5, 2)
    assert d.apply(d.init(key=jax.random.key(1)), fake).shape == (5, 1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: models.MLP(0, (4,), 2), r"n_in must be in \[1, inf\), got 0"),
        (lambda: models.MLP(3, [4], 2), "hidden must be a tuple of ints"),
        (
            lambda: models.CNN1D(10, (4, 4, 4), kernel=5, stride=2),
            "do not fit an input of length 10",
        ),
        (lambda: models.RNN(vocab=5, cell="lstm"), "unknown cell 'lstm'; valid: vanilla, gru"),
        (
            lambda: models.MLP(3, (4,), 2).init(key=jax.random.key(0), width=5),
            r"width must be in \[1, 4\], got 5",
        ),
        (lambda: models.MLP(3, (4,), 2).init(key=0), "key must be a single jax.random key"),
    ],
)
def test_bad_model_arguments_are_named(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()
