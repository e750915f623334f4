"""Chapter 06: support vector machines — margins, kernels, the dual, and their cost in n.

* :func:`primal` — the linear soft-margin SVM trained by the engine: full-batch
  subgradient descent on the mean hinge loss plus (λ/2)‖w‖², λ = 1/(C·n), which has the
  same minimiser as ½‖w‖² + C Σ max(0, 1 − sᵢf(xᵢ)); compared with our dual solver and
  scikit-learn's ``SVC``.
* :func:`reference_check` — :func:`course.engine.svm.fit` (SMO in JAX) against ``SVC``
  for linear, polynomial and RBF kernels: decision function, signs on a dense grid,
  support-vector sets, accuracy.
* :func:`c_path` / :func:`gamma_path` — what C and γ do: margin, slack, training and
  test error.
* :func:`cost_study` — fit time, memory and kernel evaluations against n for the two
  exact solvers, beside an MLP trained by the engine for a fixed number of steps.
* :func:`duel_moons` / :func:`duel_mnist1d` — an RBF SVM and an MLP, both tuned on
  validation, at small n; :func:`mlp_variants` — bigger or longer-trained MLPs.
* :func:`explorer` — kernel, C, γ, n and noise: boundary, margins, support vectors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from course.engine import data as datasets
from course.engine import svm
from course.engine.memo import on_disk
from course.engine.models import MLP, Linear
from course.engine.runtime import block, stopwatch
from course.engine.sweep import sweep
from course.engine.train import TrainConfig, make_train
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series
from course.ui.widgets import Explorer, slider

# ---------------------------------------------------------------- the primal, by the engine

PRIMAL_DATA = {"kind": "blobs", "n_train": 200, "noise": 0.7}  # two overlapping clusters
PRIMAL_CONFIG = TrainConfig(
    Linear(2, 1),
    loss="hinge",
    optimizer="sgd",
    steps=8000,
    batch_size=None,  # full batch: the subgradient of the whole objective
    n_logs=40,
    lr=0.3,
    l2=0.0,  # a value, set to 1/(C·n) per run
    keep_params=True,
)


def primal_data(*, key: jax.Array) -> datasets.Dataset:
    """The two overlapping Gaussian clusters of the primal and C sections."""
    return datasets.two_d(**PRIMAL_DATA, n_test=1000, key=key)


def objective(w: Any, b: float, x: Any, y: Any, C: float) -> float:
    """The soft-margin primal ½‖w‖² + C Σ max(0, 1 − sᵢ(w·xᵢ + b)) with s = 2y − 1."""
    w, x = np.asarray(w, np.float64), np.asarray(x, np.float64)
    s = 2.0 * np.asarray(y) - 1.0
    return float(0.5 * w @ w + C * np.maximum(0.0, 1.0 - s * (x @ w + b)).sum())


@dataclasses.dataclass
class Primal:
    """The linear SVM three ways: primal by the engine, our dual (SMO), scikit-learn's SVC.

    Attributes:
        C: the penalty.
        w, b: the engine's primal solution.
        loss_curve: the engine's training objective (mean hinge + λ/2‖w‖²) at the logs.
        steps: the logged steps.
        dual: our dual solution (its support vectors are drawn).
        w_svc, b_svc: scikit-learn's.
        objectives: the primal objective of each solution {"engine", "dual", "svc"}.
        margins: 2/‖w‖ of each.
    """

    C: float
    w: np.ndarray
    b: float
    loss_curve: np.ndarray
    steps: np.ndarray
    dual: svm.SVM
    w_svc: np.ndarray
    b_svc: float
    objectives: dict[str, float]
    margins: dict[str, float]

    @property
    def worst_objective_gap(self) -> float:
        """Largest relative excess of a primal objective over SVC's."""
        best = self.objectives["svc"]
        return max((v - best) / best for v in self.objectives.values())

    @property
    def worst_margin_gap(self) -> float:
        """Largest relative difference of a margin from SVC's."""
        ref = self.margins["svc"]
        return max(abs(v - ref) / ref for v in self.margins.values())


def primal(data: datasets.Dataset, *, C: float = 1.0, key: jax.Array) -> Primal:
    """Train the linear SVM in the primal by the engine, and solve it in the dual twice."""
    from sklearn.svm import SVC

    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    n = len(y)
    run = make_train(PRIMAL_CONFIG)(key, data, n, hparams=PRIMAL_CONFIG.hparams(l2=1.0 / (C * n)))
    w = np.asarray(run.params[0]["w"])[:, 0]
    b = float(run.params[0]["b"][0])
    dual = svm.fit(x, y, C=C, kernel="linear")
    ref = SVC(C=C, kernel="linear").fit(x, y)
    solutions = {
        "engine": (w, b),
        "dual": (dual.weights(), float(dual.b)),
        "svc": (ref.coef_[0], float(ref.intercept_[0])),
    }
    return Primal(
        C=C, w=w, b=b, loss_curve=np.asarray(run.history["train_loss"]),
        steps=PRIMAL_CONFIG.log_steps, dual=dual, w_svc=ref.coef_[0], b_svc=solutions["svc"][1],
        objectives={k: objective(wk, bk, x, y, C) for k, (wk, bk) in solutions.items()},
        margins={k: float(2.0 / np.linalg.norm(wk)) for k, (wk, _) in solutions.items()},
    )  # fmt: skip


# ---------------------------------------------------------------- the boundary picture

BOX = (-1.6, 2.6, -1.3, 1.8)  # (x0, x1, y0, y1) around the moons
GRID = 32  # decision function sampled on GRID × GRID points for the contours


def plot_grid(box: Sequence[float] = BOX, size: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """The points where the decision function is drawn: (size·size, 2), and the axes."""
    gx = np.linspace(box[0], box[1], size, dtype=np.float32)
    gy = np.linspace(box[2], box[3], size, dtype=np.float32)
    xx, yy = np.meshgrid(gx, gy)
    return np.stack([xx.ravel(), yy.ravel()], -1), np.stack([gx, gy])


def contour(values: np.ndarray, axes: np.ndarray, level: float) -> tuple[list, list]:
    """The level set {f = level} of a gridded f as x, y lists with NaN between pieces."""
    import contourpy

    gen = contourpy.contour_generator(axes[0], axes[1], values, line_type="Separate")
    xs: list[float] = []
    ys: list[float] = []
    for piece in gen.lines(level):
        xs += [*piece[:, 0], np.nan]
        ys += [*piece[:, 1], np.nan]
    return xs, ys


def boundary_panel(
    x: np.ndarray,
    y: np.ndarray,
    support: np.ndarray,
    surface: np.ndarray,
    axes: np.ndarray,
    *,
    title: str = "",
    box: Sequence[float] = BOX,
    legend: bool = True,
) -> Lines:
    """Points by class, support vectors ringed, f = 0 solid and f = ±1 dashed."""
    series = [
        Series(x[y == 0, 0], x[y == 0, 1], "class 0", color="#1f77b4", line=False),
        Series(x[y == 1, 0], x[y == 1, 1], "class 1", color="#ff7f0e", line=False),
        Series(x[support, 0], x[support, 1], "support vectors", color="#222222",
               line=False, hollow=True),
    ]  # fmt: skip
    for level, label, dashed in ((0.0, "f = 0", False), (1.0, "f = ±1", True), (-1.0, "", True)):
        cx, cy = contour(surface, axes, level)
        series.append(Series(cx, cy, label, color="#444444" if dashed else "#000000",
                             dashed=dashed))  # fmt: skip
    return Lines(
        series, title=title, xlabel="x₁", ylabel="x₂", xlim=(box[0], box[1]),
        ylim=(box[2], box[3]), legend=legend,
    )  # fmt: skip


def primal_figure(result: Primal, data: datasets.Dataset) -> Figure:
    """The engine's linear SVM: boundary, margins and support vectors; its objective."""
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    box = (-4.5, 4.5, -4.6, 3.0)  # room below the clusters for the legend
    points, axes = plot_grid(box)
    surface = (points @ result.w + result.b).reshape(GRID, GRID)
    left = boundary_panel(
        x, y, result.dual.support(), surface, axes, box=box,
        title=f"C = {result.C:g}: margin 2/‖w‖ = {result.margins['engine']:.2f}",
    )  # fmt: skip
    right = Lines(
        [Series(result.steps, result.loss_curve, "mean hinge + λ/2 ‖w‖²")],
        title="the engine's objective falls", xlabel="gradient step", ylabel="objective",
        ylog=True,
    )  # fmt: skip
    return Figure([left, right], width=10.0, height=4.0)


# ---------------------------------------------------------------- reference check

REFERENCE_DATA = {"kind": "moons", "n_train": 400, "noise": 0.25}
REFERENCE_CASES = (  # (kernel, C, γ)
    ("linear", 1.0, 1.0),
    ("linear", 100.0, 1.0),
    ("poly", 1.0, 1.0),
    ("poly", 10.0, 1.0),
    ("rbf", 1.0, 1.0),
    ("rbf", 10.0, 10.0),
    ("rbf", 100.0, 100.0),
)


@dataclasses.dataclass
class Agreement:
    """Our SMO against SVC on one problem.

    Attributes:
        kernel, C, gamma: the problem.
        correlation: of the two decision functions over a dense grid.
        same_sign: fraction of grid points both classify alike.
        support_difference: |symmetric difference of the support sets| / n.
        accuracy_difference: |our test accuracy − SVC's|, in points (percent).
        n_support: support vectors (ours, SVC's).
        seconds: fit times (ours, SVC's), compile excluded.
    """

    kernel: str
    C: float
    gamma: float
    correlation: float
    same_sign: float
    support_difference: float
    accuracy_difference: float
    n_support: tuple[int, int]
    seconds: tuple[float, float]


def mean_ci95(diff: Any) -> tuple[float, float]:
    """Mean of paired differences and the half-width of its 95 % interval (Student's t).

    With k draws the interval is ± t·s/√k, t at k − 1 degrees of freedom (2.36 for 8
    draws, 3.18 for 4, where "2 s.e." would cover only about 86 %). NaN for one draw.
    """
    from scipy.stats import t

    diff = np.asarray(diff, float)
    k = len(diff)
    if k < 2:
        return float(diff.mean()), float("nan")
    return float(diff.mean()), float(t.ppf(0.975, k - 1) * diff.std(ddof=1) / np.sqrt(k))


def _timed(fn: Any) -> tuple[Any, float]:
    """``fn()``'s result, computed to the end, and its wall time (s)."""
    with stopwatch() as clock:
        out = block(fn())
    return out, clock["s"]


def compare(x, y, x_test, y_test, grid, kernel: str, C: float, gamma: float) -> Agreement:
    """Fit our SMO and SVC on one problem and measure how far they agree."""
    from sklearn.svm import SVC

    kw = {"kernel": kernel, "C": C, "gamma": gamma}
    svm.fit(x, y, **kw)  # compile for this shape
    ours, t_ours = _timed(lambda: svm.fit(x, y, **kw))
    ref, t_ref = _timed(
        lambda: SVC(**kw, degree=svm.DEGREE, coef0=svm.COEF0, tol=ours.tol).fit(x, y)
    )
    f, f_ref = ours.decision(grid), ref.decision_function(grid)
    theirs = np.zeros(len(y), bool)
    theirs[ref.support_] = True
    acc = np.mean((ours.decision(x_test) > 0) == (y_test > 0))
    return Agreement(
        kernel, C, gamma,
        correlation=float(np.corrcoef(f, f_ref)[0, 1]),
        same_sign=float(np.mean(np.sign(f) == np.sign(f_ref))),
        support_difference=float(np.sum(ours.support() ^ theirs) / len(y)),
        accuracy_difference=float(100 * abs(acc - ref.score(x_test, y_test))),
        n_support=(int(ours.support().sum()), int(theirs.sum())),
        seconds=(t_ours, t_ref),
    )  # fmt: skip


@on_disk
def reference_check(*, key: jax.Array, cases=REFERENCE_CASES) -> list[Agreement]:
    """Every reference case on one moons set; the decision functions on a 100×100 grid."""
    d = datasets.two_d(**REFERENCE_DATA, n_test=2000, key=key)
    grid, _ = plot_grid(BOX, 100)
    args = [np.asarray(a) for a in (d.x_train, d.y_train, d.x_test, d.y_test)]
    return [compare(*args, grid, *case) for case in cases]


@dataclasses.dataclass
class ReferenceClaims:
    """The issue's thresholds, and whether every case meets them."""

    worst_correlation: float
    worst_same_sign: float
    worst_support_difference: float
    worst_accuracy_difference: float
    correlation_min: float = 0.999
    same_sign_min: float = 0.99
    support_difference_max: float = 0.02
    accuracy_difference_max: float = 1.0

    @property
    def agrees(self) -> bool:
        """Every case within every threshold."""
        return (
            self.worst_correlation >= self.correlation_min
            and self.worst_same_sign >= self.same_sign_min
            and self.worst_support_difference <= self.support_difference_max
            and self.worst_accuracy_difference <= self.accuracy_difference_max
        )


def reference_claims(rows: Sequence[Agreement]) -> ReferenceClaims:
    """The worst case of each agreement measure."""
    return ReferenceClaims(
        worst_correlation=min(r.correlation for r in rows),
        worst_same_sign=min(r.same_sign for r in rows),
        worst_support_difference=max(r.support_difference for r in rows),
        worst_accuracy_difference=max(r.accuracy_difference for r in rows),
    )


# ---------------------------------------------------------------- C and γ

C_PATH = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]


@dataclasses.dataclass
class CPath:
    """The linear SVM along C.

    Attributes:
        Cs: the penalties.
        margin: 2/‖w‖ at each C.
        slack: Σ ξᵢ = Σ max(0, 1 − sᵢf(xᵢ)) at each C.
        train_error: fraction of training points misclassified at each C.
        n_support: support vectors at each C.
    """

    Cs: np.ndarray
    margin: np.ndarray
    slack: np.ndarray
    train_error: np.ndarray
    n_support: np.ndarray

    @property
    def margin_shrinks(self) -> bool:
        """The margin falls at every step up in C."""
        return bool(np.all(np.diff(self.margin) < 0))

    @property
    def slack_falls(self) -> bool:
        """The total slack falls at every step up in C."""
        return bool(np.all(np.diff(self.slack) < 0))

    @property
    def training_error_falls(self) -> bool:
        """Training error at the largest C is below that at the smallest."""
        return bool(self.train_error[-1] < self.train_error[0])


def c_path(data: datasets.Dataset, Cs: Sequence[float] = C_PATH) -> CPath:
    """Solve the linear SVM at every C by SMO."""
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    k = len(Cs)
    fits = svm.fit_many(
        np.broadcast_to(x, (k, *x.shape)), np.broadcast_to(y, (k, len(y))),
        np.ones((k, len(y)), bool), C=np.asarray(Cs), kind=0, gamma=1.0,
        max_steps=200_000,
    )  # fmt: skip
    _check_converged(fits)
    f = fits.decision(x)  # (k, n)
    s = 2.0 * y - 1.0
    return CPath(
        Cs=np.asarray(Cs), margin=2.0 / np.linalg.norm(fits.weights(), axis=-1),
        slack=np.maximum(0.0, 1.0 - s * f).sum(-1), train_error=np.mean((f > 0) != (y > 0), -1),
        n_support=fits.support().sum(-1),
    )  # fmt: skip


def _check_converged(fits: svm.SVM) -> None:
    if not np.all(fits.converged):
        worst = float(np.max(fits.gap))
        raise RuntimeError(
            f"SMO did not converge on every problem (worst gap {worst:.3g} > tol {fits.tol}); "
            "raise max_steps"
        )


GAMMA_PATH = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
GAMMA_DATA = {"kind": "moons", "n_train": 100, "noise": 0.3}
GAMMA_C = 10.0
GAMMA_DRAWS = 8


@dataclasses.dataclass
class GammaPath:
    """The RBF SVM along γ over several data draws.

    Attributes:
        gammas: kernel widths.
        train_error, test_error: (draw, γ).
        support_fraction: support vectors / n, (draw, γ).
    """

    gammas: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    support_fraction: np.ndarray

    def mean(self, name: str) -> np.ndarray:
        """Mean over draws."""
        return getattr(self, name).mean(0)

    def sem(self, name: str) -> np.ndarray:
        """Standard error over draws (sample std, ddof 1)."""
        v = getattr(self, name)
        return v.std(0, ddof=1) / np.sqrt(v.shape[0])

    @property
    def best(self) -> int:
        """Index of the γ with the lowest mean test error."""
        return int(np.argmin(self.mean("test_error")))

    def excess(self, i: int) -> tuple[float, float]:
        """Test error at γ[i] minus at the best γ, paired over draws: mean and 95 % half-width."""
        return mean_ci95(self.test_error[:, i] - self.test_error[:, self.best])

    @property
    def underfits_and_memorises(self) -> bool:
        """The best γ is interior; both ends are worse, beyond the 95 % interval (paired)."""
        ends = [self.excess(0), self.excess(len(self.gammas) - 1)]
        return 0 < self.best < len(self.gammas) - 1 and all(m > e for m, e in ends)

    @property
    def memorises(self) -> bool:
        """At the largest γ: it memorises, and fails on new points.

        Zero training error in every draw, support vectors ≥ 95 % of n, and a test error
        near a coin toss (above 40 %).
        """
        return bool(
            np.all(self.train_error[:, -1] == 0)
            and self.mean("support_fraction")[-1] >= 0.95
            and self.mean("test_error")[-1] > 0.4
        )


@on_disk
def gamma_path(*, key: jax.Array, gammas: Sequence[float] = GAMMA_PATH) -> GammaPath:
    """The RBF SVM at every γ on GAMMA_DRAWS moons draws, by SMO."""
    sets = [
        datasets.two_d(**GAMMA_DATA, n_test=1000, key=k) for k in jax.random.split(key, GAMMA_DRAWS)
    ]
    cases = list(itertools.product(range(GAMMA_DRAWS), range(len(gammas))))
    x = np.stack([np.asarray(sets[d].x_train) for d, _ in cases])
    y = np.stack([np.asarray(sets[d].y_train) for d, _ in cases])
    fits = svm.fit_many(
        x, y, np.ones(y.shape, bool), C=GAMMA_C, kind=2,
        gamma=np.asarray([gammas[g] for _, g in cases]),
    )  # fmt: skip
    _check_converged(fits)
    xt = np.stack([np.asarray(sets[d].x_test) for d, _ in cases])
    yt = np.stack([np.asarray(sets[d].y_test) for d, _ in cases])
    f_train = fits.decision(x)
    f_test = fits.decision(xt)
    shape = (GAMMA_DRAWS, len(gammas))
    return GammaPath(
        gammas=np.asarray(gammas),
        train_error=np.mean((f_train > 0) != (y > 0), -1).reshape(shape),
        test_error=np.mean((f_test > 0) != (yt > 0), -1).reshape(shape),
        support_fraction=fits.support().mean(-1).reshape(shape),
    )


def gamma_figure(path: GammaPath) -> Figure:
    """Training and test error, and the fraction of support vectors, against γ."""
    g = path.gammas
    errors = Lines(
        [
            Series(g, path.mean("train_error"), "train", err=2 * path.sem("train_error"),
                   dashed=True, markers=True),
            Series(g, path.mean("test_error"), "test", err=2 * path.sem("test_error"),
                   markers=True),
        ],
        title=f"RBF SVM, C = {GAMMA_C:g}, n = {GAMMA_DATA['n_train']}: error against γ "
        f"(bands: 2 s.e. over {GAMMA_DRAWS} draws)",
        xlabel="γ (larger: narrower kernel)", ylabel="error", xlog=True,
    )  # fmt: skip
    support = Lines(
        [Series(g, path.mean("support_fraction"), "support vectors / n", markers=True)],
        title="how many points the boundary rests on", xlabel="γ", ylabel="fraction",
        xlog=True, ylim=(0, 1.05),
    )  # fmt: skip
    return Figure([errors, support], width=10.0, height=3.6)


# ---------------------------------------------------------------- cost against n

COST_SIZES = [250, 500, 1000, 2000, 4000, 8000, 16000]
COST_DATA = {"kind": "moons", "noise": 0.3}
COST_SVM = {"kernel": "rbf", "C": 1.0, "gamma": 1.0}
FIT_FROM = 2000  # growth exponents are fitted from this n up (below, fixed costs dominate)
MLP_CONFIG = TrainConfig(
    MLP(2, (64, 64), 2), steps=2000, batch_size=100, n_logs=4, lr=3e-3
)  # a fixed budget of Adam steps, whatever n


@contextlib.contextmanager
def peak_memory() -> Any:
    """Measure the peak resident memory added inside the block, in MB (Linux).

    Resets the kernel's high-water mark (``/proc/self/clear_refs``), then reads
    ``VmHWM``; yields a dict whose ``"mb"`` is filled on exit (NaN where unsupported).
    """
    out = {"mb": float("nan")}

    def read(field: str) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return float(line.split()[1]) * 1024 / 1e6  # kB → MB
        raise OSError(field)

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = read("VmRSS")
    except OSError:
        yield out
        return
    yield out
    out["mb"] = max(read("VmHWM") - before, 0.0)


@dataclasses.dataclass
class Cost:
    """Fit cost and test accuracy against n.

    Attributes:
        sizes: training-set sizes n.
        seconds: {"smo", "svc", "mlp"} → fit seconds per n (compile excluded).
        memory_mb: {"smo", "svc"} → peak memory added during the fit per n.
        accuracy: {"smo", "svc", "mlp"} → test accuracy per n.
        kernel_evaluations: our solver's kernel evaluations per n (2 rows of n per step).
        n_support: our support vectors per n.
    """

    sizes: np.ndarray
    seconds: dict[str, np.ndarray]
    memory_mb: dict[str, np.ndarray]
    accuracy: dict[str, np.ndarray]
    kernel_evaluations: np.ndarray
    n_support: np.ndarray

    def exponent(self, values: Any) -> float:
        """Slope of log(values) against log(n) over n ≥ FIT_FROM (least squares)."""
        keep = self.sizes >= FIT_FROM
        return float(np.polyfit(np.log(self.sizes[keep]), np.log(np.asarray(values)[keep]), 1)[0])

    @property
    def work_is_superlinear(self) -> bool:
        """Kernel evaluations grow faster than n (exponent above 1.3)."""
        return self.exponent(self.kernel_evaluations) > 1.3

    def time_is_superlinear(self, name: str) -> bool:
        """Fit time grows faster than n (exponent above 1.3)."""
        return self.exponent(self.seconds[name]) > 1.3

    def dense_kernel_mb(self) -> np.ndarray:
        """What storing the n × n kernel matrix in float32 would take, in MB (10⁶ bytes)."""
        return 4.0 * self.sizes.astype(float) ** 2 / 1e6

    @property
    def support_grows_with_n(self) -> bool:
        """The number of support vectors grows nearly in proportion to n (exponent > 0.8)."""
        return self.exponent(self.n_support) > 0.8

    @property
    def mlp_overtakes(self) -> bool:
        """From the crossover on, the MLP is cheaper than SVC and within a point of its accuracy."""
        cut = self.crossover()
        if cut is None:
            return False
        later = self.sizes >= cut
        return bool(
            np.all(self.seconds["mlp"][later] < self.seconds["svc"][later])
            and np.all(self.accuracy["mlp"][later] >= self.accuracy["svc"][later] - 0.01)
        )

    def crossover(self) -> int | None:
        """The smallest n at which SVC's fit takes longer than the MLP's fixed budget."""
        slower = self.seconds["svc"] > self.seconds["mlp"]
        return int(self.sizes[np.argmax(slower)]) if slower.any() else None


@on_disk
def cost_study(*, key: jax.Array, sizes: Sequence[int] = COST_SIZES, repeats: int = 3) -> Cost:
    """Time SMO, SVC and a fixed-budget MLP at each n on one moons pool (best of repeats)."""
    from sklearn.svm import SVC

    k_data, k_mlp = jax.random.split(key)
    d = datasets.two_d(**COST_DATA, n_train=max(sizes), n_test=2000, key=k_data)
    x, y = np.asarray(d.x_train), np.asarray(d.y_train)
    xt, yt = np.asarray(d.x_test), np.asarray(d.y_test)
    train = make_train(MLP_CONFIG)
    train(k_mlp, d, sizes[0])  # compile once: n is a value
    rows: dict[str, list] = {k: [] for k in ("smo", "svc", "mlp", "m_smo", "m_svc", "a_smo",
                                             "a_svc", "a_mlp", "evals", "nsv")}  # fmt: skip
    for n in sizes:
        svm.fit(x[:n], y[:n], **COST_SVM)  # compile for this n
        best = {"smo": np.inf, "svc": np.inf, "mlp": np.inf}
        for _ in range(repeats):
            with peak_memory() as m_smo:
                ours, t = _timed(lambda n=n: svm.fit(x[:n], y[:n], **COST_SVM))
            best["smo"] = min(best["smo"], t)
            with peak_memory() as m_svc:
                ref, t = _timed(lambda n=n: SVC(**COST_SVM).fit(x[:n], y[:n]))
            best["svc"] = min(best["svc"], t)
            run, t = _timed(lambda n=n: train(k_mlp, d, n).history)
            best["mlp"] = min(best["mlp"], t)
        for name in best:
            rows[name].append(best[name])
        rows["m_smo"].append(m_smo["mb"])
        rows["m_svc"].append(m_svc["mb"])
        rows["a_smo"].append(float(np.mean((ours.decision(xt) > 0) == (yt > 0))))
        rows["a_svc"].append(float(ref.score(xt, yt)))
        rows["a_mlp"].append(float(run["test_acc"][-1]))
        rows["evals"].append(2.0 * ours.steps * n + n)
        rows["nsv"].append(int(ours.support().sum()))
    arr = {k: np.asarray(v) for k, v in rows.items()}
    return Cost(
        sizes=np.asarray(sizes),
        seconds={k: arr[k] for k in ("smo", "svc", "mlp")},
        memory_mb={"smo": arr["m_smo"], "svc": arr["m_svc"]},
        accuracy={"smo": arr["a_smo"], "svc": arr["a_svc"], "mlp": arr["a_mlp"]},
        kernel_evaluations=arr["evals"],
        n_support=arr["nsv"],
    )


# ---------------------------------------------------------------- small n: SVM against MLP

DUEL_DRAWS = 8  # moons data sets (each with its own validation and test set)
DUEL_MOONS = {"kind": "moons", "n_train": 100, "noise": 0.3}
DUEL_SVM_GRID = {"C": [0.1, 1.0, 10.0, 100.0], "gamma": [0.1, 1.0, 10.0]}
DUEL_MNIST_N = 500
DUEL_MNIST_DRAWS = 8  # disjoint subsets of MNIST-1D's 4000 training examples
DUEL_MNIST_SVM_GRID = {"C": [1.0, 10.0, 100.0], "gamma": [0.03, 0.1, 0.3]}
DUEL_WIDTHS = [4, 8, 32, 128]
DUEL_MNIST_WIDTHS = [32, 128, 512]
DUEL_SEEDS = 2  # MLP seeds per draw on moons (1 on MNIST-1D)
N_VAL = 500
DUEL_CONFIGS = {
    "moons": TrainConfig(MLP(2, (128, 128), 2), steps=2000, batch_size=50, n_logs=4, lr=3e-3),
    "MNIST-1D": TrainConfig(MLP(40, (512,), 10), steps=1000, batch_size=100, n_logs=4, lr=3e-3),
}  # fmt: skip


@dataclasses.dataclass
class Duel:
    """Test error of an RBF SVM and an MLP, each tuned on a validation set, per data draw.

    Attributes:
        task: the data set's name.
        n: training examples.
        svm_error, mlp_error: test error per draw (draw,).
        svm_choice, mlp_choice: the validation-chosen (C, γ) and width, per draw.
    """

    task: str
    n: int
    svm_error: np.ndarray
    mlp_error: np.ndarray
    svm_choice: list
    mlp_choice: list

    def difference(self) -> tuple[float, float]:
        """MLP error − SVM error, paired by draw: mean and 95 % half-width (Student's t)."""
        return mean_ci95(self.mlp_error - self.svm_error)

    @property
    def winner(self) -> str:
        """Who is ahead beyond the 95 % interval: "svm", "mlp", or "tie"."""
        mean, half = self.difference()
        if not np.isfinite(half) or abs(mean) <= half:
            return "tie"
        return "svm" if mean > 0 else "mlp"


def _mlp_tuned(config: TrainConfig, d: datasets.Dataset, widths, n: int, seeds: int, *, key):
    result = sweep(config, d, key=key, seeds=seeds, n_trains=[n], widths=widths, progress=False)
    val = result.final("val_acc").mean(0)[0]  # (width,)
    best = int(np.argmax(val))
    return 1.0 - float(result.final("test_acc").mean(0)[0][best]), widths[best]


@on_disk
def duel_moons(*, key: jax.Array) -> Duel:
    """Moons, n = 100, DUEL_DRAWS draws: SVM (C, γ) and MLP width chosen on validation."""
    k_data, k_mlp = jax.random.split(key)
    sets = [
        datasets.split_validation(datasets.two_d(**DUEL_MOONS, n_test=1000 + N_VAL, key=k), N_VAL)
        for k in jax.random.split(k_data, DUEL_DRAWS)
    ]
    grid = list(itertools.product(DUEL_SVM_GRID["C"], DUEL_SVM_GRID["gamma"]))
    cases = list(itertools.product(range(DUEL_DRAWS), grid))
    x = np.stack([np.asarray(sets[i].x_train) for i, _ in cases])
    y = np.stack([np.asarray(sets[i].y_train) for i, _ in cases])
    fits = svm.fit_many(x, y, np.ones(y.shape, bool), C=np.asarray([c for _, (c, _) in cases]),
                        kind=2, gamma=np.asarray([g for _, (_, g) in cases]))  # fmt: skip
    _check_converged(fits)

    def errors(split: str) -> np.ndarray:  # (draw, grid)
        xs = np.stack([np.asarray(getattr(sets[i], f"x_{split}")) for i, _ in cases])
        ys = np.stack([np.asarray(getattr(sets[i], f"y_{split}")) for i, _ in cases])
        wrong = (fits.decision(xs) > 0) != (ys > 0)
        return wrong.mean(-1).reshape(DUEL_DRAWS, len(grid))

    val, test = errors("val"), errors("test")
    pick = val.argmin(1)
    mlp = [
        _mlp_tuned(DUEL_CONFIGS["moons"], s, DUEL_WIDTHS, DUEL_MOONS["n_train"], DUEL_SEEDS, key=k)
        for s, k in zip(sets, jax.random.split(k_mlp, DUEL_DRAWS), strict=True)
    ]
    return Duel(
        "moons", DUEL_MOONS["n_train"], svm_error=test[np.arange(DUEL_DRAWS), pick],
        mlp_error=np.asarray([e for e, _ in mlp]), svm_choice=[grid[p] for p in pick],
        mlp_choice=[w for _, w in mlp],
    )  # fmt: skip


@on_disk
def duel_mnist1d(*, key: jax.Array) -> Duel:
    """MNIST-1D, n = 500 on disjoint subsets: multi-class RBF SVC against the engine's MLP.

    scikit-learn's SVC (one against one over the 10 classes) and the MLP are each tuned on
    the same validation set.
    """
    from sklearn.svm import SVC

    d = datasets.split_validation(datasets.mnist1d(), N_VAL)
    n = DUEL_MNIST_N
    grid = list(itertools.product(DUEL_MNIST_SVM_GRID["C"], DUEL_MNIST_SVM_GRID["gamma"]))
    svm_error, mlp_error, svm_choice, mlp_choice = [], [], [], []
    for i, k in enumerate(jax.random.split(key, DUEL_MNIST_DRAWS)):
        part = d.replace(
            x_train=d.x_train[i * n : (i + 1) * n], y_train=d.y_train[i * n : (i + 1) * n]
        )
        x, y = np.asarray(part.x_train), np.asarray(part.y_train)
        fits = {cg: SVC(C=cg[0], gamma=cg[1]).fit(x, y) for cg in grid}
        best = max(grid, key=lambda cg: fits[cg].score(part.x_val, part.y_val))
        svm_error.append(1.0 - fits[best].score(part.x_test, part.y_test))
        svm_choice.append(best)
        err, width = _mlp_tuned(DUEL_CONFIGS["MNIST-1D"], part, DUEL_MNIST_WIDTHS, n, 1, key=k)
        mlp_error.append(err)
        mlp_choice.append(width)
    return Duel("MNIST-1D", n, np.asarray(svm_error), np.asarray(mlp_error), svm_choice,
                mlp_choice)  # fmt: skip


# ---------------------------------------------------------------- the explorer

KERNEL_CHOICES = {"linear": "linear", "polynomial (degree 3)": "poly", "RBF": "rbf"}
EXPLORER_CS = [0.1, 1.0, 10.0, 100.0]
EXPLORER_GAMMAS = [0.1, 1.0, 10.0, 100.0]  # the RBF's γ
POLY_GAMMA = 1.0  # the polynomial kernel keeps γ = 1: larger γ makes its dual ill-conditioned
EXPLORER_SIZES = [50, 100, 200]
EXPLORER_NOISES = [0.1, 0.3]
CONTROL_NAMES = ("kernel", "C", "gamma", "n_train", "noise")


def explorer_data(*, key: jax.Array) -> dict[float, datasets.Dataset]:
    """One moons pool per noise level (the first n_train points are the training set)."""
    return {
        noise: datasets.two_d("moons", n_train=max(EXPLORER_SIZES), n_test=1000, noise=noise,
                              key=k)
        for noise, k in zip(EXPLORER_NOISES, jax.random.split(key, len(EXPLORER_NOISES)),
                            strict=True)
    }  # fmt: skip


@dataclasses.dataclass
class View:
    """What the explorer draws for one setting.

    Attributes:
        x, y: the training points (n, 2), (n,).
        support: support-vector mask (n,).
        surface: the decision function on the plot grid (GRID, GRID).
        train_error, test_error: errors of this fit.
        margin: 2/‖w‖ for the linear kernel, else NaN.
    """

    x: np.ndarray
    y: np.ndarray
    support: np.ndarray
    surface: np.ndarray
    train_error: float
    test_error: float
    margin: float


def problem(values: dict[str, Any]) -> tuple[int, float, float]:
    """The explorer setting's (kernel index, C, γ) as the solver takes them."""
    kind = svm.KERNELS.index(values["kernel"])
    gamma = POLY_GAMMA if values["kernel"] == "poly" else values["gamma"]
    return kind, float(values["C"]), float(gamma)


def solve_views(
    settings: Sequence[dict[str, Any]], pools: dict[float, datasets.Dataset]
) -> list[View]:
    """Solve every setting by SMO and compute what its view draws.

    Every problem is padded to the largest n, so one compiled program per kernel serves all.
    """
    size = max(EXPLORER_SIZES)
    x = np.stack([np.asarray(pools[v["noise"]].x_train)[:size] for v in settings])
    y = np.stack([np.asarray(pools[v["noise"]].y_train)[:size] for v in settings])
    valid = np.arange(size)[None, :] < np.asarray([v["n_train"] for v in settings])[:, None]
    kind, C, gamma = (np.asarray(a) for a in zip(*(problem(v) for v in settings), strict=True))
    fits = svm.fit_many(x, y, valid, C=C, kind=kind, gamma=gamma)
    _check_converged(fits)
    points, _ = plot_grid()
    # each problem gets its own copy of the points: the per-problem program a live solve of
    # one setting also runs, so its surface matches the grid's to float rounding
    surfaces = fits.decision(np.broadcast_to(points, (len(settings), *points.shape)))
    xt = np.stack([np.asarray(pools[v["noise"]].x_test) for v in settings])
    yt = np.stack([np.asarray(pools[v["noise"]].y_test) for v in settings])
    f_test = fits.decision(xt)
    f_train = fits.decision(x)
    support = fits.support()
    w = fits.weights()
    views = []
    for i, v in enumerate(settings):
        n = v["n_train"]
        views.append(View(
            x=x[i, :n], y=y[i, :n], support=support[i, :n],
            surface=surfaces[i].reshape(GRID, GRID),
            train_error=float(np.mean((f_train[i, :n] > 0) != (y[i, :n] > 0))),
            test_error=float(np.mean((f_test[i] > 0) != (yt[i] > 0))),
            margin=float(2 / np.linalg.norm(w[i])) if v["kernel"] == "linear" else float("nan"),
        ))  # fmt: skip
    return views


def explorer_controls() -> list:
    """Kernel, C, γ, n and noise, in display order."""
    return [
        dropdown("kernel", KERNEL_CHOICES, label="kernel", default="rbf"),
        slider("C", EXPLORER_CS, label="C (penalty on slack)", default=1.0),
        slider("gamma", EXPLORER_GAMMAS, label="γ (RBF width)", default=1.0),
        slider("n_train", EXPLORER_SIZES, label="training examples n", default=100),
        slider("noise", EXPLORER_NOISES, label="noise", default=0.3),
    ]


@dataclasses.dataclass
class Grid:
    """Every setting of the explorer's controls, solved in advance."""

    views: dict[tuple, View]

    def __getitem__(self, values: dict[str, Any]) -> View:
        return self.views[tuple(values[k] for k in CONTROL_NAMES)]


def explorer_settings() -> list[dict[str, Any]]:
    """Every combination of the explorer's control values, as dicts keyed by control name."""
    return [
        dict(zip(CONTROL_NAMES, combo, strict=True))
        for combo in itertools.product(*(c.values for c in explorer_controls()))
    ]


@on_disk
def explorer_grid(pools: dict[float, datasets.Dataset]) -> Grid:
    """Solve the whole control grid by SMO."""
    settings = explorer_settings()
    views = solve_views(settings, pools)
    return Grid({tuple(s[k] for k in CONTROL_NAMES): v for s, v in zip(settings, views,
                                                                       strict=True)})  # fmt: skip


def explorer_figure(grid: Grid, view: View, values: dict[str, Any]) -> Figure:
    """The boundary at this setting, and train/test error against C from the grid."""
    kernel = {v: k for k, v in KERNEL_CHOICES.items()}[values["kernel"]]
    gamma = "" if values["kernel"] == "linear" else (
        f", γ = {POLY_GAMMA:g}" if values["kernel"] == "poly" else f", γ = {values['gamma']:g}"
    )  # fmt: skip
    margin = "" if np.isnan(view.margin) else f", margin {view.margin:.2f}"
    _, axes = plot_grid()
    left = boundary_panel(
        view.x, view.y, view.support, view.surface, axes,
        title=f"{int(view.support.sum())} support vectors of n = {len(view.y)}{margin}",
        legend=False,
    )  # fmt: skip
    along = [grid[{**values, "C": c}] for c in EXPLORER_CS]
    right = Lines(
        [
            Series(EXPLORER_CS, [v.train_error for v in along], "train", dashed=True,
                   markers=True),
            Series(EXPLORER_CS, [v.test_error for v in along], "test (1000 points)",
                   markers=True),
        ],
        title="error against C at this kernel, γ, n and noise",
        xlabel="C", ylabel="error", xlog=True, vline=float(values["C"]), ylim=(0, 0.5),
    )  # fmt: skip
    caption = (
        f"{kernel}, C = {values['C']:g}{gamma}, n = {len(view.y)}, noise {values['noise']:g}: "
        f"train error {view.train_error:.0%}, test error {view.test_error:.0%}"
    )
    return Figure([left, right], title=caption, width=10.0, height=4.2)


def explorer(grid: Grid, pools: dict[float, datasets.Dataset]) -> Explorer:
    """The chapter's explorer: kernel, C, γ, n and noise move the boundary and its margin."""
    return Explorer(
        explorer_controls(),
        view=lambda values, view: explorer_figure(grid, view, values),
        lookup=lambda values: grid[values],
        live=lambda values: solve_views([values], pools)[0],
        title="A kernel SVM on two moons: kernel, C, γ, n and noise",
        note="Solid line: the boundary f = 0; dashed: the margins f = ±1; ringed: the support "
        "vectors (blue class 0, orange class 1). Every setting was solved in advance by our "
        "SMO; 'retrain live' solves the shown one again.",
    )


COST_LABELS = {"smo": "SMO (ours, JAX)", "svc": "SVC (LIBSVM)", "mlp": "MLP, 2000 Adam steps"}


def cost_figure(cost: Cost) -> Figure:
    """Fit time and test accuracy against n for the two exact SVM solvers and the MLP."""
    n = cost.sizes
    times = Lines(
        [Series(n, cost.seconds[k], label, markers=True) for k, label in COST_LABELS.items()],
        title="fit time against n (log-log)", xlabel="training examples n",
        ylabel="seconds", xlog=True, ylog=True,
    )  # fmt: skip
    accuracy = Lines(
        [Series(n, cost.accuracy[k], label, markers=True, dashed=k == "svc")
         for k, label in COST_LABELS.items()],
        title="test accuracy against n", xlabel="training examples n", ylabel="accuracy",
        xlog=True,
    )  # fmt: skip
    return Figure([times, accuracy], width=10.0, height=3.6)


MLP_VARIANTS = {
    "wider: 40 → 2048 → 10, 1000 steps": (MLP(40, (2048,), 10), 1000, 3e-3),
    "deeper: 40 → 512 → 512 → 10, 2000 steps": (MLP(40, (512, 512), 10), 2000, 1e-3),
    "longer: 40 → 512 → 10, 3000 steps": (MLP(40, (512,), 10), 3000, 1e-3),
}


@on_disk
def mlp_variants(*, key: jax.Array) -> dict[str, float]:
    """Test error of bigger or longer-trained MLPs on the first MNIST-1D duel draw (one seed)."""
    d = datasets.split_validation(datasets.mnist1d(), N_VAL)
    n = DUEL_MNIST_N
    part = d.replace(x_train=d.x_train[:n], y_train=d.y_train[:n])
    out = {}
    for (label, (model, steps, lr)), k in zip(
        MLP_VARIANTS.items(), jax.random.split(key, len(MLP_VARIANTS)), strict=True
    ):
        config = TrainConfig(model, steps=steps, batch_size=100, n_logs=4, lr=lr)
        result = sweep(config, part, key=k, seeds=1, n_trains=[n], progress=False)
        out[label] = 1.0 - float(result.final("test_acc").mean())
    return out
