"""Chapter 01: linear and logistic regression by gradient descent.

Everything trains through the engine (:mod:`course.engine.train`) with a
:class:`~course.engine.models.Linear` model and full-batch gradient descent
(``optimizer="sgd"``, ``batch_size=None``), so the chapter's sliders move the
same compiled code the rest of the course uses.

The engine's squared loss is ``½·mean((x·w + b − y)²)``.  Its Hessian is
``H = X̃ᵀX̃ / n`` with ``X̃ = [X, 1]``, and gradient descent with step η converges
exactly when ``η < 2 / L``, ``L = λ_max(H)`` (each eigen-direction is multiplied
by ``1 − η·λ`` per step).  :func:`curvature` computes L.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from course.engine import data as datasets
from course.engine.memo import on_disk
from course.engine.models import Linear
from course.engine.sweep import SweepResult, stack, sweep
from course.engine.train import TrainConfig, make_train
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

SIZES = [20, 50, 100, 200, 500, 1000]
NOISES = [0.1, 1.0, 10.0, 50.0]
LRS = [0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.4, 1.6, 1.9]
DATA_SEEDS = 4
STEPS = 200
FEATURES = 4
CONFIG = TrainConfig(
    Linear(FEATURES, 1),
    loss="mse",
    optimizer="sgd",
    batch_size=None,
    steps=STEPS,
    n_logs=50,
    lr=0.1,
    keep_params=True,
)


def augmented(x: np.ndarray) -> np.ndarray:
    """``[x, 1]``: the inputs with a column of ones for the intercept, float64."""
    x = np.asarray(x, np.float64)
    return np.c_[x, np.ones(len(x))]


def closed_form(x: Any, y: Any) -> tuple[np.ndarray, float]:
    """Least-squares weights and intercept (float64), the solution GD should reach."""
    coef, *_ = np.linalg.lstsq(augmented(x), np.asarray(y, np.float64), rcond=None)
    return coef[:-1], float(coef[-1])


def hessian_eigenvalues(x: Any) -> np.ndarray:
    """Eigenvalues of H = X̃ᵀX̃ / n, the ½-MSE loss's Hessian, in increasing order."""
    xa = augmented(x)
    return np.linalg.eigvalsh(xa.T @ xa / len(xa))


def curvature(x: Any) -> float:
    """L = λ_max(X̃ᵀX̃ / n), the largest curvature of the ½-MSE loss; GD diverges for η > 2/L."""
    return float(hessian_eigenvalues(x)[-1])


def optimum_loss(x: Any, y: Any) -> float:
    """The smallest ½-MSE any linear model reaches on (x, y)."""
    w, b = closed_form(x, y)
    r = np.asarray(x, np.float64) @ w + b - np.asarray(y, np.float64)
    return float(0.5 * np.mean(r * r))


def regression_data(noise: float, seed: int, *, key: jax.Array) -> datasets.Dataset:
    """The chapter's data: 1000 + 1000 examples of 4 standard-normal features.

    The same ``seed`` gives the same inputs and true coefficients at every noise level.
    """
    return datasets.regression(
        n_train=max(SIZES),
        n_test=1000,
        n_features=FEATURES,
        noise=noise,
        key=jax.random.fold_in(key, seed),
    )


def fit_gd(
    data: datasets.Dataset, n_train: int, *, lr: float, steps: int = STEPS, key: jax.Array
) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """Batch gradient descent on the first ``n_train`` examples; (weights, intercept, history)."""
    config = dataclasses.replace(CONFIG, steps=steps, n_logs=min(50, steps), lr=lr)
    run = make_train(config)(key, data, n_train)
    params = jax.tree.map(np.asarray, run.params)
    return params[0]["w"][:, 0], float(params[0]["b"][0]), jax.tree.map(np.asarray, run.history)


def condition_number(x: Any) -> float:
    """κ = λ_max / λ_min of H = X̃ᵀX̃ / n: how many times flatter the flattest direction is."""
    eig = hessian_eigenvalues(x)
    return float(eig[-1] / eig[0])


def standardise(d: datasets.Dataset) -> datasets.Dataset:
    """Features centred and scaled by the *training* mean and standard deviation."""
    x = np.asarray(d.x_train, np.float64)
    mean, std = x.mean(0), x.std(0)
    scale = lambda a: ((np.asarray(a, np.float64) - mean) / std).astype(np.float32)  # noqa: E731
    return dataclasses.replace(d, x_train=scale(d.x_train), x_test=scale(d.x_test))


def conditioning(*, key: jax.Array, n_train: int = 100, steps: int = STEPS) -> dict[str, dict]:
    """GD at η = 1/L on the chapter's data as generated, with raw units, and standardised.

    "raw units": feature 0 measured in units ten times smaller (×10) and feature 1 offset
    by +5 (not centred) — what real features look like. For each version: L, κ, and the
    distance to the least-squares solution after ``steps`` steps relative to the start's.
    """
    k_data, k_train = jax.random.split(key)
    d = regression_data(0.1, 0, key=k_data)
    x_raw = np.asarray(d.x_train) * np.array([10, 1, 1, 1]) + np.array([0, 5, 0, 0])
    x_raw_test = np.asarray(d.x_test) * np.array([10, 1, 1, 1]) + np.array([0, 5, 0, 0])
    raw = dataclasses.replace(
        d, x_train=x_raw.astype(np.float32), x_test=x_raw_test.astype(np.float32)
    )
    out = {}
    for name, version in (
        ("as generated", d),
        ("raw units", raw),
        ("standardised", standardise(raw)),
    ):
        x, y = version.x_train[:n_train], version.y_train[:n_train]
        lip = curvature(x)
        w, b, _ = fit_gd(version, n_train, lr=1 / lip, steps=steps, key=k_train)
        w_star, b_star = closed_form(x, y)
        out[name] = {
            "L": lip,
            "kappa": condition_number(x),
            "relative_distance": float(
                np.linalg.norm(np.r_[w - w_star, b - b_star])
                / np.linalg.norm(np.r_[w_star, b_star])
            ),
        }
    return out


@dataclasses.dataclass
class Grid:
    """The chapter's sweep and what is needed to judge it."""

    result: SweepResult  # axes: noise, data, seed (1), n_train, lr
    curvature: np.ndarray  # (data, n_train): L of each data draw's first n examples
    optimum: np.ndarray  # (noise, data, n_train): smallest ½-MSE on the first n examples
    test_optimum: np.ndarray  # (noise, data, n_train): test ½-MSE of the least-squares fit
    distance: np.ndarray  # (noise, data, n_train, lr): ‖w − w*‖ after STEPS steps
    start: np.ndarray  # (noise, data, n_train): ½-MSE at step 0 (θ = 0)
    start_distance: np.ndarray  # (noise, data, n_train): ‖θ*‖, the distance at step 0


@on_disk(ignore=("progress",))
def run(*, key: jax.Array, progress: bool = False) -> Grid:
    """Train every noise × data draw × size × learning rate (one sweep per data set)."""
    by_noise, optimum, test_opt, distance, curv, start, start_dist = [], [], [], [], [], [], []
    k_data, k_train = jax.random.split(key)
    for noise in NOISES:
        by_seed, opt_s, test_s, dist_s, start_s, start_d = [], [], [], [], [], []
        for s in range(DATA_SEEDS):
            d = regression_data(noise, s, key=k_data)  # same inputs at every noise level
            if len(curv) < DATA_SEEDS:  # L depends on the inputs only: take it once per draw
                curv.append([curvature(d.x_train[:n]) for n in SIZES])
            r = sweep(CONFIG, d, key=k_train, seeds=1, n_trains=SIZES, lr=LRS, progress=progress)
            by_seed.append(r)
            opt_s.append([optimum_loss(d.x_train[:n], d.y_train[:n]) for n in SIZES])
            y = np.asarray(d.y_train, np.float64).reshape(-1)
            start_s.append([0.5 * np.mean(y[:n] ** 2) for n in SIZES])  # the zero model's loss
            test_row, dist_row, norm_row = [], [], []
            for j, n in enumerate(SIZES):
                w, b = closed_form(d.x_train[:n], d.y_train[:n])
                res = d.x_test @ w + b - d.y_test
                test_row.append(0.5 * np.mean(res * res))
                got = np.c_[r.params[0]["w"][0, j, :, :, 0], r.params[0]["b"][0, j, :, 0]]
                dist_row.append(np.linalg.norm(got - np.r_[w, b][None, :], axis=1))
                norm_row.append(np.linalg.norm(np.r_[w, b]))  # distance at step 0 (θ = 0)
            test_s.append(test_row)
            dist_s.append(dist_row)
            start_d.append(norm_row)
        by_noise.append(stack(by_seed, "data", list(range(DATA_SEEDS))))
        optimum.append(opt_s)
        test_opt.append(test_s)
        distance.append(dist_s)
        start.append(start_s)
        start_dist.append(start_d)
    return Grid(
        stack(by_noise, "noise", NOISES),
        np.array(curv),
        np.array(optimum),
        np.array(test_opt),
        np.array(distance),
        np.array(start),
        np.array(start_dist),
    )


@dataclasses.dataclass
class DivergenceCheck:
    """Runs below and above the threshold 2/L, and how they ended."""

    below_converged: int
    below_total: int
    above_diverged: int
    above_total: int
    worst_relative_distance: float  # below the threshold: max ‖θ − θ*‖ / ‖θ*‖ after STEPS steps

    @property
    def holds(self) -> bool:
        """Every run clearly below 2/L ended below its step-0 loss; every run above blew up."""
        return (
            self.below_converged == self.below_total
            and self.above_diverged == self.above_total
            and self.below_total > 0
            and self.above_total > 0
        )


def check_divergence(grid: Grid, margin: float = 0.05) -> DivergenceCheck:
    """Compare every run's fate with the threshold 2/L of its own data (± ``margin``)."""
    loss = grid.result.metrics["train_loss"][:, :, 0]  # (noise, data, n, lr, log)
    final = loss[..., -1]
    first = grid.start[..., None]  # (noise, data, n, 1): the loss at step 0, θ = 0
    thresh = 2 / grid.curvature[None, :, :, None]  # (1, data, n, 1)
    lrs = np.asarray(LRS)[None, None, None, :]
    below = np.broadcast_to(lrs < thresh * (1 - margin), final.shape)
    above = np.broadcast_to(lrs > thresh * (1 + margin), final.shape)
    converged = np.isfinite(final) & (final < first)
    diverged = ~np.isfinite(final) | (final > 1e3 * first)
    relative = grid.distance / grid.start_distance[..., None]  # (noise, data, n, lr)
    return DivergenceCheck(
        int((below & converged).sum()),
        int(below.sum()),
        int((above & diverged).sum()),
        int(above.sum()),
        float(relative[below].max()),
    )


def nearest(grid_values: list, value: float) -> int:
    """Index of the grid value nearest to ``value`` on a log scale."""
    return int(np.argmin(np.abs(np.log(np.asarray(grid_values, float) / value))))


def figure(grid: Grid, values: dict[str, Any], point: SweepResult) -> Figure:
    """Loss curves at (n, noise, lr), final suboptimality against lr, test loss against n."""
    n, noise, lr = values["n_train"], values["noise"], values["lr"]
    i_noise, i_n, i_lr = nearest(NOISES, noise), nearest(SIZES, n), nearest(LRS, lr)
    opt = grid.optimum[i_noise, :, i_n]  # (data,)
    gap = np.asarray(point.metrics["train_loss"])[:, 0] - opt[:, None]  # (data, log)
    gap = np.clip(np.where(np.isfinite(gap), gap, 1e12), 1e-6, 1e12)
    logs = np.log10(gap)
    threshold = float(np.mean(2 / grid.curvature[:, i_n]))
    curve = Lines(
        [band(10 ** logs.mean(0), 0 * logs.mean(0), grid.result.steps, "loss − optimum")],
        title="gradient descent, step by step",
        xlabel="step",
        ylabel="training loss − its minimum",
        ylog=True,
        xlim=(0, STEPS),
        ylim=(1e-6, 1e12),
        legend=False,
    )
    final = grid.result.metrics["train_loss"][i_noise, :, 0, i_n, :, -1] - opt[:, None]
    final = np.clip(np.where(np.isfinite(final), final, 1e12), 1e-6, 1e12)
    by_lr = Lines(
        [
            Series(LRS, 10 ** np.log10(final).mean(0), "after 200 steps", markers=True),
            Series([threshold, threshold], [1e-6, 1e12], "2/L", color="#d62728", dashed=True),
        ],
        title="where gradient descent diverges",
        xlabel="learning rate η",
        ylabel="loss − minimum",
        ylog=True,
        xlim=(0, 2.0),
        ylim=(1e-6, 1e12),
        vline=float(lr),
    )
    test = grid.result.metrics["test_loss"][i_noise, :, 0, :, i_lr, -1]  # (data, n)
    test = np.clip(np.where(np.isfinite(test), test, 1e12), 1e-3, 1e12)
    best = grid.test_optimum[i_noise]  # (data, n)
    by_n = Lines(
        [
            Series(SIZES, 10 ** np.log10(test).mean(0), "gradient descent", markers=True),
            Series(SIZES, best.mean(0), "least squares", color="#2ca02c", dashed=True),
            Series(
                SIZES, [noise**2 / 2] * len(SIZES), "noise floor σ²/2", color="#7f7f7f", dashed=True
            ),
        ],
        title="test loss against data",
        xlabel="training examples n",
        ylabel="test ½-MSE",
        xlog=True,
        ylog=True,
        xlim=(15, 1300),
        ylim=(noise**2 / 4, noise**2 * 50 + 1),
        vline=float(n),
    )
    dist = grid.distance[i_noise, :, i_n, i_lr]
    above = int(np.sum(lr > 2 / grid.curvature[:, i_n]))  # draws whose own 2/L is below η
    draws = len(grid.curvature)
    verdict = {0: "converges", draws: "diverges"}.get(above, f"{above} of {draws} draws diverge")
    title = (
        f"n = {n}, noise = {noise}, η = {lr} ({verdict}: mean 2/L = {threshold:.2f}); "
        f"‖w − w*‖ = {np.mean(dist):.2g} after {STEPS} steps"
    )
    return Figure([curve, by_lr, by_n], title=title, width=12.5, height=3.9)


def explorer(grid: Grid, *, key: jax.Array) -> Explorer:
    """Sliders for n, noise and learning rate over the chapter's grid."""
    k_data, k_train = jax.random.split(key)  # as in run(): the grid's data and seeds

    def live(values: dict[str, Any]) -> SweepResult:
        runs = []
        for s in range(DATA_SEEDS):
            d = regression_data(values["noise"], s, key=k_data)
            r = sweep(
                CONFIG,
                d,
                key=k_train,
                seeds=1,
                n_trains=[int(values["n_train"])],
                lr=[float(values["lr"])],
                progress=False,
            )
            runs.append(r.isel(n_train=0, lr=0))
        return stack(runs, "data", list(range(DATA_SEEDS)))

    return Explorer(
        [
            slider("n_train", SIZES, label="training examples n", default=100),
            slider("noise", NOISES, label="noise σ", default=1.0),
            slider("lr", LRS, label="learning rate η", default=0.4),
        ],
        view=lambda values, point: figure(grid, values, point),
        lookup=lambda values: grid.result.sel(**values),
        live=live,
        title="Gradient descent on least squares: step size, data size, noise",
        note=f"Each point: {DATA_SEEDS} data draws × {STEPS} steps of batch gradient descent.",
    )


LOGISTIC = TrainConfig(
    Linear(2, 1),
    loss="binary_cross_entropy",
    optimizer="sgd",
    batch_size=None,
    steps=4000,
    n_logs=40,
    lr=4.0,
    keep_params=True,
)
SOFTMAX = TrainConfig(
    Linear(64, 10),
    loss="cross_entropy",
    optimizer="sgd",
    batch_size=None,
    steps=1000,
    n_logs=20,
    lr=0.5,
    keep_params=True,
)


def logistic_data(*, key: jax.Array, n_train: int = 200) -> datasets.Dataset:
    """Two overlapping Gaussian blobs in 2-D (not separable, so the MLE is finite)."""
    return datasets.two_d("blobs", n_train=n_train, n_test=1000, noise=1.0, n_classes=2, key=key)


def fit_logistic(
    data: datasets.Dataset, *, key: jax.Array, config: TrainConfig = LOGISTIC
) -> tuple[np.ndarray, float, dict]:
    """Logistic regression by batch gradient descent on the mean negative log-likelihood.

    Minimising −(1/n)·Σ log p(yᵢ | xᵢ) is gradient *ascent* on the log-likelihood
    (002 §3.2) with the sign turned round.
    """
    run = make_train(config)(key, data, data.n_pool)
    p = jax.tree.map(np.asarray, run.params)
    return p[0]["w"][:, 0], float(p[0]["b"][0]), jax.tree.map(np.asarray, run.history)


def sklearn_logistic(data: datasets.Dataset) -> tuple[np.ndarray, float]:
    """scikit-learn's unpenalised logistic regression (L-BFGS to a tight tolerance)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100_000)
    clf.fit(np.asarray(data.x_train, np.float64), np.asarray(data.y_train))
    return clf.coef_[0], float(clf.intercept_[0])


def softmax_digits(*, key: jax.Array, config: TrainConfig = SOFTMAX) -> dict[str, float]:
    """Softmax regression (64 → 10) on the 8×8 digits, by gradient descent, beside scikit-learn.

    The offline stand-in for 001 §4.2's softmax regression on MNIST (784 → 10).
    """
    from sklearn.linear_model import LogisticRegression

    d = datasets.digits(flatten=True)
    run = make_train(config)(key, d, d.n_pool)
    clf = LogisticRegression(max_iter=5000).fit(d.x_train, d.y_train)
    return {
        "gd_test_acc": float(run.history["test_acc"][-1]),
        "gd_train_acc": float(run.history["train_acc"][-1]),
        "sklearn_test_acc": float(clf.score(d.x_test, d.y_test)),
    }
