"""Chapter 10: scaling laws and compute — the sources' central question, measured.

* :func:`n_params`, :func:`training_flops`, :func:`flop_check` — counting a model's size N and
  its training compute C ≈ 6·N·D, and checking the count against XLA's own cost analysis of
  one compiled training step.
* :func:`grid_study` — one engine sweep: MLPs of 8 widths × 7 training-set sizes × 3 seeds on
  MNIST-1D, every run logged 32 times, so that each (N, D) point is early-stopped on a
  validation set and each training curve is a loss-against-compute curve.
* :func:`fit_law` — a power law with a floor, L = E + A·x^(−α), or an exponential law with a
  floor, L = E + A·exp(−k·x), fitted by variable projection (the rate by a 1-D search, E and
  A ≥ 0 by non-negative least squares on relative residuals); :func:`bootstrap_rates` gives
  its uncertainty by resampling seeds.
* :func:`frontier` — the compute-optimal model size for each compute budget, from the
  envelope of the training curves (Hoffmann et al. 2022's first approach), and its slope.
* :func:`fit_surface` — Kaplan et al. (2020)'s L(N, D) with a floor, for the explorer.
* :class:`Claims` — the chapter's claims, each a verdict on the study it reads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import least_squares, minimize_scalar, nnls

from course.engine import data as datasets
from course.engine.checks import check_array, check_choice, check_int, check_key
from course.engine.memo import on_disk
from course.engine.models import CNN1D, MLP
from course.engine.sweep import SweepResult, log_grid, sweep, sweep_point
from course.engine.train import TrainConfig, device_data, make_train
from course.ui.figures import Figure, Heatmap, Lines, Series, band
from course.ui.widgets import Explorer, slider

WIDTHS = log_grid(2, 256, 8)  # hidden units of the one-hidden-layer MLP 40 → width → 10
N_TRAINS = log_grid(500, 32000, 7)  # training examples
N_POOL = N_TRAINS[-1]
N_TEST, N_VAL = 4000, 1000  # MNIST-1D's held-out draws: the last 1000 choose the early stop
SEEDS = 3
BATCH = 100
STEPS = 3200
# the 32 000-example pool would cost about as much to evaluate at every log as to train on,
# and nothing here reads the training loss: only validation (to stop early) and test
CONFIG = TrainConfig(MLP(40, (max(WIDTHS),), 10), steps=STEPS, batch_size=BATCH, n_logs=32,
                     lr=2e-3, log_train=False)  # fmt: skip
BUDGETS = [400, 1200, 3200]  # the explorer's step budgets
BOOT = 300  # bootstrap replicates
FORMS = ("power", "exponential")


def dataset() -> datasets.Dataset:
    """MNIST-1D with a pool of 32 000 training examples, 3000 test and 1000 validation."""
    return datasets.split_validation(datasets.mnist1d(n_train=N_POOL, n_test=N_TEST), N_VAL)


# ------------------------------------------------------------------------ counting compute


def n_params(width: int) -> int:
    """Parameters N of the chapter's MLP at ``width`` hidden units: 40·w + w + 10·w + 10."""
    return CONFIG.model.n_params(check_int("width", width, 1, max(WIDTHS)))


def sizes() -> np.ndarray:
    """Parameters N of every width of :data:`WIDTHS`, (width,), float."""
    return np.array([n_params(w) for w in WIDTHS], np.float64)


def training_flops(width: int, steps: Any, batch: int = BATCH) -> Any:
    """C = 6·N·D: training FLOPs of ``steps`` steps of ``batch`` examples (D = steps·batch)."""
    return 6.0 * n_params(width) * batch * np.asarray(steps, dtype=np.float64)


FLOP_MODELS = {
    "MLP 40→16→10": MLP(40, (16,), 10),
    "MLP 40→256→10": MLP(40, (256,), 10),
    "MLP 40→256→256→10": MLP(40, (256, 256), 10),
    "CNN of chapter 07 (24 channels, kernel 5)": CNN1D(40, (24,) * 3, 10, 5, 2),
}


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """One compiled training step counted two ways."""

    name: str
    n_params: int
    first_layer: int | None  # parameters of an MLP's first layer, N₁ (None: not an MLP)
    xla: float  # FLOPs of one step by XLA's cost analysis
    batch: int

    @property
    def six_nd(self) -> float:
        """6·N·B: the rule of thumb for one step of B examples."""
        return 6.0 * self.n_params * self.batch

    @property
    def refined(self) -> float | None:
        """(6·N − 2·N₁)·B, the count without the first layer's input gradient (None: no MLP).

        Nothing needs the gradient of the loss with respect to the input, so the first
        layer's weights cost 4 FLOPs per example (forward, weight gradient), not 6.
        """
        if self.first_layer is None:
            return None
        return (6.0 * self.n_params - 2.0 * self.first_layer) * self.batch


def _xla_step_flops(model: Any, batch: int) -> float:
    """FLOPs of one compiled Adam step of ``model`` on MNIST-1D, by XLA's cost analysis."""
    config = TrainConfig(model, steps=1, batch_size=batch, n_logs=1)
    trainer = make_train(config)
    data = device_data(datasets.mnist1d())
    hp = config.hparams()
    state = trainer.init_state(jax.random.key(0), None, hp)
    step = jax.jit(lambda s: trainer.step(s, data, jnp.int32(batch), None, hp))
    cost = step.lower(state).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


def flop_check(batch: int = BATCH) -> list[FlopCount]:
    """Every model of :data:`FLOP_MODELS`, counted by XLA and by the rule of thumb."""
    batch = check_int("batch", batch, 1, 100_000)
    out = []
    for name, model in FLOP_MODELS.items():
        first = (model.n_in + 1) * model.hidden[0] if isinstance(model, MLP) else None
        out.append(FlopCount(name, model.n_params(), first, _xla_step_flops(model, batch), batch))
    return out


# ----------------------------------------------------------------------------- the study


@on_disk(ignore=("progress",))
def grid_study(*, key: jax.Array, progress: bool = True) -> SweepResult:
    """Widths × training-set sizes × seeds, 3200 Adam steps each: one engine sweep."""
    check_key("key", key)
    return sweep(
        CONFIG, dataset(), key=key, seeds=SEEDS, n_trains=N_TRAINS, widths=WIDTHS, progress=progress
    )


def early_stopped_curve(result: SweepResult) -> np.ndarray:
    """Early-stopped test loss as the budget grows, with the metrics' shape (..., log).

    At each log: the test loss at the logged step of lowest validation loss so far.
    """
    val, test = result.metrics["val_loss"], result.metrics["test_loss"]
    best = np.zeros(val.shape[:-1], dtype=int)  # the best log so far
    out = np.empty_like(test)
    for k in range(val.shape[-1]):
        vbest = np.take_along_axis(val, best[..., None], axis=-1)[..., 0]
        best = np.where(val[..., k] < vbest, k, best)
        out[..., k] = np.take_along_axis(test, best[..., None], axis=-1)[..., 0]
    return out


def early_stopped(result: SweepResult, steps: int | None = None) -> np.ndarray:
    """Test loss at the logged step of lowest validation loss, among steps ≤ ``steps``.

    Returns an array with the result's axes (the log axis removed).  ``steps`` None: all.
    """
    return early_stopped_curve(result)[..., budget_log(result.steps, steps)]


def budget_log(logged: Any, steps: int | None) -> int:
    """Index of the last logged step within a budget of ``steps`` (None: the last log)."""
    logged = np.asarray(logged)
    last = len(logged) if steps is None else int(np.searchsorted(logged, steps, side="right"))
    if last < 1:
        raise ValueError(f"steps must be at least the first logged step {logged[0]}, got {steps}")
    return last - 1


# ------------------------------------------------------------------------ fitting the laws


@dataclasses.dataclass(frozen=True)
class Law:
    """L = floor + scale·x^(−rate) (power) or floor + scale·exp(−rate·x) (exponential)."""

    form: str
    floor: float
    scale: float
    rate: float

    def __call__(self, x: Any) -> np.ndarray:
        """The law at sizes ``x``."""
        return self.floor + self.scale * _basis(self.form, np.asarray(x, np.float64), self.rate)

    def __str__(self) -> str:
        if self.form == "power":
            return f"L = {self.floor:.3f} + {self.scale:.3g}·x^(−{self.rate:.3f})"
        return f"L = {self.floor:.3f} + {self.scale:.3g}·exp(−{self.rate:.3g}·x)"


def _basis(form: str, x: np.ndarray, rate: float) -> np.ndarray:
    return x ** (-rate) if form == "power" else np.exp(-rate * x)


def _rates(form: str, x: np.ndarray) -> np.ndarray:
    """The search grid of the rate: exponents for a power law, 1/x scales for an exponential."""
    if form == "power":
        return np.geomspace(1e-3, 5.0, 120)
    return np.geomspace(1e-3 / x.max(), 1e3 / x.min(), 120)


def _check_xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = (np.asarray(check_array(n, v, ndim=1)) for n, v in (("x", x), ("y", y)))
    for name, v in (("x", x), ("y", y)):
        if v.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold numbers, got dtype {v.dtype}")
    x, y = x.astype(np.float64), y.astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.shape} and {y.shape}")
    if x.size < 3:
        raise ValueError(f"a law of 3 parameters needs at least 3 points, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(x > 0)):
        raise ValueError("x must be finite and positive (a size, a count or a compute)")
    if not (np.all(np.isfinite(y)) and np.all(y > 0)):
        raise ValueError("y must be finite and positive (a loss)")
    return x, y


def fit_law(x: Any, y: Any, form: str = "power") -> Law:
    """Fit a law with a floor to losses ``y`` at sizes ``x`` (relative least squares).

    Minimises Σᵢ ((L(xᵢ) − yᵢ)/yᵢ)², which weighs every point by its own scale as a fit on
    log L would.  For a fixed rate the law is linear in (floor, scale), solved under
    floor, scale ≥ 0 by :func:`scipy.optimize.nnls`; the rate is searched on a log grid and
    refined between the best point's neighbours (variable projection).

    Args:
        x: sizes (parameters, examples), positive, (points,).
        y: losses, positive, (points,).
        form: ``"power"`` (L = E + A·x^(−α)) or ``"exponential"`` (L = E + A·exp(−k·x)).
    """
    form = check_choice("form", form, FORMS)
    x, y = _check_xy(x, y)

    def solve(rate: float) -> tuple[float, np.ndarray]:
        design = np.stack([np.ones_like(x), _basis(form, x, rate)], axis=1) / y[:, None]
        coef, residual = nnls(design, np.ones_like(y))
        return residual**2, coef

    grid = _rates(form, x)
    costs = np.array([solve(r)[0] for r in grid])
    i = int(np.argmin(costs))
    lo, hi = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, len(grid) - 1)])
    best = minimize_scalar(lambda q: solve(np.exp(q))[0], bounds=(lo, hi), method="bounded")
    rate = float(np.exp(best.x)) if best.fun <= costs[i] else float(grid[i])
    floor, scale = solve(rate)[1]
    return Law(form, float(floor), float(scale), rate)


def bootstrap_rates(
    x: Any, samples: Any, form: str = "power", *, key: jax.Array, n_boot: int = BOOT
) -> np.ndarray:
    """Rates of the law fitted to ``n_boot`` bootstrap resamples of the seeds.

    Each replicate draws, for every point independently, as many seeds as there are with
    replacement, and fits the law to their means.

    Args:
        x: sizes, (points,).
        samples: losses per seed, (seeds, points).
        form: as in :func:`fit_law`.
        key: a ``jax.random`` key for the resampling.
        n_boot: replicates, 10…10 000.
    """
    check_key("key", key)
    n_boot = check_int("n_boot", n_boot, 10, 10_000)
    samples = check_array("samples", samples, kind="f", ndim=2)
    resampled = seed_means(samples, key=key, n_boot=n_boot)  # (boot, points)
    return np.array([fit_law(x, y, form).rate for y in resampled])


def seed_means(samples: np.ndarray, *, key: jax.Array, n_boot: int) -> np.ndarray:
    """Bootstrap means over seeds, (n_boot, *samples.shape[1:]).

    ``samples`` has seeds on axis 0 and points on axis 1 (further axes ride along, e.g. a
    training curve's logs).  Each replicate draws, for every point independently, as many
    seeds as there are with replacement, and averages them.
    """
    seeds, points = samples.shape[:2]
    draws = np.asarray(jax.random.randint(key, (n_boot, seeds, points), 0, seeds))
    draws = draws.reshape(draws.shape + (1,) * (samples.ndim - 2))
    return np.take_along_axis(samples[None], draws, axis=1).mean(axis=1)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central interval of ``values`` holding the share ``level`` of them."""
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


@dataclasses.dataclass
class LawFit:
    """A law fitted to a curve of losses, its bootstrap and its held-out prediction.

    Attributes:
        x: sizes, (points,); samples: losses per seed, (seeds, points).
        law: the power law fitted to every point.
        rates: bootstrap replicates of its exponent, (n_boot,).
        held_out: per form, the law fitted without the largest x.
    """

    x: np.ndarray
    samples: np.ndarray
    law: Law
    rates: np.ndarray
    held_out: dict[str, Law]

    @property
    def mean(self) -> np.ndarray:
        """Loss averaged over seeds, (points,)."""
        return self.samples.mean(axis=0)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The exponent's central bootstrap interval at ``level``."""
        return _interval(self.rates, level)

    def held_out_error(self, form: str) -> float:
        """Predicted minus measured loss at the largest x, for the law fitted without it."""
        return float(self.held_out[form](self.x[-1]) - self.mean[-1])


def fit_curve(x: Any, samples: Any, *, key: jax.Array, n_boot: int = BOOT) -> LawFit:
    """Fit a curve of losses per seed, (seeds, points), at sizes ``x``, (points,).

    Returns the power law, its exponent's bootstrap, and both forms fitted without the
    largest point (to predict it).
    """
    samples = check_array("samples", samples, kind="f", ndim=2)
    x, mean = _check_xy(x, samples.mean(axis=0))
    return LawFit(
        x=x,
        samples=samples,
        law=fit_law(x, mean),
        rates=bootstrap_rates(x, samples, key=key, n_boot=n_boot),
        held_out={form: fit_law(x[:-1], mean[:-1], form) for form in FORMS},
    )


# ------------------------------------------------------------------ the compute frontier


@dataclasses.dataclass
class Frontier:
    """The compute-optimal model size per budget.

    Attributes:
        budgets: compute budgets C in FLOPs, (budget,).
        n_opt: the loss-minimising parameter count (between grid widths: the vertex of a
            parabola in log N through the best width and its two neighbours), NaN where the
            minimum is not inside the measured widths, (budget,).
        loss: the lowest loss at each budget (NaN where no width reaches it), (budget,).
    """

    budgets: np.ndarray
    n_opt: np.ndarray
    loss: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        """Budgets whose optimum lies between two measured widths."""
        return np.isfinite(self.n_opt)

    @property
    def slope(self) -> float:
        """The exponent b of N_opt ∝ C^b, by least squares of log N_opt on log C (inside)."""
        c, n = np.log(self.budgets[self.inside]), np.log(self.n_opt[self.inside])
        return float(np.polyfit(c, n, 1)[0]) if c.size >= 2 else float("nan")


FRONTIER_BUDGETS = np.geomspace(2e7, 2e10, 16)


def loss_at_compute(curves: np.ndarray, steps: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Each width's loss at each compute budget, NaN outside its run, (width, budget).

    Args:
        curves: test loss per width and logged step, (width, log).
        steps: the logged steps, (log,).
        budgets: compute budgets C, (budget,).

    A run trained with a constant learning rate is, at step s, exactly the run one would
    have trained for s steps, so its curve gives its loss at every budget it passes
    (interpolated linearly in log loss against log steps between logs).
    """
    out = np.full((len(WIDTHS), len(budgets)), np.nan)
    for i, w in enumerate(WIDTHS):
        s = budgets / training_flops(w, 1)  # steps that spend each budget
        ok = (s >= steps[0]) & (s <= steps[-1])
        out[i, ok] = np.exp(np.interp(np.log(s[ok]), np.log(steps), np.log(curves[i])))
    return out


def frontier(curves: np.ndarray, steps: np.ndarray, budgets: Any = FRONTIER_BUDGETS) -> Frontier:
    """The compute-optimal size from the envelope of the training curves (see the module)."""
    budgets = np.asarray(budgets, np.float64)
    losses = loss_at_compute(np.asarray(curves), np.asarray(steps), budgets)  # (width, budget)
    log_n = np.log(sizes())
    n_opt = np.full(len(budgets), np.nan)
    best = np.full(len(budgets), np.nan)
    for b in range(len(budgets)):
        col = losses[:, b]
        if np.all(np.isnan(col)):
            continue
        i = int(np.nanargmin(col))
        best[b] = col[i]
        if 0 < i < len(WIDTHS) - 1 and np.isfinite(col[i - 1]) and np.isfinite(col[i + 1]):
            a, bb, _ = np.polyfit(log_n[i - 1 : i + 2], col[i - 1 : i + 2], 2)
            vertex = -bb / (2 * a) if a > 0 else log_n[i]
            n_opt[b] = np.exp(np.clip(vertex, log_n[i - 1], log_n[i + 1]))
    return Frontier(budgets, n_opt, best)


def frontier_slopes(
    result: SweepResult, *, key: jax.Array, n_boot: int = BOOT
) -> tuple[Frontier, np.ndarray]:
    """The frontier at the full pool, and its slope over ``n_boot`` seed resamples.

    Each replicate draws, for every width independently, the seeds with replacement and
    averages their curves.
    """
    check_key("key", key)
    curves = result.sel(n_train=N_POOL).metrics["test_loss"]  # (seed, width, log)
    resampled = seed_means(curves, key=key, n_boot=n_boot)  # (boot, width, log)
    slopes = np.array([frontier(picked, result.steps).slope for picked in resampled])
    return frontier(curves.mean(axis=0), result.steps), slopes


# -------------------------------------------------------------------- the fitted surface


@dataclasses.dataclass(frozen=True)
class Surface:
    """L(N, D) = E + ((N_c/N)^(α_N/α_D) + D_c/D)^α_D.

    Kaplan et al. (2020)'s eq. (1.5) with a floor E added.
    """

    floor: float
    n_c: float
    d_c: float
    alpha_n: float
    alpha_d: float

    def __call__(self, n: Any, d: Any) -> np.ndarray:
        """The surface at parameters ``n`` and examples ``d`` (broadcast)."""
        n, d = np.asarray(n, np.float64), np.asarray(d, np.float64)
        inner = (self.n_c / n) ** (self.alpha_n / self.alpha_d) + self.d_c / d
        return self.floor + inner**self.alpha_d


def _surface(p: np.ndarray) -> Surface:
    return Surface(*np.exp(p))


def fit_surface(losses: Any) -> tuple[Surface, float]:
    """Fit :class:`Surface` to early-stopped losses on the grid, (n_train, width).

    Least squares on log L from a few starting points; returns the surface and the root
    mean square of its relative errors.
    """
    losses = check_array("losses", losses, kind="f", ndim=2)
    if losses.shape != (len(N_TRAINS), len(WIDTHS)):
        raise ValueError(
            f"losses must be (n_train, width) = {(len(N_TRAINS), len(WIDTHS))}, got {losses.shape}"
        )
    n, d = np.meshgrid(sizes(), N_TRAINS)

    def residuals(p: np.ndarray) -> np.ndarray:
        return (np.log(_surface(p)(n, d)) - np.log(losses)).ravel()

    starts = [
        [e, np.log(1e3), np.log(1e3), a, b]
        for e in (-2.0, -0.5)
        for a in (-2.0, -1.0)
        for b in (-2.0, -1.0)
    ]
    best = min((least_squares(residuals, s) for s in starts), key=lambda o: o.cost)
    rel = _surface(best.x)(n, d) / losses - 1
    return _surface(best.x), float(np.sqrt(np.mean(rel**2)))


# ------------------------------------------------------- the source's exponential law


def exponential_in_compute(accuracy: Any, compute: Any) -> tuple[float, float]:
    """Fit the source's P = a·exp(b·C) to accuracies along a training run.

    Least squares on log P, which is linear in C (log P = log a + b·C).  Returns (a, b).
    """
    compute, accuracy = _check_xy(compute, accuracy)
    b, log_a = np.polyfit(compute, np.log(accuracy), 1)
    return float(np.exp(log_a)), float(b)


# ---------------------------------------------------------------------------- the study


@dataclasses.dataclass
class ScalingStudy:
    """Everything the chapter measures on its grid.

    Attributes:
        result: the engine sweep, axes (seed, n_train, width).
        losses: early-stopped test loss, (seed, n_train, width).
        by_n: L(N) at the largest training set; by_d: L(D) at the widest model.
        frontier: the compute-optimal size per budget; slopes: its bootstrap slopes.
        surface: the fitted L(N, D), and surface_error its RMS relative error.
    """

    result: SweepResult
    losses: np.ndarray
    by_n: LawFit
    by_d: LawFit
    frontier: Frontier
    slopes: np.ndarray
    surface: Surface
    surface_error: float

    def slope_interval(self, level: float = 0.95) -> tuple[float, float]:
        """The frontier slope's central bootstrap interval at ``level``."""
        return _interval(self.slopes, level)


def analyse(result: SweepResult, *, key: jax.Array, n_boot: int = BOOT) -> ScalingStudy:
    """Fit the laws, the frontier and the surface of a grid sweep (see :func:`grid_study`)."""
    check_key("key", key)
    k_n, k_d, k_frontier = jax.random.split(key, 3)
    losses = early_stopped(result)  # (seed, n_train, width)
    front, slopes = frontier_slopes(result, key=k_frontier, n_boot=n_boot)
    surface, error = fit_surface(losses.mean(axis=0))
    return ScalingStudy(
        result=result,
        losses=losses,
        by_n=fit_curve(sizes(), losses[:, -1, :], key=k_n, n_boot=n_boot),
        by_d=fit_curve(np.array(N_TRAINS, np.float64), losses[:, :, -1], key=k_d, n_boot=n_boot),
        frontier=front,
        slopes=slopes,
        surface=surface,
        surface_error=error,
    )


@on_disk(ignore=("progress",))
def study(*, key: jax.Array, progress: bool = True) -> ScalingStudy:
    """The chapter's grid sweep and everything fitted to it."""
    k_grid, k_fits = jax.random.split(check_key("key", key))
    return analyse(grid_study(key=k_grid, progress=progress), key=k_fits)


def source_law(result: SweepResult, factor: float = 10.0) -> tuple[float, float, float]:
    """The source's P = a·exp(b·C), fitted to the widest model's accuracy along its training.

    The fit reads the test accuracy (mean of seeds) at every logged step on the full pool;
    returns (a, b, the accuracy it predicts at ``factor`` × the last step's compute).
    """
    acc = result.sel(n_train=N_POOL, width=max(WIDTHS)).metrics["test_acc"].mean(axis=0)
    compute = training_flops(max(WIDTHS), result.steps)
    a, b = exponential_in_compute(acc, compute)
    return a, b, float(a * np.exp(b * factor * compute[-1]))


# ---------------------------------------------------------------------------- the claims


@dataclasses.dataclass
class Claims:
    """The chapter's claims, each a verdict on what it reads (None: not computed)."""

    flops: list[FlopCount] | None = None
    study: ScalingStudy | None = None

    RULE_OF_THUMB = 0.25  # 6·N·D within this relative distance of XLA's count, for MLPs
    REFINED = 0.15  # (6·N − 2·N₁)·D within this
    SHARED = 3.0  # a convolution's weights are used at many positions: XLA counts > 3 × 6·N·D
    FEW_EXAMPLES = 0.15  # with the fewest examples, the widths' losses lie within this
    LATE = 0.9  # the best validation step lies after this fraction of the steps
    INSIDE = 5  # budgets whose optimum lies between measured widths, at least
    SURFACE = 0.06  # RMS relative error of the fitted surface on the grid, at most

    def _mlps(self) -> list[FlopCount]:
        return [f for f in self.flops if f.first_layer is not None]

    @property
    def six_nd_counts_dense_networks(self) -> bool:
        """6·N·D counts an MLP's training step within 25 %; (6·N − 2·N₁)·D within 15 %.

        C ≈ 6·N·D is within 25 % of XLA's count of a training step for every MLP, and
        (6·N − 2·N₁)·D, which leaves out the first layer's unneeded input gradient, is
        within 15 %.
        """
        return all(
            abs(f.xla / f.six_nd - 1) <= self.RULE_OF_THUMB
            and abs(f.xla / f.refined - 1) <= self.REFINED
            for f in self._mlps()
        )

    @property
    def six_nd_undercounts_convolutions(self) -> bool:
        """For the chapter-07 CNN, XLA counts more than 3 times 6·N·D."""
        cnn = [f for f in self.flops if f.first_layer is None]
        return bool(cnn) and all(f.xla > self.SHARED * f.six_nd for f in cnn)

    @property
    def the_grid_shows_both_resources(self) -> bool:
        """Width pays with data, and data pay with width.

        On the largest data set the loss falls with every doubling of the width; for the
        widest model it falls with every doubling of the data; with 500 examples the
        widths' losses lie within 0.15 of each other.
        """
        mean = self.study.losses.mean(axis=0)  # (n_train, width)
        return bool(
            np.all(np.diff(mean[-1]) < 0)
            and np.all(np.diff(mean[:, -1]) < 0)
            and np.ptp(mean[0]) < self.FEW_EXAMPLES
        )

    @property
    def loss_falls_with_n_and_d(self) -> bool:
        """Test loss falls with N and with D (power-law fits).

        The fitted exponents α (in N) and β (in D) are positive, with 95 % bootstrap
        intervals that exclude 0.
        """
        return self.study.by_n.interval()[0] > 0 and self.study.by_d.interval()[0] > 0

    @property
    def power_law_predicts_held_out_points(self) -> bool:
        """The power law predicts held-out points better than the exponential law.

        Fitted without the largest N (and without the largest D), the power law predicts
        the left-out loss more closely than the exponential law does.
        """
        return all(
            abs(fit.held_out_error("power")) < abs(fit.held_out_error("exponential"))
            for fit in (self.study.by_n, self.study.by_d)
        )

    @property
    def the_largest_data_set_is_compute_bound(self) -> bool:
        """The power law misses the largest D on the low side, where the run is still improving.

        Fitted without the largest D, the power law predicts a lower loss there than
        measured, and on every seed the widest model's best validation step on all the data
        lies in the last tenth of training.
        """
        widest = self.study.result.sel(n_train=N_POOL, width=max(WIDTHS))
        best = self.study.result.steps[np.argmin(widest.metrics["val_loss"], axis=-1)]
        return bool(
            self.study.by_d.held_out_error("power") < 0 and np.all(best >= self.LATE * STEPS)
        )

    @property
    def optimal_size_grows_with_compute(self) -> bool:
        """The compute-optimal model size grows with the compute budget.

        At least 5 budgets have their optimum between measured widths, and the slope of
        log N_opt against log C has a 95 % bootstrap interval above 0.
        """
        return bool(
            self.study.frontier.inside.sum() >= self.INSIDE and self.study.slope_interval()[0] > 0
        )

    @property
    def surface_fits_the_grid(self) -> bool:
        """The fitted L(N, D) is within 6 % (RMS relative error) of the 56 measured points."""
        return self.study.surface_error <= self.SURFACE

    @property
    def source_law_exceeds_certainty(self) -> bool:
        """The source's exponential law, fitted to measurements, predicts an accuracy above 1.

        P = a·exp(b·C), fitted to the widest model's accuracy, grows with compute (b > 0)
        and predicts an accuracy above 1 at ten times the compute.
        """
        _, b, predicted = source_law(self.study.result)
        return b > 0 and predicted > 1


# --------------------------------------------------------------------------- the explorer

GREY = "#aaaaaa"
BLUE = "#1f77b4"
RED = "#d62728"
SHADES = ["#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#8fc93a", "#c9b81f"]


def _ylim(study: ScalingStudy) -> tuple[float, float]:
    losses = study.losses.mean(axis=0)
    return float(losses.min() / 1.15), float(losses.max() * 1.15)


def figure(study: ScalingStudy, point: SweepResult, values: dict[str, Any]) -> Figure:
    """The point on L(N) and L(D), its run against compute, and the grid at its budget."""
    n, width, steps = values["n_train"], values["width"], values["steps"]
    params = sizes()
    log = budget_log(study.result.steps, steps)
    grid_curves = early_stopped_curve(study.result)  # (seed, n_train, width, log)
    at_budget = grid_curves[..., log]  # (seed, n_train, width)
    mean, std = at_budget.mean(axis=0), at_budget.std(axis=0)
    i, j = N_TRAINS.index(n), WIDTHS.index(width)
    curve = early_stopped_curve(point)  # (seed, log)
    here = curve[:, log]  # (seed,)
    ylim = _ylim(study)
    dense_n = np.geomspace(params[0], params[-1], 60)
    dense_d = np.geomspace(N_TRAINS[0], N_TRAINS[-1], 60)
    you = {"color": RED, "markers": True, "line": False}
    axes = {"xlog": True, "ylog": True, "ylim": ylim}
    measured = f"measured, {steps} steps"
    by_n = Lines(
        [
            Series(dense_n, study.surface(dense_n, n), "fitted surface", color=GREY, dashed=True),
            Series(params, mean[i], measured, err=std[i], color=BLUE, markers=True),
            Series([params[j]], [here.mean()], "this point", **you),
        ],
        title=f"loss against parameters N (n = {n})",
        xlabel="parameters N", ylabel="test loss (early-stopped)", legend_loc="lower left",
        **axes,
    )  # fmt: skip
    by_d = Lines(
        [
            Series(dense_d, study.surface(params[j], dense_d), "fitted surface", color=GREY,
                   dashed=True),
            Series(N_TRAINS, mean[:, j], measured, err=std[:, j], color=BLUE, markers=True),
            Series([n], [here.mean()], "this point", **you),
        ],
        title=f"loss against examples D (width {width})",
        xlabel="training examples D", ylabel="test loss (early-stopped)", legend=False, **axes,
    )  # fmt: skip
    logs = study.result.steps
    curves = grid_curves[:, i].mean(axis=0)  # (width, log)
    others = [
        Series(training_flops(w, logs[1::2]), curves[k, 1::2], color=GREY)  # a lighter twin
        for k, w in enumerate(WIDTHS) if w != width
    ]  # fmt: skip
    budget = float(training_flops(width, steps))
    by_c = Lines(
        [*others, band(curve.mean(0), curve.std(0), training_flops(width, logs), "this width",
                       color=BLUE),
         Series([budget], [here.mean()], "at the budget", **you)],
        title="loss against compute (grey: other widths)",
        xlabel="training FLOPs C = 6·N·D", ylabel="test loss (early-stopped)", vline=budget,
        legend=False, **axes,
    )  # fmt: skip
    heat = Heatmap(
        mean.T, [str(v) for v in N_TRAINS], [str(w) for w in WIDTHS],
        title=f"the grid after {steps} steps", xlabel="training examples D",
        ylabel="hidden units", zlabel="test loss", marker=(i, j), fmt="{:.2f}",
        vmin=ylim[0], vmax=ylim[1],
    )  # fmt: skip
    title = (
        f"n = {n}, width {width} (N = {int(params[j])}), {steps} steps (C = {budget:.2g}): "
        f"loss {here.mean():.3f} ± {here.std():.3f}, surface {study.surface(params[j], n):.3f}"
    )
    return Figure([by_n, by_d, heat, by_c], title=title, width=11.0, height=3.6)


def live_point(
    values: dict[str, Any], *, key: jax.Array, data: datasets.Dataset, seeds: int = SEEDS
) -> SweepResult:
    """Retrain one (n_train, width) point for every seed now, through the engine."""
    return sweep_point(
        CONFIG, data, key=key, seeds=seeds, n_train=values["n_train"], width=values["width"]
    )


def explorer(study: ScalingStudy, *, key: jax.Array) -> Explorer:
    """Sliders for n_train, width and the step budget over the grid study.

    ``key`` must be the grid sweep's key, so that "retrain live" repeats its seeds.
    """
    check_key("key", key)
    data = dataset()
    return Explorer(
        [
            slider("n_train", N_TRAINS, label="training examples D", default=N_TRAINS[4]),
            slider("width", WIDTHS, label="hidden units", default=WIDTHS[5]),
            slider("steps", BUDGETS, label="step budget", default=BUDGETS[-1]),
        ],
        view=lambda values, point: figure(study, point, values),
        lookup=lambda values: study.result.sel(n_train=values["n_train"], width=values["width"]),
        live=lambda values: live_point(values, key=key, data=data),
        title="Scaling: move the data, the model and the compute",
        note=f"Each point: {SEEDS} seeds × {STEPS} Adam steps of {BATCH} examples on MNIST-1D, "
        "trained in advance in one vmapped sweep; the step budget reads the runs part-way.",
    )


# ------------------------------------------------------------------------------ figures


def laws_figure(study: ScalingStudy) -> Figure:
    """L(N) and L(D) on log-log axes: seeds' mean ± std, the power law and both held-out fits."""
    panels = []
    for fit, what, where in (
        (study.by_n, "parameters N", f"n = {N_POOL}"),
        (study.by_d, "training examples D", f"width {max(WIDTHS)}"),
    ):
        dense = np.geomspace(fit.x[0], fit.x[-1] * 1.5, 80)
        lo, hi = fit.interval()
        panels.append(
            Lines(
                [
                    Series(fit.x, fit.mean, "measured (± std over seeds)",
                           err=fit.samples.std(axis=0), color=BLUE, markers=True, line=False),
                    Series(dense, fit.law(dense), f"power law, exponent {fit.law.rate:.2f} "
                           f"[{lo:.2f}, {hi:.2f}]", color="#000000"),
                    Series(dense, fit.held_out["power"](dense), "power law without the last",
                           color=BLUE, dashed=True),
                    Series(dense, fit.held_out["exponential"](dense),
                           "exponential law without the last", color=RED, dashed=True),
                ],
                title=f"loss against {what} ({where})",
                xlabel=what, ylabel="test loss (early-stopped)",
                xlog=True, ylog=True, legend_loc="upper right",
            )
        )  # fmt: skip
    return Figure(panels, title="Scaling laws on MNIST-1D, with a floor", width=12, height=4.2)


def frontier_figure(study: ScalingStudy) -> Figure:
    """Every width's loss against compute with the envelope, and N_opt against C."""
    result, front = study.result, study.frontier
    curves = result.sel(n_train=N_POOL).metrics["test_loss"].mean(axis=0)  # (width, log)
    series = [
        Series(training_flops(w, result.steps), curves[k], f"width {w}",
               color=SHADES[k])
        for k, w in enumerate(WIDTHS)
    ]  # fmt: skip
    ok = np.isfinite(front.loss)
    series.append(Series(front.budgets[ok], front.loss[ok], "lowest loss at each budget",
                         color="#000000", dashed=True))  # fmt: skip
    envelope = Lines(series, title=f"test loss against compute (n = {N_POOL})",
                     xlabel="training FLOPs C = 6·N·D", ylabel="test loss",
                     xlog=True, ylog=True, legend_loc="lower left")  # fmt: skip
    c, n = front.budgets[front.inside], front.n_opt[front.inside]
    mid_c, mid_n = np.exp(np.log(c).mean()), np.exp(np.log(n).mean())
    lo, hi = study.slope_interval()
    refs = [
        Series(c, mid_n * (c / mid_c) ** b, label, color=color, dashed=True)
        for b, label, color in (
            (front.slope, f"fit: slope {front.slope:.2f} [{lo:.2f}, {hi:.2f}]", "#000000"),
            (0.5, "Hoffmann et al. (2022): 0.5", GREY),
            (0.73, "Kaplan et al. (2020): 0.73", "#ff7f0e"),
        )
    ]
    optimal = Lines(
        [Series(c, n, "N_opt (measured)", color=BLUE, markers=True, line=False), *refs],
        title="compute-optimal parameters against compute",
        xlabel="training FLOPs C", ylabel="parameters N_opt",
        xlog=True, ylog=True, legend_loc="upper left",
    )  # fmt: skip
    return Figure([envelope, optimal], title="A compute-optimal frontier in miniature",
                  width=12, height=4.2)  # fmt: skip
