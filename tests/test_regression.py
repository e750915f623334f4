"""Chapter 01: gradient descent against least squares, scikit-learn, and the 2/L threshold."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from course.chapters import regression_by_gradient_descent as regression
from course.engine.runtime import CompileCounter

from .test_widgets import twin_frames

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def grid():
    return regression.run(key=KEY)


def test_gd_reaches_the_closed_form_solution():
    data = regression.regression_data(noise=0.1, seed=0, key=KEY)
    L = regression.curvature(data.x_train[:100])
    w, b, _ = regression.fit_gd(data, 100, lr=1 / L, key=KEY)
    w_star, b_star = regression.closed_form(data.x_train[:100], data.y_train[:100])
    assert np.linalg.norm(np.r_[w - w_star, b - b_star]) < 1e-4


def test_curvature_matches_the_hessian_from_jax():
    data = regression.regression_data(noise=0.1, seed=1, key=KEY)
    x, y = np.asarray(data.x_train[:50], np.float64), np.asarray(data.y_train[:50], np.float64)

    def loss(theta):
        return 0.5 * jax.numpy.mean((x @ theta[:-1] + theta[-1] - y) ** 2)

    with jax.enable_x64(True):
        hessian = np.asarray(jax.hessian(loss)(jax.numpy.zeros(5, dtype=jax.numpy.float64)))
    assert regression.curvature(x) == pytest.approx(np.linalg.eigvalsh(hessian)[-1], rel=1e-9)


def test_gd_converges_below_and_diverges_above_two_over_l(grid):
    found = regression.check_divergence(grid)
    assert found.holds, found
    assert found.below_total > 500 and found.above_total > 50
    assert found.worst_relative_distance < 0.05  # the notebook's "within 5 % of θ*"


def test_convergence_is_judged_against_step_0_not_the_first_log(grid):
    """A run that only got worse after step 0 must not count as converged."""
    worse = dataclasses.replace(grid, start=np.zeros_like(grid.start))  # as if each rose from 0
    assert regression.check_divergence(worse).below_converged == 0


def test_explorer_title_counts_the_draws_that_diverge(grid):
    n_index = 0  # n = 20: the four draws' 2/L spread around the grid's learning rates
    limits = 2 / grid.curvature[:, n_index]
    lr = next(v for v in regression.LRS if limits.min() < v < limits.max())
    values = {"n_train": regression.SIZES[n_index], "noise": regression.NOISES[0], "lr": lr}
    ex = regression.explorer(grid, key=KEY)
    ex.set(**values)
    assert f"{int(np.sum(lr > limits))} of 4 draws diverge" in ex.last_spec.title


def test_standardising_restores_the_conditioning():
    cond = regression.conditioning(key=KEY)
    assert cond["raw units"]["kappa"] > 100 * cond["standardised"]["kappa"]
    assert cond["raw units"]["relative_distance"] > 0.1
    assert cond["standardised"]["relative_distance"] < 1e-5
    # standardising uses the training statistics: the training features end centred, unit scale
    d = regression.standardise(regression.regression_data(0.1, 0, key=KEY))
    np.testing.assert_allclose(np.asarray(d.x_train).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(d.x_train).std(0), 1, atol=1e-5)


def test_the_divergence_check_can_fail(grid):
    wrong = dataclasses.replace(grid, curvature=grid.curvature / 2)  # a threshold twice too high
    assert not regression.check_divergence(wrong).holds


def test_smaller_data_sets_have_larger_curvature(grid):
    mean_l = grid.curvature.mean(axis=0)
    assert np.all(np.diff(mean_l) < 0), mean_l


def test_logistic_regression_matches_scikit_learn():
    blobs = regression.logistic_data(key=jax.random.key(1))
    w, b, _ = regression.fit_logistic(blobs, key=KEY)
    w_sk, b_sk = regression.sklearn_logistic(blobs)
    assert np.abs(np.r_[w - w_sk, b - b_sk]).max() < 1e-3


def test_softmax_regression_on_digits_matches_scikit_learn():
    found = regression.softmax_digits(key=KEY)
    assert found["gd_test_acc"] > 0.9
    assert abs(found["gd_test_acc"] - found["sklearn_test_acc"]) < 0.03


@pytest.mark.slow
def test_explorer_twin_moves_and_bad_values(grid):
    ex = regression.explorer(grid, key=KEY)
    frames = twin_frames(ex.twin())["frames"]
    assert len(frames) == 6 * 4 * 10
    assert len(ex.twin().encode()) < 2_000_000
    rng = np.random.default_rng(0)
    ex.live_box.value = True  # the first live retrain compiles the live path; later ones not
    ex.live_box.value = False
    with CompileCounter() as compiles:
        for _ in range(10):
            i, j, k = rng.integers(6), rng.integers(4), rng.integers(10)
            values = {
                "n_train": regression.SIZES[i],
                "noise": regression.NOISES[j],
                "lr": regression.LRS[k],
            }
            assert "error" not in ex.set(**values)
            assert frames[f"{i},{j},{k}"] == ex.last_spec.to_json()
        ex.live_box.value = True  # the same point, retrained through the engine
        assert ex.timings["live"] is True
    assert compiles.count == 0
    with pytest.raises(ValueError, match=r"noise must be in \[0.1, 50.0\], got -1.0"):
        ex.set(noise=-1.0)
    assert "noise must be in [0.1, 50.0], got -1.0" in ex.status.value
