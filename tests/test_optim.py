"""Every optimizer written from scratch matches optax step for step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from course import models, optim

CASES = {
    "sgd": (optim.sgd(0.05), optax.sgd(0.05)),
    "momentum": (optim.momentum(0.05, 0.9), optax.sgd(0.05, momentum=0.9)),
    "nesterov": (optim.nesterov(0.05, 0.9), optax.sgd(0.05, momentum=0.9, nesterov=True)),
    "adagrad": (optim.adagrad(0.1), optax.adagrad(0.1)),
    "rmsprop": (optim.rmsprop(0.01), optax.rmsprop(0.01)),
    "adam": (optim.adam(0.01), optax.adam(0.01)),
    "adamw": (optim.adamw(0.01, weight_decay=0.05), optax.adamw(0.01, weight_decay=0.05)),
}


def problem():
    """A small MLP regression problem: same params, data and loss for both optimizers."""
    model = models.MLP(5, (16,), 3, "tanh")
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (64, 5))
    y = jax.random.normal(ky, (64, 3))

    def loss(params):
        return jnp.mean((model.apply(params, x) - y) ** 2)

    return model.init(key=kp), jax.jit(jax.grad(loss))


@pytest.mark.parametrize("name", CASES)
def test_matches_optax_for_100_steps(name):
    ours, theirs = CASES[name]
    params0, grad = problem()
    p1, s1 = params0, ours.init(params0)
    p2, s2 = params0, theirs.init(params0)
    step1 = jax.jit(lambda p, s: _step(ours, grad, p, s))
    step2 = jax.jit(lambda p, s: _step(theirs, grad, p, s, optax_apply=True))
    worst = 0.0
    for t in range(100):
        p1, s1 = step1(p1, s1)
        p2, s2 = step2(p2, s2)
        diff = max(
            float(jnp.max(jnp.abs(a - b)))
            for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2), strict=True)
        )
        worst = max(worst, diff)
        assert diff < 1e-6, f"{name}: parameters differ by {diff:.2e} at step {t + 1}"
    moved = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(params0), strict=True)
    )
    assert moved > 1e-2, f"{name} barely moved the parameters ({moved:.1e})"


def _step(opt, grad, params, state, optax_apply=False):
    g = grad(params)
    updates, state = opt.update(g, state, params)
    if optax_apply:
        return optax.apply_updates(params, updates), state
    return optim.apply_updates(params, updates), state


def test_adam_without_bias_correction_starts_far_too_slowly():
    """The source's Adam (no bias correction): the first step is (1-b1)/sqrt(1-b2) ≈ 3x smaller."""
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
