"""Every optimizer written from scratch matches optax step for step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import models, optim

HPARAMS = {
    "sgd": {"lr": 0.05},
    "momentum": {"lr": 0.05, "beta": 0.9},
    "nesterov": {"lr": 0.05, "beta": 0.9},
    "adagrad": {"lr": 0.1},
    "rmsprop": {"lr": 0.01},
    "adam": {"lr": 0.01},
    "adamw": {"lr": 0.01, "weight_decay": 0.05},
}


def problem():
    """A small MLP regression problem: same params, data and loss for both optimizers."""
    model = models.MLP(5, (16,), 3, "tanh")
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (64, 5))
    y = jax.random.normal(ky, (64, 3))

    def loss(params):
        return jnp.mean((model.apply(params, x) - y) ** 2)

    return model.init(key=kp), jax.grad(loss)


NON_DEFAULT = [  # every hyper-parameter away from its default, so a dropped one shows
    ("momentum", {"lr": 0.02, "beta": 0.5}),
    ("nesterov", {"lr": 0.02, "beta": 0.7}),
    ("adagrad", {"lr": 0.3, "eps": 1e-3, "initial_accumulator": 0.5}),
    ("rmsprop", {"lr": 0.02, "decay": 0.5, "eps": 1e-3}),
    ("adam", {"lr": 0.02, "b1": 0.5, "b2": 0.9, "eps": 1e-3}),
    ("adam", {"lr": 0.02, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.02, "b1": 0.7, "b2": 0.95, "eps": 1e-4, "weight_decay": 0.2}),
]


@pytest.mark.parametrize(("name", "hparams"), NON_DEFAULT, ids=lambda v: str(v))
def test_matches_optax_at_non_default_hyper_parameters(name, hparams):
    """Guards optax_twin forwarding only defaults: each setting here differs from optax's
    defaults, and the check below fails when the twin ignores one of them."""
    params0, grad = problem()
    diffs = optim.compare_with_optax(name, grad, params0, steps=100, **hparams)
    assert diffs.max() < 1e-6, f"{name} {hparams}: parameters differ by {diffs.max():.2e}"
    default_twin = {k: v for k, v in hparams.items() if k == "lr"}
    ours = optim.make(name, **hparams)
    theirs = optim.optax_twin(name, **default_twin)
    p, q = params0, params0
    s, t = ours.init(p), theirs.init(q)
    for _ in range(20):
        u, s = ours.update(grad(p), s, p)
        v, t = theirs.update(grad(q), t, q)
        p, q = optim.apply_updates(p, u), optim.apply_updates(q, v)
    gap = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q), strict=True)
    )
    assert gap > 1e-4, "these settings are indistinguishable from the defaults: the test is blind"


@pytest.mark.parametrize("name", list(HPARAMS))
def test_matches_optax_for_100_steps(name):
    params0, grad = problem()
    diffs = optim.compare_with_optax(name, grad, params0, steps=100, **HPARAMS[name])
    assert diffs.shape == (100,)
    assert diffs.max() < 1e-6, f"{name}: parameters differ by {diffs.max():.2e}"
    moved = optim.make(name, **HPARAMS[name])  # the comparison is not trivial: params move
    p, s = params0, moved.init(params0)
    for _ in range(100):
        u, s = moved.update(grad(p), s, p)
        p = optim.apply_updates(p, u)
    change = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(params0), strict=True)
    )
    assert change > 1e-2, f"{name} barely moved the parameters ({change:.1e})"


def test_a_wrong_optimizer_is_caught():
    """compare_with_optax is sensitive: Adam without bias correction differs from optax.adam."""
    params0, grad = problem()
    wrong = optim.adam(0.01, bias_correction=False)
    import optax

    theirs = optax.adam(0.01)
    u1, _ = wrong.update(grad(params0), wrong.init(params0), params0)
    u2, _ = theirs.update(grad(params0), theirs.init(params0), params0)
    assert (
        max(
            float(jnp.max(jnp.abs(a - b)))
            for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2), strict=True)
        )
        > 1e-3
    )


def test_adam_without_bias_correction_takes_too_large_first_steps():
    """The source's Adam (no bias correction): step 1 is (1-b1)/sqrt(1-b2) ≈ 3.16x the corrected."""
    params = {"w": jnp.ones(4)}
    g = {"w": jnp.full(4, 0.5)}
    for corrected, expected in [(True, 0.01), (False, 0.01 * 0.1 / np.sqrt(0.001))]:
        opt = optim.adam(0.01, bias_correction=corrected)
        upd, _ = opt.update(g, opt.init(params), params)
        np.testing.assert_allclose(-upd["w"], expected, rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "lr must be in (0.0, inf)"),
        ({"lr": float("nan")}, "lr must be finite"),
        ({"lr": -1.0}, "lr must be in"),
        ({"lr": "fast"}, "lr must be a real number"),
        ({"lr": 0.1, "b1": 1.0}, "b1 must be in [0.0, 1.0)"),
        ({"lr": 0.1, "eps": -1.0}, "eps must be in [0.0, inf)"),
    ],
)
def test_bad_hyper_parameters_are_named(kwargs, message):
    with pytest.raises(
        (ValueError, TypeError),
        match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\["),
    ):
        optim.make("adam", **kwargs)


def test_unknown_optimizer_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adamx'; valid: sgd, momentum"):
        optim.make("adamx")


@pytest.mark.parametrize("max_norm", [0.5, 1.0, 100.0])
def test_clipping_by_global_norm_matches_optax(max_norm):
    """Guards course.engine.optim.clip_by_global_norm (chapter 08) against optax's: the same
    tree comes out, clipped (0.5, 1: the gradient's norm is about 8) or untouched (100)."""
    import optax

    k1, k2 = jax.random.split(jax.random.key(3))
    grads = {"w": jax.random.normal(k1, (4, 8)), "b": [jax.random.normal(k2, (8,))]}
    ours = optim.clip_by_global_norm(grads, max_norm)
    theirs, _ = optax.clip_by_global_norm(max_norm).update(grads, optax.EmptyState())
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    norm = float(optim.global_norm(grads))
    assert 5 < norm < 12  # so 0.5 and 1 clip and 100 does not
    assert float(optim.global_norm(ours)) == pytest.approx(min(norm, max_norm), rel=1e-6)
