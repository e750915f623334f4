"""The appendix: the errata's bookkeeping, and evaluation — metrics, cross-validation, spread.

* :func:`boxes` — every "What the source gets wrong" box in the chapters (its label, e.g.
  "003 §4.2", and its chapter); :func:`errata_rows` reads the errata table of the appendix;
  :func:`unlisted` and :func:`unboxed` say what one has that the other lacks.
* :func:`evaluation_study` — one MLP trained through the engine on MNIST-1D and judged on a
  large held-out pool: its confusion matrix, precision, recall, F1 and ROC
  (:mod:`course.engine.metrics`); how the accuracy measured on m held-out examples spreads
  over many draws of them, against the binomial formula; and 5-fold cross-validation, the
  folds trained as one ``vmap`` of the engine's run.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import data as datasets
from course.engine import metrics
from course.engine.checks import check_int, check_key
from course.engine.memo import on_disk
from course.engine.models import MLP
from course.engine.train import TrainConfig, device_data, make_train
from course.ui.figures import Figure, Heatmap, Lines, Series
from course.ui.widgets import Explorer, slider

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# ------------------------------------------------------------------------------- errata

BOX = re.compile(
    r"^> \*\*(?:What the sources? (?:gets? wrong|overclaims?|leaves? out)|A caveat the sources? "
    r"leaves? out|And) \(([^)]+)\)\.\*\*",
    re.MULTILINE,
)
ROW = re.compile(r"^\| *([0-9][^|]*?) *\|.*\]\((\d\d_[a-z0-9_]+)\.ipynb\) *\|$", re.MULTILINE)


def boxes(root: Path = NOTEBOOKS) -> list[tuple[str, str]]:
    """Every correction box of the chapters as (label, chapter stem), in chapter order."""
    found = []
    for md in sorted(root.glob("[0-9][0-9]_*.md")):
        found += [(label, md.stem) for label in BOX.findall(md.read_text())]
    return found


def errata_rows(text: str) -> list[tuple[str, str]]:
    """The errata table's rows as (label, chapter stem): its first column and its link.

    Only the section headed "## Errata" is read (the sources' table has links too).
    """
    if "\n## Errata" not in text:
        raise ValueError("the text has no '## Errata' section")
    section = text.split("\n## Errata", 1)[1].split("\n## ", 1)[0]
    return ROW.findall(section)


def unlisted(found: list[tuple[str, str]], rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Boxes the errata table does not list (counted: two boxes of one label need two rows)."""
    return list((Counter(found) - Counter(rows)).elements())


def unboxed(found: list[tuple[str, str]], rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Rows of the errata table with no box of that label in that chapter (counted)."""
    return list((Counter(rows) - Counter(found)).elements())


# ---------------------------------------------------------------------------- evaluation

N_TRAIN = 4000
N_POOL = 10_000  # held-out examples the evaluation sets are drawn from
N_EVALS = [25, 50, 100, 200, 400, 800, 1600, 3200]
DRAWS = 500  # evaluation sets drawn at each size
FOLDS = 5
N_CV = 1000  # examples cross-validated
POSITIVE = 5  # the ROC curve's task: class 5 (one of the harder ones) against the rest
CONFIG = TrainConfig(MLP(40, (128,), 10), steps=2000, batch_size=100, n_logs=1, lr=2e-3,
                     keep_params=True)  # fmt: skip


def dataset() -> datasets.Dataset:
    """MNIST-1D: the default 4000 training examples and a held-out pool of 10 000."""
    return datasets.mnist1d(n_train=N_TRAIN, n_test=N_POOL)


@dataclasses.dataclass
class EvaluationStudy:
    """What the chapter measures on the held-out pool.

    Attributes:
        y_true, y_pred: the pool's labels and the model's predictions, (N_POOL,).
        scores: the model's probability of class :data:`POSITIVE`, (N_POOL,).
        estimates: accuracy on each drawn evaluation set, (len(N_EVALS), DRAWS).
        cv: accuracy of each cross-validation fold, (FOLDS,).
        held_out: accuracy on the pool of the model trained on all N_CV examples.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray
    estimates: np.ndarray
    cv: np.ndarray
    held_out: float

    @property
    def accuracy(self) -> float:
        """Accuracy on the whole pool (the value every draw estimates)."""
        return metrics.accuracy(self.y_true, self.y_pred)

    def binomial_sd(self, m: Any) -> np.ndarray:
        """The spread the binomial formula predicts for m examples drawn without replacement.

        √(p(1 − p)/m) · √((N − m)/(N − 1)), with p the pool's accuracy and N its size.
        """
        m = np.asarray(m, np.float64)
        p = self.accuracy
        return np.sqrt(p * (1 - p) / m) * np.sqrt((N_POOL - m) / (N_POOL - 1))


def folds(n: int, k: int) -> np.ndarray:
    """Fold index of each of n examples: k contiguous blocks of n/k (n divisible by k)."""
    n, k = check_int("n", n, 2), check_int("k", k, 2, n)
    if n % k:
        raise ValueError(f"n must be divisible by k={k}, got n={n}")
    return np.repeat(np.arange(k), n // k)


def fold_datasets(data: datasets.Dataset, n: int, k: int) -> datasets.Dataset:
    """The k training/validation splits of the first n examples, stacked on a leading axis.

    Split j trains on the n − n/k examples outside fold j and tests on fold j.
    """
    which = folds(n, k)
    x, y = np.asarray(data.x_train[:n]), np.asarray(data.y_train[:n])
    train = [np.flatnonzero(which != j) for j in range(k)]
    test = [np.flatnonzero(which == j) for j in range(k)]
    return datasets.Dataset(
        x_train=np.stack([x[i] for i in train]),  # (k, n − n/k, 40)
        y_train=np.stack([y[i] for i in train]),
        x_test=np.stack([x[i] for i in test]),  # (k, n/k, 40)
        y_test=np.stack([y[i] for i in test]),
        name=f"{data.name}, {k} folds",
        task=data.task,
        n_classes=data.n_classes,
    )


def cross_validate(
    config: TrainConfig, data: datasets.Dataset, n: int, k: int, *, key: jax.Array
) -> dict[str, np.ndarray]:
    """Final test metrics of each of k folds, every fold trained at once.

    Returns ``test_acc`` and ``test_loss``, (k,) each.  One ``vmap`` of the engine's run
    over the folds' data; fold j uses ``split(key, k)[j]``.
    """
    check_key("key", key)
    stacked = fold_datasets(data, n, k)
    trainer = make_train(config)
    keys = jax.random.split(key, k)
    hp = jax.tree.map(jnp.float32, config.hparams())
    runs = jax.jit(jax.vmap(trainer.run, in_axes=(0, 0, None, None, None)))(
        keys, device_data(stacked), jnp.int32(n - n // k), None, hp
    )
    return {m: np.asarray(runs.history[m][:, -1]) for m in ("test_acc", "test_loss")}


def accuracy_draws(
    correct: np.ndarray, m: int, *, key: jax.Array, draws: int = DRAWS
) -> np.ndarray:
    """Accuracy on ``draws`` evaluation sets of m examples drawn without replacement.

    ``correct`` says which of the pool's N examples the model gets right, (N,); each draw
    uses its own key, split from ``key``.  Returns (draws,).
    """
    keys = jax.random.split(key, draws)
    n = len(correct)
    picks = jax.vmap(lambda k: jax.random.choice(k, n, (m,), replace=False))(keys)  # (draws, m)
    return np.asarray(correct, np.float64)[np.asarray(picks)].mean(axis=1)  # (draws,)


@on_disk
def evaluation_study(*, key: jax.Array) -> EvaluationStudy:
    """Train, predict the pool, draw evaluation sets, cross-validate (keys split per use)."""
    k_train, k_draws, k_cv, k_full = jax.random.split(check_key("key", key), 4)
    data = dataset()
    trainer = make_train(CONFIG)
    params = trainer(k_train, data, N_TRAIN).params
    logits = np.asarray(CONFIG.model.apply(params, jnp.asarray(data.x_test)), np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    y_true, y_pred = np.asarray(data.y_test), logits.argmax(axis=1)
    correct = y_true == y_pred
    estimates = [accuracy_draws(correct, m, key=jax.random.fold_in(k_draws, i))
                 for i, m in enumerate(N_EVALS)]  # fmt: skip
    cv = cross_validate(CONFIG, data, N_CV, FOLDS, key=k_cv)["test_acc"]
    held_out = float(trainer(k_full, data, N_CV).history["test_acc"][-1])  # same program
    return EvaluationStudy(y_true, y_pred, probs[:, POSITIVE], np.stack(estimates), cv, held_out)


# ---------------------------------------------------------------------------- the claims


@dataclasses.dataclass
class Claims:
    """The appendix's claims about evaluation, each a verdict on the study it reads."""

    study: EvaluationStudy

    BINOMIAL = 0.10  # measured spread within this relative distance of the binomial formula

    @property
    def spread_follows_the_binomial_formula(self) -> bool:
        """The accuracy measured on m held-out examples spreads as the binomial formula says.

        At every m, the standard deviation over the draws is within 10 % of
        √(p(1 − p)/m)·√((N − m)/(N − 1)); so, while m is small beside the pool, four times
        the examples halve the spread.
        """
        sd = self.study.estimates.std(axis=1, ddof=1)
        return bool(np.all(np.abs(sd / self.study.binomial_sd(N_EVALS) - 1) <= self.BINOMIAL))

    @property
    def cross_validation_is_pessimistic(self) -> bool:
        """Cross-validation is pessimistic here.

        The cross-validated accuracy lies more than two standard errors (over the folds)
        below the held-out accuracy of the model trained on all the examples: its folds'
        models saw four fifths of them.
        """
        gap = self.study.held_out - self.study.cv.mean()
        return bool(gap > 2 * self.study.cv.std(ddof=1) / np.sqrt(FOLDS))


# --------------------------------------------------------------------------- the explorer

BLUE, GREY, RED = "#1f77b4", "#aaaaaa", "#d62728"


def figure(study: EvaluationStudy, values: dict[str, Any]) -> Figure:
    """The spread of the accuracy estimate against m, and the estimates at one m."""
    m = values["n_eval"]
    i = N_EVALS.index(m)
    sd = study.estimates.std(axis=1, ddof=1)
    dense = np.geomspace(N_EVALS[0], N_EVALS[-1], 60)
    spread = Lines(
        [
            Series(dense, study.binomial_sd(dense), "binomial formula", color=GREY, dashed=True),
            Series(N_EVALS, sd, f"measured over {DRAWS} draws", color=BLUE, markers=True,
                   line=False),
            Series([m], [sd[i]], "this m", color=RED, markers=True, line=False),
        ],
        title="spread of the measured accuracy", xlabel="held-out examples m",
        ylabel="standard deviation", xlog=True, ylog=True, legend_loc="lower left",
    )  # fmt: skip
    edges = np.linspace(study.accuracy - 0.25, study.accuracy + 0.25, 41)
    counts, _ = np.histogram(study.estimates[i], bins=edges)
    centres = (edges[1:] + edges[:-1]) / 2
    histogram = Lines(
        [Series(centres, counts / DRAWS, f"m = {m}", color=BLUE)],
        title=f"{DRAWS} measured accuracies, m = {m}", xlabel="accuracy on m examples",
        ylabel="share of draws", xlim=(float(edges[0]), float(edges[-1])), ylim=(0, 0.6),
        vline=study.accuracy, legend=False,
    )  # fmt: skip
    title = (
        f"m = {m}: accuracy {study.estimates[i].mean():.3f} ± {sd[i]:.3f} over the draws "
        f"(binomial {float(study.binomial_sd(m)):.3f}); on all {N_POOL}: {study.accuracy:.3f}"
    )
    return Figure([spread, histogram], title=title, width=10.0, height=3.8)


def confusion_figure(study: EvaluationStudy) -> Figure:
    """The confusion matrix on the pool (rows: true class), as shares of each row."""
    cm = metrics.confusion_matrix(study.y_true, study.y_pred, 10)
    rows = cm / cm.sum(axis=1, keepdims=True)
    labels = [str(k) for k in range(10)]
    heat = Heatmap(rows, labels, labels, title="confusion matrix (share of each true class)",
                   xlabel="predicted class", ylabel="true class", zlabel="share",
                   vmin=0.0, vmax=1.0, fmt="{:.2f}")  # fmt: skip
    fpr, tpr, _ = metrics.roc_curve((study.y_true == POSITIVE).astype(int), study.scores)
    roc = Lines(
        [Series(fpr, tpr, f"class {POSITIVE} against the rest", color=BLUE),
         Series([0, 1], [0, 1], "chance", color=GREY, dashed=True)],
        title=f"ROC, AUC = {metrics.auc(fpr, tpr):.3f}", xlabel="false positive rate",
        ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1), legend_loc="lower right",
    )  # fmt: skip
    return Figure([heat, roc], title="One model on 10 000 held-out examples", width=11, height=4.4)


def explorer(study: EvaluationStudy) -> Explorer:
    """A slider for the number of held-out examples an accuracy is measured on."""
    return Explorer(
        [slider("n_eval", N_EVALS, label="held-out examples m", default=N_EVALS[2])],
        view=lambda values, _: figure(study, values),
        lookup=lambda values: values["n_eval"],
        title="How much does a measured accuracy move with the evaluation set?",
        note=f"{DRAWS} evaluation sets of each size, drawn from {N_POOL} held-out examples "
        "and scored by one trained model (precomputed; nothing retrains).",
    )
