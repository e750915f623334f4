"""Optimizers written from scratch as ``(init, update)`` pairs over pytrees.

The interface follows optax: ``state = opt.init(params)``, then each step
``updates, state = opt.update(grads, state, params)`` and
``params = apply_updates(params, updates)``.  A test runs every optimizer here
beside its optax counterpart and checks they agree step for step.

Hyper-parameters (the learning rate above all) may be traced JAX scalars, so a
sweep can vmap over them without recompiling.

| name | update (g = gradient, t = step count from 1) |
|---|---|
| ``sgd`` | p ← p − η g |
| ``momentum`` | v ← β v + g;  p ← p − η v  (heavy ball, Polyak 1964) |
| ``nesterov`` | v ← β v + g;  p ← p − η (g + β v)  (Nesterov 1983, as in Sutskever et al. 2013) |
| ``adagrad`` | s ← s + g²;  p ← p − η g / √(s + ε)  (Duchi et al. 2011) |
| ``rmsprop`` | s ← ρ s + (1 − ρ) g²;  p ← p − η g / √(s + ε)  (Tieleman & Hinton 2012) |
| ``adam`` | m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  v̂ = v/(1−β₂ᵗ); |
| | p ← p − η m̂/(√v̂ + ε)  (Kingma & Ba 2015) |
| ``adamw`` | Adam plus decoupled weight decay: p ← p − η (m̂/(√v̂ + ε) + λ p) |
| | (Loshchilov & Hutter 2019) |

ε is a numerical-stability constant that keeps the division finite when a
gradient's running scale is near zero; it is not a regulariser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from course.engine.checks import check_choice, check_float

Params = Any


class Optimizer(NamedTuple):
    """A pair of pure functions ``init`` and ``update``.

    ``init(params) -> state``; ``update(grads, state, params) -> (updates, state)``.
    """

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]


class AdamState(NamedTuple):
    """Adam's state: step count, first and second moment estimates."""

    count: jax.Array
    mu: Params
    nu: Params


def apply_updates(params: Params, updates: Params) -> Params:
    """``params + updates``, leaf by leaf."""
    return jax.tree.map(lambda p, u: p + u, params, updates)


def global_norm(tree: Params) -> jax.Array:
    """√(Σ g²) over every leaf: the length of the whole gradient as one vector."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(tree)))


def clip_by_global_norm(grads: Params, max_norm: Any) -> Params:
    """Scale the whole gradient down to length ``max_norm`` when it is longer.

    The direction is kept, only the step's length is capped (Pascanu, Mikolov & Bengio 2013).

    As ``optax.clip_by_global_norm``: g · max_norm / max(‖g‖, max_norm).
    """
    norm = global_norm(grads)
    scale = max_norm / jnp.maximum(norm, max_norm)
    return jax.tree.map(lambda g: g * scale.astype(g.dtype), grads)


def _zeros(params: Params) -> Params:
    return jax.tree.map(jnp.zeros_like, params)


def _lr(lr: Any) -> Any:
    if isinstance(lr, jax.Array | jax.core.Tracer):
        return lr
    return check_float("lr", lr, 0.0, lo_open=True)


def _decay(name: str, value: Any) -> Any:
    if isinstance(value, jax.Array | jax.core.Tracer):
        return value
    return check_float(name, value, 0.0, 1.0, hi_open=True)


def _eps(value: Any) -> Any:
    if isinstance(value, jax.Array | jax.core.Tracer):
        return value
    return check_float("eps", value, 0.0)


def sgd(lr: Any = 0.01) -> Optimizer:
    """Plain (stochastic) gradient descent: p ← p − η g."""
    lr = _lr(lr)

    def init(params: Params) -> tuple:
        return ()

    def update(grads: Params, state: tuple, params: Params = None) -> tuple[Params, tuple]:
        return jax.tree.map(lambda g: -lr * g, grads), state

    return Optimizer(init, update)


def momentum(lr: Any = 0.01, beta: Any = 0.9, *, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum (or Nesterov's variant): v ← β v + g, p ← p − η v."""
    lr, beta = _lr(lr), _decay("beta", beta)

    def init(params: Params) -> Params:
        return _zeros(params)

    def update(grads: Params, velocity: Params, params: Params = None) -> tuple[Params, Params]:
        velocity = jax.tree.map(lambda g, v: g + beta * v, grads, velocity)
        if nesterov:  # look ahead: step along the gradient plus the *new* velocity
            step = jax.tree.map(lambda g, v: g + beta * v, grads, velocity)
        else:
            step = velocity
        return jax.tree.map(lambda s: -lr * s, step), velocity

    return Optimizer(init, update)


def nesterov(lr: Any = 0.01, beta: Any = 0.9) -> Optimizer:
    """Nesterov momentum: v ← β v + g, p ← p − η (g + β v)."""
    return momentum(lr, beta, nesterov=True)


def adagrad(lr: Any = 0.1, eps: Any = 1e-7, initial_accumulator: float = 0.1) -> Optimizer:
    """AdaGrad: each coordinate's step shrinks with its accumulated squared gradients."""
    lr, eps = _lr(lr), _eps(eps)
    initial_accumulator = check_float("initial_accumulator", initial_accumulator, 0.0)

    def init(params: Params) -> Params:
        return jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator), params)

    def update(grads: Params, acc: Params, params: Params = None) -> tuple[Params, Params]:
        acc = jax.tree.map(lambda g, s: g * g + s, grads, acc)
        scale = jax.tree.map(lambda s: jnp.where(s > 0, jax.lax.rsqrt(s + eps), 0.0), acc)
        return jax.tree.map(lambda g, c: -lr * (c * g), grads, scale), acc

    return Optimizer(init, update)


def rmsprop(lr: Any = 0.01, decay: Any = 0.9, eps: Any = 1e-8) -> Optimizer:
    """RMSprop: divide by a running root-mean-square of recent gradients."""
    lr, decay, eps = _lr(lr), _decay("decay", decay), _eps(eps)

    def init(params: Params) -> Params:
        return _zeros(params)

    def update(grads: Params, ms: Params, params: Params = None) -> tuple[Params, Params]:
        ms = jax.tree.map(lambda g, s: (1 - decay) * (g * g) + decay * s, grads, ms)
        return jax.tree.map(lambda g, s: -lr * (g * jax.lax.rsqrt(s + eps)), grads, ms), ms

    return Optimizer(init, update)


def adam(
    lr: Any = 1e-3,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    *,
    weight_decay: Any = 0.0,
    bias_correction: bool = True,
) -> Optimizer:
    """Adam with bias correction (and optional decoupled weight decay, i.e. AdamW).

    Args:
        lr: learning rate η > 0.
        b1: decay of the first moment, in [0, 1).
        b2: decay of the second moment, in [0, 1).
        eps: numerical-stability constant added to √v̂ (not a regulariser).
        weight_decay: λ of AdamW's decoupled decay (0 for Adam).
        bias_correction: divide the moments by (1 − βᵗ).  Turning it off reproduces the
            formula of source 004 §4.2.3.  Both moments then start near 0, but v (β₂ = 0.999)
            is underestimated far more than m (β₁ = 0.9), so the early steps are several
            times too *large* — the reason Kingma & Ba (2015, §3) correct the bias.
    """
    lr, b1, b2, eps = _lr(lr), _decay("b1", b1), _decay("b2", b2), _eps(eps)
    if not isinstance(weight_decay, jax.Array | jax.core.Tracer):
        weight_decay = check_float("weight_decay", weight_decay, 0.0)

    def init(params: Params) -> AdamState:
        return AdamState(jnp.zeros([], jnp.int32), _zeros(params), _zeros(params))

    def update(grads: Params, state: AdamState, params: Params = None) -> tuple[Params, AdamState]:
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        nu = jax.tree.map(lambda g, v: (1 - b2) * (g * g) + b2 * v, grads, state.nu)
        count = state.count + 1
        if bias_correction:
            c1, c2 = 1 - b1**count, 1 - b2**count
            mu_hat = jax.tree.map(lambda m: m / c1.astype(m.dtype), mu)
            nu_hat = jax.tree.map(lambda v: v / c2.astype(v.dtype), nu)
        else:
            mu_hat, nu_hat = mu, nu
        step = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat)
        if params is not None and not _is_zero(weight_decay):
            step = jax.tree.map(lambda s, p: s + weight_decay * p, step, params)
        return jax.tree.map(lambda s: -lr * s, step), AdamState(count, mu, nu)

    return Optimizer(init, update)


def adamw(
    lr: Any = 1e-3, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, weight_decay: Any = 1e-4
) -> Optimizer:
    """AdamW: Adam with decoupled weight decay λ (default 1e-4, as optax)."""
    return adam(lr, b1, b2, eps, weight_decay=weight_decay)


def _is_zero(x: Any) -> bool:
    return isinstance(x, float | int) and x == 0


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}


def make(name: str, **hparams: Any) -> Optimizer:
    """Build the optimizer called ``name`` (see ``OPTIMIZERS``) with keyword hyper-parameters."""
    check_choice("optimizer", name, OPTIMIZERS)
    hyperparameters(name, **hparams)  # names checked before anything is built
    return OPTIMIZERS[name](**hparams)


def hyperparameters(name: str, **given: Any) -> dict[str, Any]:
    """Every hyper-parameter of optimizer ``name``: the given values, else the defaults.

    Raises:
        TypeError: a name the optimizer does not take (the message lists those it does).
    """
    import inspect

    check_choice("optimizer", name, OPTIMIZERS)
    params = inspect.signature(OPTIMIZERS[name]).parameters
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise TypeError(
            f"optimizer {name!r} has no hyper-parameter(s) {unknown}; its hyper-parameters "
            f"are {list(params)}"
        )
    return {k: p.default for k, p in params.items() if p.default is not p.empty} | given


def optax_twin(name: str, **hparams: Any) -> Any:
    """The optax optimizer that :func:`make` (``name``, ``hparams``) must match step for step."""
    import optax

    h = hyperparameters(name, **hparams)  # every value as make() would use it
    twins = {
        "sgd": lambda: optax.sgd(h["lr"]),
        "momentum": lambda: optax.sgd(h["lr"], momentum=h["beta"]),
        "nesterov": lambda: optax.sgd(h["lr"], momentum=h["beta"], nesterov=True),
        "adagrad": lambda: optax.adagrad(
            h["lr"], initial_accumulator_value=h["initial_accumulator"], eps=h["eps"]
        ),
        "rmsprop": lambda: optax.rmsprop(h["lr"], decay=h["decay"], eps=h["eps"]),
        "adam": lambda: (
            optax.adamw(h["lr"], h["b1"], h["b2"], h["eps"], weight_decay=h["weight_decay"])
            if h["weight_decay"]
            else optax.adam(h["lr"], h["b1"], h["b2"], h["eps"])
        ),
        "adamw": lambda: optax.adamw(
            h["lr"], h["b1"], h["b2"], h["eps"], weight_decay=h["weight_decay"]
        ),
    }
    return twins[name]()


def compare_with_optax(
    name: str,
    grad_fn: Callable[[Params], Params],
    params: Params,
    *,
    steps: int = 100,
    **hparams: Any,
) -> np.ndarray:
    """Run ours and optax's optimizer side by side; largest parameter difference per step.

    Each follows its own trajectory (its own gradients), so differences would compound.
    """
    import optax

    ours, theirs = make(name, **hparams), optax_twin(name, **hparams)

    @jax.jit
    def both(p1, s1, p2, s2):
        u1, s1 = ours.update(grad_fn(p1), s1, p1)
        u2, s2 = theirs.update(grad_fn(p2), s2, p2)
        return apply_updates(p1, u1), s1, optax.apply_updates(p2, u2), s2

    p1, s1, p2, s2 = params, ours.init(params), params, theirs.init(params)
    diffs = []
    for _ in range(steps):
        p1, s1, p2, s2 = both(p1, s1, p2, s2)
        diffs.append(
            max(
                float(jnp.max(jnp.abs(a - b)))
                for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2), strict=True)
            )
        )
    return np.asarray(diffs)
