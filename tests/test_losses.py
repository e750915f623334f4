"""Losses and metrics against optax and hand computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from course.engine import losses

KEY = jax.random.key(0)
LOGITS = jax.random.normal(KEY, (32, 5)) * 3
LABELS = jax.random.randint(jax.random.key(1), (32,), 0, 5)
SCORE = jax.random.normal(jax.random.key(2), (32, 1)) * 2
BINARY = jax.random.randint(jax.random.key(3), (32,), 0, 2)


def test_cross_entropy_matches_optax():
    ref = optax.losses.softmax_cross_entropy_with_integer_labels(LOGITS, LABELS)
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, LABELS), ref, rtol=1e-5, atol=1e-6)


def test_sequence_cross_entropy_is_the_mean_over_time():
    logits = jax.random.normal(KEY, (4, 7, 5))
    y = jax.random.randint(KEY, (4, 7), 0, 5)
    ref = optax.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean(axis=1)
    np.testing.assert_allclose(losses.cross_entropy(logits, y), ref, rtol=1e-5, atol=1e-6)


def test_binary_cross_entropy_matches_optax():
    ref = optax.losses.sigmoid_binary_cross_entropy(SCORE[:, 0], BINARY.astype(jnp.float32))
    np.testing.assert_allclose(
        losses.binary_cross_entropy(SCORE, BINARY), ref, rtol=1e-5, atol=1e-6
    )


def test_hinge_matches_optax_binary_and_multiclass():
    ref = optax.losses.hinge_loss(SCORE[:, 0], 2.0 * BINARY - 1.0)
    np.testing.assert_allclose(losses.hinge(SCORE, BINARY), ref, rtol=1e-5, atol=1e-6)
    ref = optax.losses.multiclass_hinge_loss(LOGITS, LABELS)
    np.testing.assert_allclose(losses.hinge(LOGITS, LABELS), ref, rtol=1e-6, atol=1e-6)


def test_mse_is_half_squared_error_summed_over_outputs():
    pred = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    y = jnp.array([[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(losses.mse(pred, y), [2.5, 1.0])
    np.testing.assert_allclose(losses.mse(jnp.array([[3.0]]), jnp.array([1.0])), [2.0])


def test_accuracy_binary_and_argmax():
    np.testing.assert_array_equal(
        losses.correct(jnp.array([[0.3], [-1.0]]), jnp.array([1, 1])), [1.0, 0.0]
    )
    np.testing.assert_array_equal(
        losses.correct(jnp.array([[0.1, 0.9], [0.8, 0.2]]), jnp.array([1, 1])), [1.0, 0.0]
    )


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'l1'; valid: mse, cross_entropy"):
        losses.get("l1")
