"""Chapter 02: gradient descent and its optimizers.

Two experiments, both built on the optimizers of :mod:`course.engine.optim`:

* **A quadratic valley** ``f(w) = ½ wᵀHw`` in 2-D with eigenvalues 1/κ and 1 (so L = 1
  and the condition number is κ), rotated by :data:`ANGLE`.  Every optimizer runs from
  the same start for :data:`STEPS` steps, one ``lax.scan`` per run, ``vmap``-ed over
  learning rates and condition numbers.  :func:`steps_to_tolerance` counts the steps
  each needs to bring f below ``TOL · f(w₀)``, at its best learning rate on the grid.
* **Mini-batch noise**: linear regression trained through the engine with batch sizes
  1, 10 and 100 for the same number of examples seen; the spread of the loss across
  seeds measures the gradient noise.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.chapters.regression_by_gradient_descent import curvature, optimum_loss
from course.engine import data as datasets
from course.engine import optim
from course.engine.memo import on_disk
from course.engine.models import Linear
from course.engine.sweep import SweepResult, stack, sweep
from course.engine.train import TrainConfig
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series
from course.ui.widgets import Explorer, slider

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
LABELS = {"sgd": "gradient descent", "momentum": "momentum (β = 0.9)",
          "nesterov": "Nesterov (β = 0.9)", "adagrad": "AdaGrad", "rmsprop": "RMSprop",
          "adam": "Adam"}  # fmt: skip
KAPPAS = [1, 10, 30, 100, 300]
LRS = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 1.5, 2.1]
STEPS = 600
TOL = 1e-6
ANGLE = math.pi / 6
START = (1.5, 1.0)  # w₀ in the 30° valley


def rotation(angle: float) -> np.ndarray:
    """The 2×2 rotation by ``angle`` (radians)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def start(angle: float = ANGLE) -> np.ndarray:
    """w₀ for a valley rotated by ``angle``: the same point *relative to the valley*.

    Its coordinates along the flat and the steep direction are those of START in the 30°
    valley, so rotating the valley rotates the start with it and changes nothing else.
    """
    return rotation(angle) @ (rotation(ANGLE).T @ np.asarray(START))


def hessian(kappa: Any, angle: float = ANGLE) -> jax.Array:
    """H = R·diag(1/κ, 1)·Rᵀ: largest curvature 1, condition number κ."""
    rot = jnp.asarray(rotation(angle), jnp.float32)
    return rot @ jnp.diag(jnp.stack([1.0 / kappa, jnp.ones_like(kappa)])) @ rot.T


def _trajectory(name: str, lr: Any, kappa: Any, steps: int, angle: float) -> tuple:
    h = hessian(kappa, angle)
    opt = optim.make(name, lr=lr)
    w0 = jnp.asarray(start(angle), jnp.float32)

    def f(w: jax.Array) -> jax.Array:
        return 0.5 * w @ h @ w

    def step(carry: tuple, _: None) -> tuple:
        w, state = carry
        updates, state = opt.update(jax.grad(f)(w), state, w)
        w = w + updates
        return (w, state), (w, f(w))

    _, (ws, fs) = jax.lax.scan(step, (w0, opt.init(w0)), None, steps)
    return jnp.concatenate([w0[None], ws]), jnp.concatenate([f(w0)[None], fs])


@functools.lru_cache(maxsize=16)
def _compiled(name: str, steps: int, angle: float):
    fn = functools.partial(_trajectory, name, steps=steps, angle=angle)
    return jax.jit(jax.vmap(jax.vmap(fn, in_axes=(0, None)), in_axes=(None, 0)))


@dataclasses.dataclass
class Valley:
    """Trajectories of every optimizer × condition number × learning rate."""

    paths: np.ndarray  # (optimizer, kappa, lr, step + 1, 2)
    losses: np.ndarray  # (optimizer, kappa, lr, step + 1)
    angle: float = ANGLE  # the valley's rotation against the coordinate axes (radians)

    def steps_to(self, tol: float = TOL, *, stay: bool = True) -> np.ndarray:
        """Steps to reach f < tol·f(w₀), per (optimizer, kappa, lr); STEPS + 1 if never.

        With ``stay`` (the default) the step from which f stays below until the end of the
        run — an optimizer that crosses the tolerance and bounces back out has not reached
        it; without, the first step below.
        """
        ok = np.nan_to_num(self.losses, nan=np.inf) < tol * self.losses[..., :1]
        if stay:
            ok = np.flip(np.logical_and.accumulate(np.flip(ok, -1), -1), -1)
        return np.where(ok.any(-1), ok.argmax(-1), STEPS + 1)


AXES = {"rotated 30°": ANGLE, "axis-aligned": 0.0}
EXPLORER_LRS = LRS[2:]  # the explorer's η (its static twin holds every frame; η < 0.03 is slow)


def valley(*, steps: int = STEPS, angle: float = ANGLE) -> Valley:
    """Run every optimizer on every (κ, learning rate) of the grid."""
    paths, losses = [], []
    kappas, lrs = jnp.array(KAPPAS, jnp.float32), jnp.array(LRS, jnp.float32)
    for name in OPTIMIZERS:
        w, f = _compiled(name, steps, angle)(lrs, kappas)  # (kappa, lr, step + 1, ...)
        paths.append(np.asarray(w))
        losses.append(np.asarray(f))
    return Valley(np.stack(paths), np.stack(losses), angle)


def steps_to_tolerance(v: Valley, tol: float = TOL, *, stay: bool = True) -> dict[str, np.ndarray]:
    """Steps each optimizer needs at each κ, at its best learning rate on the grid."""
    best = v.steps_to(tol, stay=stay).min(axis=-1)  # (optimizer, kappa)
    return {name: best[i] for i, name in enumerate(OPTIMIZERS)}


def _ellipse(kappa: float, level: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    h = np.asarray(hessian(jnp.float32(kappa), angle), np.float64)
    vals, vecs = np.linalg.eigh(h)
    t = np.linspace(0, 2 * np.pi, 25)
    pts = vecs @ (np.sqrt(2 * level / vals)[:, None] * np.stack([np.cos(t), np.sin(t)]))
    return pts[0], pts[1]


def valley_figure(valleys: dict[str, Valley], values: dict[str, Any]) -> Figure:
    """The path in the valley, the loss against steps, steps-to-tolerance against κ."""
    name, kappa, lr = values["optimizer"], values["kappa"], values["lr"]
    v = valleys[values.get("axes", next(iter(valleys)))]
    o, k, j = OPTIMIZERS.index(name), KAPPAS.index(kappa), LRS.index(lr)
    f0 = float(v.losses[0, k, 0, 0])
    contours = [
        Series(*_ellipse(kappa, f0 * s, v.angle), color="#cccccc") for s in (0.02, 0.2, 1.0)
    ]
    path = v.paths[o, k, j, :121:4]
    path = np.clip(np.nan_to_num(path, nan=1e3), -1e3, 1e3)
    trajectory = Lines(
        [*contours, Series(path[:, 0], path[:, 1], LABELS[name], color="#d62728", markers=True)],
        title="the first 120 steps in the valley",
        xlabel="w₁",
        ylabel="w₂",
        xlim=(-2.5, 2.5),
        ylim=(-2.0, 2.0),
        legend=False,
    )
    steps = np.arange(0, STEPS + 1, 20)
    with np.errstate(over="ignore", invalid="ignore"):
        rel = np.nan_to_num(v.losses[:, k, :, ::20] / f0, nan=1e9, posinf=1e9)
    rel = np.clip(rel, 1e-12, 1e9)
    best_gd = int(np.argmin(v.steps_to()[0, k]))
    loss = Lines(
        [
            Series(
                steps,
                rel[0, best_gd],
                "gradient descent at its best η",
                color="#7f7f7f",
                dashed=True,
            ),
            Series(steps, rel[o, j], "this optimizer and η", color="#d62728"),
        ],
        title="loss f(w) / f(w₀)",
        xlabel="step",
        ylog=True,
        xlim=(0, STEPS),
        ylim=(1e-12, 1e3),
        hline=TOL,
    )
    best = steps_to_tolerance(v)
    summary = Lines(
        [
            Series(
                KAPPAS,
                np.minimum(best[n], STEPS + 1),
                LABELS[n],
                markers=n == name,
                dashed=n != name,
            )
            for n in OPTIMIZERS
        ],
        title=f"steps until f stays < {TOL:g}·f(w₀) (best η)",
        xlabel="condition number κ",
        ylabel="steps",
        xlog=True,
        ylog=True,
        xlim=(0.8, 400),
        ylim=(1, 1000),
        vline=float(kappa),
    )
    reached = v.steps_to()[o, k, j]
    verdict = f"below tolerance from step {reached}" if reached <= STEPS else "not within tolerance"
    axes = f"{np.degrees(v.angle):.0f}° valley" if v.angle else "axis-aligned valley"
    return Figure(
        [trajectory, loss, summary],
        title=f"{LABELS[name]}, {axes}, κ = {kappa}, η = {lr}: {verdict}",
        width=12.5,
        height=4.0,
    )


def valleys(*, steps: int = STEPS) -> dict[str, Valley]:
    """The valley rotated by 30° and aligned with the axes (see :data:`AXES`)."""
    return {label: valley(steps=steps, angle=angle) for label, angle in AXES.items()}


def valley_explorer(runs: dict[str, Valley] | Valley) -> Explorer:
    """Optimizer, condition number, learning rate and the valley's axes, over precomputed runs."""
    runs = runs if isinstance(runs, dict) else {"rotated 30°": runs}
    return Explorer(
        [
            dropdown(
                "optimizer",
                {LABELS[n]: n for n in OPTIMIZERS},
                label="optimizer",
                default="momentum",
            ),
            dropdown("axes", list(runs), label="valley"),
            slider("kappa", KAPPAS, label="condition number κ", default=100),
            slider("lr", EXPLORER_LRS, label="learning rate η", default=0.3),
        ],
        view=lambda values, _: valley_figure(runs, values),
        lookup=lambda values: None,
        title="Optimizers in an ill-conditioned valley",
        note=(
            f"Each optimizer ran {STEPS} steps for every κ and η (vmapped), from w₀ = {START} "
            "in the 30° valley and the same point relative to the valley when it is aligned."
        ),
    )


# ---- mini-batch noise --------------------------------------------------------------------

BATCHES = [1, 10, 100]
NOISE_STEPS = 200
NOISE_SEEDS = 8
NOISE_SIZES = [100, 300, 1000]
NOISE_LRS = [0.001, 0.003, 0.01]
MODES = {"equal steps, same η": "steps", "equal examples, η ∝ batch": "examples"}


def batch_config(batch: int, mode: str) -> TrainConfig:
    """Linear regression by SGD with ``batch`` examples per step.

    ``mode="steps"``: NOISE_STEPS steps whatever the batch.  ``mode="examples"``:
    NOISE_STEPS·100 / batch steps, so every batch size sees the same number of examples.
    """
    steps = NOISE_STEPS if mode == "steps" else NOISE_STEPS * max(BATCHES) // batch
    return TrainConfig(
        Linear(4, 1), loss="mse", optimizer="sgd", batch_size=batch, steps=steps, n_logs=20, lr=0.01
    )


@on_disk
def batch_noise(*, key: jax.Array) -> SweepResult:
    """Loss histories over mode × batch size × seeds × training-set size × base learning rate.

    In ``examples`` mode the learning rate is scaled with the batch (η = base·batch/100),
    the linear-scaling rule, so that each example moves the weights as far on average.
    """
    k_data, k_train = jax.random.split(key)
    d = datasets.regression(n_train=1000, n_test=1000, n_features=4, noise=1.0, key=k_data)
    by_mode = []
    for mode in MODES.values():
        runs = []
        for b in BATCHES:
            scale = 1.0 if mode == "steps" else b / max(BATCHES)
            r = sweep(
                batch_config(b, mode),
                d,
                key=k_train,
                seeds=NOISE_SEEDS,
                n_trains=NOISE_SIZES,
                lr=[lr * scale for lr in NOISE_LRS],
                progress=False,
            )
            r.axes["lr"] = np.asarray(NOISE_LRS)  # label runs by their base learning rate
            runs.append(r)
        by_mode.append(stack(runs, "batch", BATCHES))
    return stack(by_mode, "mode", list(MODES.values()))


def spread(result: SweepResult, mode: str) -> np.ndarray:
    """Std over seeds of the final training loss, per batch size (mean over sizes and lrs)."""
    final = result.sel(mode=mode).final("train_loss")  # (batch, seed, n, lr)
    return final.std(axis=1).mean(axis=(1, 2))


def mean_final(result: SweepResult, mode: str) -> np.ndarray:
    """Mean final training loss per batch size (mean over seeds, sizes and lrs)."""
    return result.sel(mode=mode).final("train_loss").mean(axis=(1, 2, 3))


def noise_figure(result: SweepResult, values: dict[str, Any]) -> Figure:
    """Training loss per batch size (mean over seeds), and its spread across seeds."""
    n, lr, mode = values["n_train"], values["lr"], values["mode"]
    sub = result.sel(mode=mode, n_train=n, lr=lr)  # (batch, seed, log)
    loss = sub.metrics["train_loss"]  # (batch, seed, log)
    per_log = NOISE_STEPS if mode == "steps" else NOISE_STEPS * max(BATCHES)
    x = np.arange(1, loss.shape[-1] + 1) * per_log / loss.shape[-1]
    xlabel = "steps" if mode == "steps" else "examples seen"
    mean = Lines(
        [Series(x, loss[i].mean(0), f"batch {b}") for i, b in enumerate(BATCHES)],
        title="training loss, mean over seeds", xlabel=xlabel, ylabel="training ½-MSE",
        ylog=True, xlim=(0, per_log), ylim=(0.3, 1e4),
    )  # fmt: skip
    spread = Lines(
        [Series(x, loss[i].std(0), f"batch {b}") for i, b in enumerate(BATCHES)],
        title="spread across seeds (std)", xlabel=xlabel, ylabel="std of the ½-MSE",
        ylog=True, xlim=(0, per_log), ylim=(0.1, 1e3),
    )  # fmt: skip
    final = loss[:, :, -1]  # (batch, seed)
    title = f"{'equal steps' if mode == 'steps' else 'equal examples'}, n = {n}: final std " + (
        ", ".join(f"batch {b} {final[i].std():.3g}" for i, b in enumerate(BATCHES))
    )
    return Figure([mean, spread], title=title, width=9.5, height=3.8)


def noise_explorer(result: SweepResult) -> Explorer:
    """Training-set size, learning rate and comparison mode; one curve per batch size."""
    return Explorer(
        [
            dropdown("mode", MODES, label="compare at"),
            slider("n_train", NOISE_SIZES, label="training examples n", default=1000),
            slider("lr", NOISE_LRS, label="η at batch 100", default=0.003),
        ],
        view=lambda values, _: noise_figure(result, values),
        lookup=lambda values: None,
        title="Mini-batch noise: batch 1, 10 and 100",
        note=f"{NOISE_SEEDS} seeds per curve, drawn from the engine's sweep.",
    )


@on_disk
def gradient_variance(*, key: jax.Array, draws: int = 2000) -> dict[int, float]:
    """Total variance of the mini-batch gradient at w = 0, for each batch size.

    Theory (sampling with replacement): Var[ĝ_B] = Var[ĝ_1] / B.
    """
    k_data, k_draws = jax.random.split(key)
    d = datasets.regression(n_train=1000, n_test=10, n_features=4, noise=1.0, key=k_data)
    x, y = jnp.asarray(d.x_train), jnp.asarray(d.y_train)

    def grad(idx: jax.Array) -> jax.Array:
        xb, yb = x[idx], y[idx]
        return jnp.concatenate([xb.T @ (-yb), -yb.sum(keepdims=True)]) / idx.shape[0]

    out = {}
    for b in BATCHES:
        idx = jax.random.randint(jax.random.fold_in(k_draws, b), (draws, b), 0, 1000)
        g = jax.vmap(grad)(idx)  # (draws, 5)
        out[b] = float(jnp.sum(jnp.var(g, axis=0)))
    return out


# ---- batch GD against SGD from one start ---------------------------------------------------


def descent_curves(
    d: datasets.Dataset, batch: int | None, *, start: jax.Array, key: jax.Array, steps: int = 100,
    lr: float = 0.01,
) -> np.ndarray:  # fmt: skip
    """Half-MSE on the training set along gradient descent from ``start`` (w then b).

    ``batch=None`` averages the gradient over every training example (batch GD);
    otherwise each step draws ``batch`` examples with ``key`` (SGD for 1, mini-batch above).
    Returns the loss before each step and after the last, shape (steps + 1,).
    """
    x, y = jnp.asarray(d.x_train), jnp.asarray(d.y_train)  # (n, p), (n,)
    n = x.shape[0]

    def loss(theta: jax.Array, idx: jax.Array) -> jax.Array:
        return 0.5 * jnp.mean((x[idx] @ theta[:-1] + theta[-1] - y[idx]) ** 2)

    def step(theta: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
        idx = jnp.arange(n) if batch is None else jax.random.randint(k, (batch,), 0, n)
        return theta - lr * jax.grad(loss)(theta, idx), loss(theta, jnp.arange(n))

    theta, curve = jax.lax.scan(step, start, jax.random.split(key, steps))
    return np.append(np.asarray(curve), float(loss(theta, jnp.arange(n))))


# ---- where the linear scaling rule breaks, and the noise ball -------------------------------

SCALING_BATCHES = [1, 10, 100, 250, 500, 1000]
SCALING_EXAMPLES = 20_000


def _regression_task(key: jax.Array) -> datasets.Dataset:
    return datasets.regression(n_train=1000, n_test=1000, n_features=4, noise=1.0, key=key)


def _sgd_config(batch: int, steps: int, n_logs: int = 10) -> TrainConfig:
    return TrainConfig(Linear(4, 1), loss="mse", optimizer="sgd", batch_size=batch, steps=steps,
                       n_logs=n_logs, lr=0.01)  # fmt: skip


@on_disk
def scaling_rule(
    *, key: jax.Array, base_lr: float = 0.002, seeds: int = 4,
    batches: tuple[int, ...] = tuple(SCALING_BATCHES),
) -> dict[str, Any]:  # fmt: skip
    """The linear scaling rule η = base_lr·B at a fixed number of examples seen.

    Every batch size sees SCALING_EXAMPLES examples (SCALING_EXAMPLES / B steps). Returns
    per B the learning rate, its ratio to the stability limit 2/L, the final training
    loss's excess over least squares (mean over seeds; inf if not finite) and whether the
    runs diverged (ended above the loss of the all-zero starting model).
    """
    k_data, k_train = jax.random.split(key)
    d = _regression_task(k_data)
    limit, floor = 2 / curvature(d.x_train), optimum_loss(d.x_train, d.y_train)
    start = float(0.5 * np.mean(np.square(d.y_train)))  # the zero-initialised model's loss
    lrs, excess, diverged = [], [], []
    for b in batches:
        lr = base_lr * b
        runs = sweep(_sgd_config(b, SCALING_EXAMPLES // b), d, key=k_train, seeds=seeds,
                     n_trains=[1000], lr=[lr], progress=False)  # fmt: skip
        final = runs.final("train_loss")
        lrs.append(lr)
        finite = bool(np.all(np.isfinite(final)))
        excess.append(float(np.mean(final)) - floor if finite else np.inf)
        diverged.append(not finite or bool(np.any(final > start)))
    return {"batches": list(batches), "lr": np.asarray(lrs), "diverged": np.asarray(diverged),
            "lr_over_limit": np.asarray(lrs) / limit, "excess": np.asarray(excess)}  # fmt: skip


NOISE_BALL_LRS = [0.01, 0.03, 0.1]
NOISE_BALL_BATCHES = [1, 4, 16]


@on_disk
def noise_ball(*, key: jax.Array, steps: int = 4000, seeds: int = 4) -> dict[str, np.ndarray]:
    """Where constant-step SGD settles: excess training loss over least squares.

    For each batch size B and learning rate η, the mean excess over the second half of the
    run (after it has settled) and over seeds. Theory for small η: proportional to η/B.
    """
    k_data, k_train = jax.random.split(key)
    d = _regression_task(k_data)
    floor = optimum_loss(d.x_train, d.y_train)
    excess = []
    for b in NOISE_BALL_BATCHES:
        runs = sweep(_sgd_config(b, steps, n_logs=40), d, key=k_train, seeds=seeds,
                     n_trains=[1000], lr=NOISE_BALL_LRS, progress=False)  # fmt: skip
        loss = runs.metrics["train_loss"][:, 0, :, 20:]  # (seed, lr, settled logs)
        excess.append(loss.mean(axis=(0, 2)) - floor)
    lrs, batches = np.meshgrid(NOISE_BALL_LRS, NOISE_BALL_BATCHES)
    return {"excess": np.asarray(excess), "lr_over_batch": lrs / batches}  # (batch, lr)
