"""Chapter 02: optimizers in the valley, mini-batch noise, and the explorers."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from course.chapters import gradient_descent_and_optimizers as descent

from .test_widgets import twin_frames


@pytest.fixture(scope="module")
def valley():
    return descent.valley()


@pytest.fixture(scope="module")
def noise():
    return descent.batch_noise(key=jax.random.key(0))


def test_momentum_and_adam_beat_gradient_descent_at_kappa_100(valley):
    best = descent.steps_to_tolerance(valley)
    k = descent.KAPPAS.index(100)
    assert best["momentum"][k] < best["sgd"][k] / 2
    assert best["adam"][k] < best["sgd"][k] / 2


def test_the_ordering_is_not_a_tautology(valley):
    """On a round bowl (κ = 1) gradient descent is fastest: one step at η = 1."""
    best = descent.steps_to_tolerance(valley)
    assert best["sgd"][0] == 1
    assert best["adam"][0] > 10 * best["sgd"][0]


def test_gradient_descent_needs_about_kappa_steps(valley):
    best = descent.steps_to_tolerance(valley)["sgd"]
    k10, k100 = descent.KAPPAS.index(10), descent.KAPPAS.index(100)
    assert 5 < best[k100] / best[k10] < 20


def test_valley_paths_match_a_numpy_gradient_descent(valley):
    k, j = descent.KAPPAS.index(30), descent.LRS.index(1.0)
    h = np.asarray(descent.hessian(np.float32(30.0)), np.float64)
    w = np.array(descent.START)
    path = [w]
    for _ in range(50):
        w = w - 1.0 * h @ w
        path.append(w)
    np.testing.assert_allclose(valley.paths[0, k, j, :51], np.array(path), atol=1e-5)


def test_gradient_variance_falls_as_one_over_batch():
    v = descent.gradient_variance(key=jax.random.key(1))
    for b in descent.BATCHES:
        assert v[b] * b == pytest.approx(v[1], rel=0.15)


def test_small_batches_are_noisier_per_step_but_not_per_example(noise):
    steps = descent.spread(noise, "steps")
    examples = descent.spread(noise, "examples")
    assert steps[0] > steps[1] > steps[2] and steps[0] > 5 * steps[2]
    assert examples.max() < 2 * examples.min()
    means = descent.mean_final(noise, "examples")
    assert means.max() < 1.1 * means.min()


@pytest.mark.slow
def test_explorers_fit_the_page_and_match_their_twins(valley, noise):
    ex = descent.valley_explorer(valley)
    frames = twin_frames(ex.twin())["frames"]
    total = len(ex.twin().encode())
    ex.set(optimizer="adam", kappa=30, lr=0.1)
    i, j, k = descent.OPTIMIZERS.index("adam"), descent.KAPPAS.index(30), descent.LRS.index(0.1)
    assert frames[f"{i},{j},{k}"] == ex.last_spec.to_json()
    redraws = ex.renderer.full_redraws
    for lr in descent.LRS:  # moving η (and κ) only moves curves: blitted, no full redraw
        ex.set(lr=lr)
    assert ex.renderer.full_redraws == redraws
    ex2 = descent.noise_explorer(noise)
    total += len(ex2.twin().encode())
    assert total < 2_000_000
