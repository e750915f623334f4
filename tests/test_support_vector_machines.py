"""Chapter 06's claims, in the notebook's words and with its tolerances, on the notebook's
own keys; and for every claim a made-up result that makes it fail."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from course.chapters import support_vector_machines as chapter
from course.ui import static

KEYS = dict(
    zip(
        ["primal", "train", "ref", "gamma", "explorer", "cost", "duel"],
        jax.random.split(jax.random.key(0), 7),
        strict=True,
    )
)


@pytest.fixture(scope="module")
def primal_data():
    return chapter.primal_data(key=KEYS["primal"])


@pytest.fixture(scope="module")
def gammas():
    return chapter.gamma_path(key=KEYS["gamma"])


# ---- the primal, by the engine ----------------------------------------------------------


def test_gradient_descent_on_the_hinge_loss_finds_the_svm(primal_data):
    """ "the objectives agree within 0.1 % and the margins within 1 %" (engine, SMO, SVC)."""
    found = chapter.primal(primal_data, C=1.0, key=KEYS["train"])
    assert found.worst_objective_gap < 1e-3
    assert found.worst_margin_gap < 0.01
    # and the check can fail: a solution 20 % too long has a visibly worse objective
    off = dataclasses.replace(found, objectives={**found.objectives, "engine": chapter.objective(
        1.2 * found.w, found.b, primal_data.x_train, primal_data.y_train, 1.0)})  # fmt: skip
    assert off.worst_objective_gap > 1e-3
    wide = dataclasses.replace(
        found, margins={**found.margins, "engine": 1.02 * found.margins["svc"]}
    )
    assert wide.worst_margin_gap > 0.01  # a margin 2 % off fails the 1 % check


# ---- the reference check ------------------------------------------------------------------


def test_smo_agrees_with_svc_on_every_case():
    rows = chapter.reference_check(key=KEYS["ref"])
    assert chapter.reference_claims(rows).agrees


@pytest.mark.parametrize(
    ("field", "value"),
    [("correlation", 0.998), ("same_sign", 0.985), ("support_difference", 0.03),
     ("accuracy_difference", 1.5)],
)  # fmt: skip
def test_the_agreement_claim_fails_past_each_threshold(field, value):
    good = chapter.Agreement("rbf", 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, (10, 10), (0.0, 0.0))
    assert chapter.reference_claims([good]).agrees
    assert not chapter.reference_claims([good, dataclasses.replace(good, **{field: value})]).agrees


# ---- C and γ --------------------------------------------------------------------------------


def test_margin_shrinks_and_slack_falls_as_c_grows(primal_data):
    path = chapter.c_path(primal_data)
    assert path.margin_shrinks and path.slack_falls and path.training_error_falls


def test_the_c_claims_can_fail(primal_data):
    path = chapter.c_path(primal_data)

    def rises_once(v):  # one step up in C where the value rises by 10 %
        v = v.copy()
        v[4] = 1.1 * v[3]
        return v

    assert not dataclasses.replace(path, margin=rises_once(path.margin)).margin_shrinks
    assert not dataclasses.replace(path, slack=rises_once(path.slack)).slack_falls
    assert not dataclasses.replace(path, train_error=path.train_error[::-1]).training_error_falls


def test_gamma_underfits_then_memorises(gammas):
    assert gammas.underfits_and_memorises
    assert gammas.memorises


def test_the_gamma_claims_can_fail(gammas):
    # the best γ at an end of the grid
    flat = gammas.test_error.copy()
    flat[:, -1] = flat.min() - 0.01
    assert not dataclasses.replace(gammas, test_error=flat).underfits_and_memorises
    # an end worse than the best by less than its noise: draws that disagree in sign
    noisy = gammas.test_error.copy()
    best = gammas.best
    noisy[:, 0] = noisy[:, best] + np.where(np.arange(len(noisy)) % 2, 0.05, -0.04)
    assert not dataclasses.replace(gammas, test_error=noisy).underfits_and_memorises
    # one training point wrong in one draw at the largest γ
    wrong = gammas.train_error.copy()
    wrong[0, -1] = 0.01
    assert not dataclasses.replace(gammas, train_error=wrong).memorises


# ---- cost against n ---------------------------------------------------------------------------


@pytest.mark.slow
def test_cost_grows_superlinearly_and_the_mlp_overtakes():
    cost = chapter.cost_study(key=KEYS["cost"], repeats=3)
    assert cost.support_grows_with_n
    assert cost.work_is_superlinear
    assert cost.time_is_superlinear("smo") and cost.time_is_superlinear("svc")
    assert cost.mlp_overtakes


def _fake_cost(svc_seconds, mlp_accuracy=0.9):
    n = np.asarray(chapter.COST_SIZES, float)
    return chapter.Cost(
        sizes=n.astype(int), seconds={"smo": 1e-5 * n, "svc": svc_seconds(n), "mlp": 1.0 + 0 * n},
        memory_mb={}, accuracy={"svc": 0.91 + 0 * n, "mlp": mlp_accuracy + 0 * n, "smo": 0 * n},
        kernel_evaluations=50 * n, n_support=n,
    )  # fmt: skip


def test_the_cost_claims_can_fail():
    linear = _fake_cost(lambda n: 1e-5 * n)  # everything linear: nothing superlinear
    assert not linear.work_is_superlinear and not linear.time_is_superlinear("svc")
    few = dataclasses.replace(linear, n_support=50 * np.sqrt(linear.sizes))  # SVs ~ √n
    assert not few.support_grows_with_n
    assert not linear.mlp_overtakes  # SVC (at most 0.16 s) never slower than the MLP's 1 s
    quadratic = _fake_cost(lambda n: 1e-8 * n**2, mlp_accuracy=0.85)  # cheaper but 6 points worse
    assert quadratic.time_is_superlinear("svc") and not quadratic.mlp_overtakes


# ---- small n ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_at_small_n_the_svm_holds_its_own():
    assert chapter.duel_moons(key=KEYS["duel"]).winner != "mlp"
    assert chapter.duel_mnist1d(key=KEYS["duel"]).winner == "svm"


def test_the_duel_verdicts_can_fail():
    svm_ahead = chapter.Duel(
        "x", 100, np.full(4, 0.1), np.asarray([0.15, 0.16, 0.14, 0.15]), [], []
    )
    assert svm_ahead.winner == "svm"
    mlp_ahead = dataclasses.replace(
        svm_ahead, svm_error=svm_ahead.mlp_error, mlp_error=svm_ahead.svm_error
    )
    assert mlp_ahead.winner == "mlp"
    level = dataclasses.replace(svm_ahead, mlp_error=np.asarray([0.12, 0.08, 0.11, 0.09]))
    assert level.winner == "tie"


# ---- the explorer -----------------------------------------------------------------------------


def test_live_retrain_reproduces_the_grid_and_the_twin_fits_its_budget():
    """The live solve at a grid point gives the grid's support vectors and boundary."""
    pools = chapter.explorer_data(key=KEYS["explorer"])
    grid = chapter.explorer_grid(pools)
    for values in [
        {"kernel": "rbf", "C": 10.0, "gamma": 10.0, "n_train": 100, "noise": 0.3},
        {"kernel": "linear", "C": 100.0, "gamma": 0.1, "n_train": 200, "noise": 0.1},
    ]:
        looked_up, live = grid[values], chapter.solve_views([values], pools)[0]
        assert np.array_equal(looked_up.support, live.support)
        # the same compiled solve on the same padded inputs; only the decision function is
        # evaluated in a batch of one instead of the whole grid (float rounding)
        np.testing.assert_allclose(live.surface, looked_up.surface, atol=1e-4)
    explorer = chapter.explorer(grid, pools)
    html = static.twin_html(explorer.controls, lambda v: chapter.explorer_figure(grid, grid[v], v))
    assert len(html.encode()) < static.BUDGET_BYTES
