"""Evaluation metrics against scikit-learn's, to 1e-12, on random and on edge-case labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from course.engine import metrics

RNG = np.random.default_rng(0)
C = 5
Y_TRUE = RNG.integers(0, C, 400)
Y_PRED = np.where(RNG.random(400) < 0.6, Y_TRUE, RNG.integers(0, C, 400))
NEVER_PREDICTED = np.where(Y_PRED == 4, 3, Y_PRED)  # class 4 never predicted: precision 0/0


@pytest.mark.parametrize("pred", [Y_PRED, NEVER_PREDICTED], ids=["random", "never-predicted"])
def test_confusion_matrix_accuracy_and_averages_equal_scikit_learn(pred):
    labels = list(range(C))
    np.testing.assert_array_equal(
        metrics.confusion_matrix(Y_TRUE, pred, C), skm.confusion_matrix(Y_TRUE, pred, labels=labels)
    )
    assert metrics.accuracy(Y_TRUE, pred) == pytest.approx(
        skm.accuracy_score(Y_TRUE, pred), abs=1e-12
    )
    for average in ("macro", "micro"):
        ours = metrics.precision_recall_f1(Y_TRUE, pred, C, average)
        ref = skm.precision_recall_fscore_support(
            Y_TRUE, pred, labels=labels, average=average, zero_division=0
        )[:3]
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    ours = metrics.precision_recall_f1(Y_TRUE, pred, C, "none")
    ref = skm.precision_recall_fscore_support(Y_TRUE, pred, labels=labels, zero_division=0)[:3]
    np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=0, atol=1e-12)


def test_micro_averages_of_single_label_data_equal_the_accuracy():
    p, r, f1 = metrics.precision_recall_f1(Y_TRUE, Y_PRED, C, "micro")
    acc = metrics.accuracy(Y_TRUE, Y_PRED)
    assert p == pytest.approx(acc, abs=1e-12) and r == pytest.approx(acc, abs=1e-12)
    assert f1 == pytest.approx(acc, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied-scores"])
def test_roc_curve_and_auc_equal_scikit_learn(ties):
    y = RNG.integers(0, 2, 300)
    scores = y + RNG.normal(0, 1.0, 300)
    if ties:
        scores = np.round(scores, 1)  # many equal scores: one point per distinct threshold
    fpr, tpr, thr = metrics.roc_curve(y, scores)
    ref_fpr, ref_tpr, ref_thr = skm.roc_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tpr, ref_tpr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(thr, ref_thr)
    assert metrics.auc(fpr, tpr) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)


def test_a_perfect_and_a_reversed_score():
    y = np.array([0, 0, 1, 1])
    assert metrics.auc(*metrics.roc_curve(y, np.array([0.1, 0.2, 0.8, 0.9]))[:2]) == 1.0
    assert metrics.auc(*metrics.roc_curve(y, np.array([0.9, 0.8, 0.2, 0.1]))[:2]) == 0.0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: metrics.confusion_matrix(Y_TRUE, Y_PRED, 3),
            ValueError,
            r"y_true must lie in \[0, 2\]",
        ),
        (lambda: metrics.accuracy(Y_TRUE, Y_PRED[:5]), ValueError, "same length"),
        (lambda: metrics.accuracy(Y_TRUE.astype(float), Y_PRED), TypeError, "integer class labels"),
        (
            lambda: metrics.accuracy(np.array([], int), np.array([], int)),
            ValueError,
            "not be empty",
        ),
        (lambda: metrics.precision_recall_f1(Y_TRUE, Y_PRED, C, "weighted"), ValueError, "average"),
        (lambda: metrics.roc_curve(np.ones(4, int), np.arange(4.0)), ValueError, "both classes"),
        (
            lambda: metrics.roc_curve(np.array([0, 1]), np.array([0.0, np.nan])),
            ValueError,
            "finite",
        ),
        (
            lambda: metrics.auc(np.array([1.0, 0.0]), np.array([0.0, 1.0])),
            ValueError,
            "non-decreasing",
        ),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
