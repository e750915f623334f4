"""Evaluation metrics from labels and scores, in float64 NumPy (checked against scikit-learn).

* :func:`confusion_matrix` — counts, rows the true class, columns the predicted one;
* :func:`accuracy`, :func:`precision_recall_f1` — per class or averaged (macro / micro), with
  a class that is never predicted (or never present) scoring 0, as scikit-learn's default;
* :func:`roc_curve`, :func:`auc` — the receiver operating characteristic of a binary score
  (every distinct threshold, highest first, from +∞) and the trapezoid area under it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course.engine.checks import check_choice, check_int

AVERAGES = ("macro", "micro", "none")


def _labels(name: str, y: Any, n_classes: int | None = None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels, got shape {y.shape}")
    if y.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}], got [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def _pair(y_true: Any, y_pred: Any, n_classes: int | None = None):
    t, p = _labels("y_true", y_true, n_classes), _labels("y_pred", y_pred, n_classes)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.size} and {p.size}")
    if t.size == 0:
        raise ValueError("y_true and y_pred must not be empty")
    return t, p


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): entry [i, j] is how many of class i were predicted j."""
    n_classes = check_int("n_classes", n_classes, 1)
    t, p = _pair(y_true, y_pred, n_classes)
    return np.bincount(t * n_classes + p, minlength=n_classes**2).reshape(n_classes, n_classes)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of labels predicted exactly."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def precision_recall_f1(
    y_true: Any, y_pred: Any, n_classes: int, average: str = "macro"
) -> tuple[Any, Any, Any]:
    """Precision, recall and F1, per class (``average="none"``) or averaged.

    Precision of class k: of the examples predicted k, the share that are k; recall: of the
    examples of class k, the share predicted k; F1 their harmonic mean.  ``"macro"`` averages
    the per-class values (every class counts the same); ``"micro"`` pools the counts (for
    single-label data all three then equal the accuracy).  A 0/0 scores 0.
    """
    average = check_choice("average", average, AVERAGES)
    cm = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    if average == "micro":
        tp, predicted, actual = tp.sum(), predicted.sum(), actual.sum()
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    if average == "macro":
        return float(precision.mean()), float(recall.mean()), float(f1.mean())
    if average == "micro":
        return float(precision), float(recall), float(f1)
    return precision, recall, f1


def roc_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold, highest first.

    Args:
        y_true: 0/1 labels (1 = positive), with both classes present.
        scores: higher means more positive, same length.

    Returns:
        (fpr, tpr, thresholds): the first threshold is +∞ (nothing called positive, the
        point (0, 0)); at threshold s an example is called positive when its score is ≥ s.
    """
    t = _labels("y_true", y_true, 2)
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != t.shape:
        raise ValueError(f"scores must have one value per label, got {s.shape} and {t.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    positives, negatives = int(t.sum()), int(t.size - t.sum())
    if positives == 0 or negatives == 0:
        raise ValueError("y_true must hold both classes (0 and 1) for a ROC curve")
    order = np.argsort(-s, kind="mergesort")
    s, t = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(s)), t.size - 1]  # the last index of each distinct score
    tps = np.cumsum(t)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    return fpr, tpr, np.r_[np.inf, s[last]]


def auc(x: Any, y: Any) -> float:
    """Area under a curve by the trapezoid rule (x increasing, as a ROC curve's fpr)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must be 1-D of one length ≥ 2, got {x.shape} and {y.shape}")
    if np.any(np.diff(x) < 0):
        raise ValueError("x must be non-decreasing")
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))
