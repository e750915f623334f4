"""Chapter 05: regularisation — tuning on validation, sparsity, early stopping, the explorer.

The chapter's claims at full scale are asserted by its notebook (run under nbval); these
tests check the machinery on a small study, and the claims that are cheap to check here.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from course.chapters import regularization as reg
from course.engine.models import MLP
from course.engine.runtime import CompileCounter

KEY = jax.random.key(0)
SMALL = dataclasses.replace(reg.CONFIG, model=MLP(40, (32,), 10), steps=200, n_logs=10)
NAMES = ["L2 weight penalty", "L1 weight penalty", "augmentation: shifts"]


@pytest.fixture(scope="module")
def study() -> reg.Study:
    return reg.run(key=KEY, config=SMALL, sizes=[100, 400], seeds=2, names=NAMES, progress=False)


def test_strengths_are_chosen_on_validation_and_reported_on_test(study):
    for name in NAMES:
        val, test = study.errors(name, "val"), study.errors(name, "test")
        assert val.shape == test.shape == (2, 6)
        best = study.best_level(name)
        assert np.all(val[[0, 1], best] == val.min(1))
        np.testing.assert_array_equal(study.tuned(name), test[[0, 1], best])
        np.testing.assert_allclose(study.benefit(name), study.none() - study.tuned(name))
    # the same key gives the same unregularised runs in every regulariser's sweep
    for name in NAMES[1:]:
        np.testing.assert_array_equal(study.errors(name)[:, 0], study.none())
    assert "none" in study.table() and all(n in study.table() for n in NAMES)


def test_every_regulariser_trades_training_fit_for_strength(study):
    # the regularisers act inside the training scan: the stronger, the worse the fit
    shifts = study.errors("augmentation: shifts", "train")[0]  # n = 100, levels 0…5
    assert np.all(np.diff(shifts) > 0), shifts
    for name in ("L2 weight penalty", "L1 weight penalty"):
        train = study.errors(name, "train")
        assert np.all(train[:, 5] > train[:, 0] + 0.1), (name, train)


def test_near_zero_counts_first_layer_weights(study):
    w = np.asarray(study.results["L1 weight penalty"].params[0]["w"][:, 1, 5])  # (seed, 40, 32)
    assert study.near_zero("L1 weight penalty", 1, 5) == pytest.approx(
        np.mean(np.abs(w) < reg.NEAR_ZERO)
    )
    # the strongest L1 switches off more weights than the strongest L2
    assert study.near_zero("L1 weight penalty", 1, 5) > study.near_zero("L2 weight penalty", 1, 5)


def test_sparsity_is_compared_at_a_level_chosen_on_validation_only(study):
    """The level is the strongest whose validation error is within tol of off; test never counts."""
    for name in ("L1 weight penalty", "L2 weight penalty"):
        val = study.errors(name, "val")[1]
        level = study.sparsest_at_no_cost(name, 1)
        assert val[level] <= val[0] + 0.01
        assert np.all(val[level + 1 :] > val[0] + 0.01)
        # moving the test errors cannot move the choice
        tampered = dataclasses.replace(study, results=dict(study.results))
        runs = tampered.results[name]
        metrics = {**runs.metrics, "test_acc": 1 - runs.metrics["test_acc"]}
        tampered.results[name] = dataclasses.replace(runs, metrics=metrics)
        assert tampered.sparsest_at_no_cost(name, 1) == level


def test_the_dead_zone_is_measured_on_the_data_gradient(study, monkeypatch):
    """Shares are in [0, 1]; with λ₁ past every gradient, every weight is in the zone; at 0, few."""
    zone = study.dead_zone(reg.dataset(), 1, 5)
    assert 0 <= zone["others"] <= 1 and 0 <= zone["near_zero"] <= 1
    grid = reg.GRIDS["L1 weight penalty"][1]
    monkeypatch.setitem(reg.GRIDS, "L1 weight penalty", ("l1", [*grid[:5], 1e6]))
    assert study.dead_zone(reg.dataset(), 1, 5) == {"near_zero": 1.0, "others": 1.0}
    monkeypatch.setitem(reg.GRIDS, "L1 weight penalty", ("l1", [*grid[:5], 0.0]))
    assert study.dead_zone(reg.dataset(), 1, 5)["near_zero"] < 0.5


def test_a_flip_turns_mnist1d_classes_into_others():
    """The chapter's flip box: reversing a template in time lands nearest another class."""
    nearest = reg.reversed_templates()
    assert nearest.shape == (10,)
    changed = np.flatnonzero(nearest != np.arange(10))
    assert len(changed) >= 4 and nearest[2] == 5 and nearest[5] == 2  # the notebook's claim
    # a shift, by contrast, keeps every class (allowing the same search over shifts)
    from mnist1d.data import get_templates

    t = np.asarray(get_templates()["x"], np.float64)
    for k in range(10):
        d = [min(np.sum((np.roll(u, j) - np.roll(t[k], 2)) ** 2) for j in range(-3, 4)) for u in t]
        assert int(np.argmin(d)) == k


def test_null_power_is_the_paired_standard_error(study):
    power = study.null_power("L1 weight penalty")
    none = 1 - study.unregularised().final("test_acc")  # (seed, n)
    err = 1 - study.results["L1 weight penalty"].final("test_acc")
    tuned = np.stack(
        [err[:, i, lv] for i, lv in enumerate(study.best_level("L1 weight penalty"))], 1
    )
    diff = none - tuned  # (2 seeds, n)
    np.testing.assert_allclose(power["se"], np.abs(diff[0] - diff[1]) / 2, rtol=1e-5)
    np.testing.assert_allclose(power["detectable"], 0.01 + 2 * power["se"])


def test_early_stopping_picks_the_minimum_of_the_held_out_curve(study):
    runs = study.results[NAMES[0]]
    for metric in ("val_err", "val_loss"):
        stopped = study.early_stopped(metric)
        curve = runs.metrics["val_loss"][..., 0, :]
        if metric == "val_err":
            curve = 1 - runs.metrics["val_acc"][..., 0, :]
        np.testing.assert_array_equal(stopped["index"], np.argmin(curve, -1))
        test = 1 - runs.metrics["test_acc"][..., 0, :]
        chosen = np.take_along_axis(test, stopped["index"][..., None], -1)[..., 0]
        np.testing.assert_allclose(stopped["test"], chosen.mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="metric"):
        study.early_stopped("test_acc")


def test_explorer_moves_without_recompiling_and_live_matches_lookup(study):
    ex = reg.explorer(study, key=KEY)
    assert ex.set(regularizer="L2 weight penalty", level=3, n_train=400)["live"] is False
    with CompileCounter() as compiles:
        for level in range(6):
            assert ex.set(level=level)["live"] is False, ex.status.value
        assert ex.set(regularizer="augmentation: shifts", n_train=100)["live"] is False
    assert compiles.count == 0
    # a level between two strengths cannot be honoured: it is refused, not rounded down
    with pytest.raises(ValueError, match=r"level must be a whole number in \[0, 5\]"):
        ex.set(level=2.5)
    assert ex.values()["level"] == 5 and "level = 2.5" not in ex.status.value
    looked_up = reg.point(study, {"regularizer": "L1 weight penalty", "level": 4, "n_train": 100})
    retrained = ex.live({"regularizer": "L1 weight penalty", "level": 4, "n_train": 100})
    np.testing.assert_allclose(
        retrained.final("train_loss"), looked_up.final("train_loss"), rtol=1e-4, atol=1e-6
    )
    spec = reg.figure(study, {"regularizer": "L1 weight penalty", "level": 4, "n_train": 100},
                      looked_up)  # fmt: skip
    assert "L1 weight penalty = 0.003, n = 100" in spec.title


def test_bad_input_names_the_argument(study):
    with pytest.raises(ValueError, match="names"):
        reg.run(key=KEY, names=["weight decay"])
    with pytest.raises(ValueError, match="split"):
        study.errors("L2 weight penalty", "holdout")
    with pytest.raises(ValueError, match="name"):
        study.errors("dropout")
