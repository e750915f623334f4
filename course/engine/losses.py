"""Per-example losses and metrics.

Every loss returns one value per example (shape ``(batch,)``), so the training
engine can weight them with a mask (the examples beyond ``n_train`` get weight
0) and take a masked mean.  Sequence outputs (batch, time, classes) are averaged
over time first.

* ``mse`` — squared error ½·(f − y)², summed over output dimensions.
* ``cross_entropy`` — softmax cross-entropy with integer class labels.
* ``binary_cross_entropy`` — logistic loss with labels in {0, 1} and one logit.
* ``hinge`` — max(0, 1 − y·f) with y = ±1 (labels {0, 1}); the soft-margin SVM loss.
  With k > 1 outputs, the multi-class hinge of Crammer and Singer (2001).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from course.engine.checks import check_choice


def _flat(out: jax.Array) -> jax.Array:
    return out.reshape(out.shape[0], -1) if out.ndim > 1 else out[:, None]


def mse(out: jax.Array, y: jax.Array) -> jax.Array:
    """½ (f − y)², summed over output dimensions: (batch,)."""
    diff = _flat(out) - _flat(y.astype(out.dtype))
    return 0.5 * jnp.sum(diff * diff, axis=-1)


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Softmax cross-entropy −log softmax(f)[y] (mean over time for sequences): (batch,)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, y[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return nll.reshape(nll.shape[0], -1).mean(axis=-1)


def binary_cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Logistic loss log(1 + e^{−s·f}) with s = 2y − 1, for one logit per example: (batch,)."""
    f = logits.reshape(logits.shape[0])
    s = 2.0 * y.astype(f.dtype) - 1.0
    return jax.nn.softplus(-s * f)


def hinge(scores: jax.Array, y: jax.Array) -> jax.Array:
    """Hinge loss: binary max(0, 1 − s·f) for one score, Crammer–Singer for k scores: (batch,)."""
    if scores.shape[-1] == 1 or scores.ndim == 1:
        f = scores.reshape(scores.shape[0])
        s = 2.0 * y.astype(f.dtype) - 1.0
        return jax.nn.relu(1.0 - s * f)
    true = jnp.take_along_axis(scores, y[:, None].astype(jnp.int32), axis=-1)[:, 0]
    others = jnp.where(jax.nn.one_hot(y, scores.shape[-1]) > 0, -jnp.inf, scores)
    return jax.nn.relu(1.0 + others.max(axis=-1) - true)


def distillation(logits: jax.Array, teacher: jax.Array, temperature: Any) -> jax.Array:
    """T²·KL(softmax(t/T) ‖ softmax(f/T)) of student logits f and teacher logits t: (batch,).

    Hinton, Vinyals & Dean (2015): the student matches the teacher's temperature-softened
    distribution; the factor T² keeps the gradient's scale roughly independent of T (exactly
    so only as T grows large).  The KL
    (not the cross-entropy) is 0 when the student matches the teacher; both have the same
    gradient in f.
    """
    log_p = jax.nn.log_softmax(teacher / temperature, axis=-1)
    log_q = jax.nn.log_softmax(logits / temperature, axis=-1)
    kl = jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)
    return temperature**2 * kl.reshape(kl.shape[0], -1).mean(axis=-1)


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "mse": mse,
    "cross_entropy": cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "hinge": hinge,
}


def get(name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The per-example loss called ``name`` (see ``LOSSES``)."""
    return LOSSES[check_choice("loss", name, LOSSES)]


def correct(out: jax.Array, y: jax.Array) -> jax.Array:
    """Per-example accuracy in [0, 1] (fraction of correct time steps for sequences): (batch,).

    One output column means a binary score (class 1 when f > 0); k columns mean argmax.
    """
    if out.shape[-1] == 1:
        pred = (out[..., 0] > 0).astype(jnp.int32)
    else:
        pred = jnp.argmax(out, axis=-1)
    hit = (pred == y).astype(jnp.float32)
    return hit.reshape(hit.shape[0], -1).mean(axis=-1)
