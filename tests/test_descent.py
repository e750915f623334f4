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
    i, j = descent.OPTIMIZERS.index("adam"), descent.KAPPAS.index(30)
    k = descent.EXPLORER_LRS.index(0.1)
    assert frames[f"{i},0,{j},{k}"] == ex.last_spec.to_json()
    redraws = ex.renderer.full_redraws
    for lr in descent.EXPLORER_LRS:  # moving η (and κ) only moves curves: blitted, no redraw
        ex.set(lr=lr)
    assert ex.renderer.full_redraws == redraws
    ex2 = descent.noise_explorer(noise)
    total += len(ex2.twin().encode())
    assert total < 2_000_000


def test_steps_to_counts_the_step_from_which_f_stays_below():
    """A run that dips below the tolerance at step 1 and bounces out has not arrived."""
    losses = np.array([[[[1.0, 1e-9, 0.5, 1e-9, 1e-9]]]])  # (optimizer, kappa, lr, step + 1)
    v = descent.Valley(np.zeros((*losses.shape, 2)), losses)
    assert v.steps_to(1e-6, stay=False)[0, 0, 0] == 1
    assert v.steps_to(1e-6)[0, 0, 0] == 3
    never = descent.Valley(np.zeros((*losses.shape, 2)), np.array([[[[1.0, 1e-9, 0.5]]]]))
    assert never.steps_to(1e-6)[0, 0, 0] == descent.STEPS + 1


def test_per_coordinate_scaling_helps_only_in_the_axis_aligned_valley():
    valleys = descent.valleys()
    rotated = descent.steps_to_tolerance(valleys["rotated 30°"])
    aligned = descent.steps_to_tolerance(valleys["axis-aligned"])
    k10, k100 = descent.KAPPAS.index(10), descent.KAPPAS.index(100)
    # the start turns with the valley: rotation-invariant updates take the very same steps
    for name in ("sgd", "momentum", "nesterov"):
        np.testing.assert_array_equal(aligned[name], rotated[name])
    np.testing.assert_allclose(descent.start(descent.ANGLE), descent.START, atol=1e-12)
    assert aligned["adagrad"][k100] < aligned["sgd"][k100] / 3
    assert rotated["adagrad"][k100] > rotated["sgd"][k100] / 2
    for name in ("momentum", "adam"):
        assert rotated[name][k100] < rotated["sgd"][k100] / 3
        assert rotated[name][k10] > rotated["sgd"][k10]
        assert abs(aligned[name][k100] / rotated[name][k100] - 1) < 0.15


def test_batch_gd_is_deterministic_given_its_start_and_sgd_is_not():
    d = descent._regression_task(jax.random.key(0))
    start = jax.random.normal(jax.random.key(1), (5,))
    gd = [descent.descent_curves(d, None, start=start, key=jax.random.key(s)) for s in (2, 3)]
    sgd = [descent.descent_curves(d, 1, start=start, key=jax.random.key(s)) for s in (2, 3)]
    np.testing.assert_array_equal(gd[0], gd[1])
    assert not np.array_equal(sgd[0], sgd[1])
    assert gd[0][-1] < gd[0][0]  # it descends
    # the curve is the half-MSE of (w, b) on the training set, as NumPy computes it
    x, y = np.asarray(d.x_train, np.float64), np.asarray(d.y_train, np.float64).ravel()
    w = np.asarray(start, np.float64)
    assert gd[0][0] == pytest.approx(0.5 * np.mean((x @ w[:-1] + w[-1] - y) ** 2), rel=1e-5)


def test_the_linear_scaling_rule_breaks_at_the_stability_limit():
    rule = descent.scaling_rule(key=jax.random.key(1))
    assert rule["lr_over_limit"][-1] > 1 and rule["diverged"][-1]
    assert not rule["diverged"][:-1].any()
    small = rule["excess"][:3]
    assert small.max() < 3 * small.min() and rule["excess"][4] > 2 * small.min()


def test_constant_step_sgd_settles_in_a_ball_proportional_to_lr_over_batch():
    ball = descent.noise_ball(key=jax.random.key(2))
    x, y = np.log(ball["lr_over_batch"]).ravel(), np.log(ball["excess"]).ravel()
    assert 0.85 < np.polyfit(x, y, 1)[0] < 1.15
    ratio = ball["excess"] / ball["lr_over_batch"]
    assert ratio.max() < 2 * ratio.min()
