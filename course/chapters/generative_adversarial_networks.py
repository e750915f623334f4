"""Chapter 09: generative adversarial networks — measured, not eyeballed.

* :func:`target` — the 2-D targets: a ring of 8 Gaussians and a 3 × 3 grid (σ = :data:`SIGMA`).
* :func:`mmd2`, :func:`mode_stats`, :func:`copying_ratio` — what a sample is measured by: the
  maximum mean discrepancy to the target (Gaussian kernel of bandwidth :data:`BANDWIDTH`),
  the modes covered and the share of samples off target, and whether the samples sit
  nearer their mode's training examples than held-out draws of that mode do.
* :func:`saturation_study` — the generator's gradient under the minimax and the
  non-saturating loss while the discriminator learns to reject its samples.
* :func:`gan_study` — vmapped sweeps of adversarial runs (one per width) over the number of
  real examples and the learning-rate ratio: the explorer's grid, the slow discriminator's
  failure and its remedy, and what few real examples do.
* :func:`grid_study` — the ring's two working settings (D's rate × 1 and × 5) on the grid.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import data as datasets
from course.engine import gan, optim
from course.engine.checks import check_array, check_choice, check_float
from course.engine.memo import on_disk
from course.engine.models import gan_pair
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

Params = Any

# ------------------------------------------------------------------- targets and measures

SIGMA = 0.1  # standard deviation of every target mode
MODES = {"ring": 8, "grid": 9}
BANDWIDTH = 0.5  # h of the MMD's kernel exp(−‖x − y‖² / 2h²): between a mode's width and spacing
ON_TARGET = 3.0  # a sample within 3σ of a mode's centre is on target
COVER = 0.25  # a mode is covered when it holds at least a quarter of its fair share 1/K


def target(kind: str = "ring", *, n_train: int, n_test: int = 2000, key: jax.Array):
    """Draws from a target mixture: ``n_train`` real examples and ``n_test`` fresh ones."""
    kind = check_choice("kind", kind, MODES)
    return datasets.two_d(kind, n_train=n_train, n_test=n_test, noise=SIGMA,
                          n_classes=MODES[kind], key=key)  # fmt: skip


def centres(kind: str = "ring") -> np.ndarray:
    """The target's mode centres, (K, 2)."""
    kind = check_choice("kind", kind, MODES)
    return datasets.mode_centres(kind, MODES[kind])


def _points(name: str, x: Any) -> jax.Array:
    x = check_array(name, x, kind="f")
    if x.ndim < 2 or x.shape[-1] != 2:
        raise ValueError(f"{name} must hold 2-D points (last axis 2), got shape {x.shape}")
    return jnp.asarray(x)


def _kernel_mean(a: jax.Array, b: jax.Array, bandwidth: float, *, skip_diagonal: bool) -> jax.Array:
    """Mean of k(a_i, b_j) over i, j — over i ≠ j when ``skip_diagonal`` (a is b)."""
    d2 = jnp.sum((a[:, None, :] - b[None, :, :]) ** 2, -1)  # (n, m)
    total = jnp.sum(jnp.exp(-d2 / (2 * bandwidth**2)))
    if not skip_diagonal:
        return total / (a.shape[0] * b.shape[0])
    n = a.shape[0]
    return (total - n) / (n * (n - 1))  # k(x, x) = 1 on the diagonal, left out


@functools.partial(jax.jit, static_argnames=("bandwidth", "y_is_distribution"))
def _mmd2(x: jax.Array, y: jax.Array, bandwidth: float, y_is_distribution: bool) -> jax.Array:
    """MMD² of x (runs, n, 2) against one y (m, 2), a run at a time (memory O(n·m))."""
    yy = _kernel_mean(y, y, bandwidth, skip_diagonal=not y_is_distribution)

    def one(xi: jax.Array) -> jax.Array:
        xx = _kernel_mean(xi, xi, bandwidth, skip_diagonal=True)
        return xx + yy - 2 * _kernel_mean(xi, y, bandwidth, skip_diagonal=False)

    return jax.lax.map(one, x)


def mmd2(
    x: Any, y: Any, bandwidth: float = BANDWIDTH, *, y_is_distribution: bool = False
) -> np.ndarray:
    """Squared maximum mean discrepancy between samples x (..., n, 2) and y (m, 2).

    MMD² = E k(x, x') + E k(y, y') − 2 E k(x, y) with the Gaussian kernel
    k(a, b) = exp(−‖a − b‖² / 2h²) (Gretton et al. 2012, Lemma 6).  It is 0 exactly when the
    two distributions agree (the kernel is characteristic).  By default both are samples
    and the estimate is unbiased: it scatters around 0 for two samples of one distribution,
    and can be slightly negative.  With ``y_is_distribution`` the m points of y *are* the
    distribution (m point masses, e.g. a training set as a GAN sees it): E k(y, y') then
    keeps its diagonal, and the result is ≈ 0 only for samples that reproduce y.
    """
    x, y = _points("x", x), _points("y", y)
    bandwidth = check_float("bandwidth", bandwidth, 0.0, lo_open=True)
    if y.ndim != 2:
        raise ValueError(f"y must be one sample of shape (m, 2), got shape {tuple(y.shape)}")
    if x.shape[-2] < 2 or y.shape[0] < 2:
        raise ValueError("x and y need at least 2 points each")
    flat = x.reshape(-1, *x.shape[-2:])  # (runs, n, 2)
    return np.asarray(_mmd2(flat, y, bandwidth, bool(y_is_distribution))).reshape(x.shape[:-2])


@dataclasses.dataclass
class ModeStats:
    """How samples sit on a mixture's modes (arrays over the samples' leading axes).

    Attributes:
        shares: (..., K) share of the samples on target at each mode.
        covered: (...,) modes holding at least ``COVER / K`` of the samples.
        off_target: (...,) share of samples farther than ``ON_TARGET``·σ from every centre.
    """

    shares: np.ndarray
    covered: np.ndarray
    off_target: np.ndarray


def mode_stats(samples: Any, kind: str = "ring") -> ModeStats:
    """Mode coverage and off-target share of samples (..., n, 2) against ``kind``'s modes."""
    x = np.asarray(_points("samples", samples), float)
    c = centres(kind)
    d = np.linalg.norm(x[..., :, None, :] - c, axis=-1)  # (..., n, K)
    on = d.min(-1) < ON_TARGET * SIGMA  # (..., n)
    nearest = d.argmin(-1)
    shares = np.stack([np.mean(on & (nearest == k), -1) for k in range(len(c))], -1)
    return ModeStats(shares, np.sum(shares >= COVER / len(c), -1), 1.0 - on.mean(-1))


def _cells(p: jax.Array, kind: str) -> jax.Array:
    """The index of each point's nearest mode centre (its cell), (..., n)."""
    c = jnp.asarray(centres(kind), p.dtype)
    c = c.reshape((1,) * (p.ndim - 1) + c.shape)  # (1, …, 1, K, 2)
    return jnp.argmin(jnp.sum((p[..., :, None, :] - c) ** 2, -1), -1)


def nearest_mode(points: Any, kind: str = "ring") -> np.ndarray:
    """The index of each point's nearest mode centre, (..., n), for points (..., n, 2)."""
    return np.asarray(_cells(_points("points", points), check_choice("kind", kind, MODES)))


def cell_distances(x: Any, points: Any, kind: str = "ring") -> np.ndarray:
    """Distance from each of x (..., n, 2) to the nearest of ``points`` in its own cell.

    The cells are the target's modes (every point belongs to the nearest mode centre); a
    point whose cell holds none of ``points`` gets NaN.
    """
    x, points = _points("x", x), _points("points", points)
    p = points.reshape((1,) * (x.ndim - 1) + points.shape)  # (1, …, 1, m, 2)
    d2 = jnp.sum((x[..., :, None, :] - p) ** 2, -1)  # (..., n, m)
    cells = _cells(points, kind).reshape((1,) * (x.ndim - 1) + (-1,))  # (1, …, 1, m)
    same = _cells(x, kind)[..., :, None] == cells  # (..., n, m)
    nearest = jnp.min(jnp.where(same, d2, jnp.inf), -1)  # (..., n)
    return np.asarray(jnp.where(jnp.isfinite(nearest), jnp.sqrt(nearest), jnp.nan))


def matched_held_out(train: Any, held_out: Any, kind: str = "ring") -> np.ndarray:
    """As many held-out points in every mode's cell as ``train`` has there, (n, 2)."""
    train = np.asarray(_points("train", train))
    held_out = np.asarray(_points("held_out", held_out))
    cell_train = np.asarray(_cells(jnp.asarray(train), kind))
    cell_held = np.asarray(_cells(jnp.asarray(held_out), kind))
    matched = []
    for k in np.unique(cell_train):
        need, pool = int(np.sum(cell_train == k)), held_out[cell_held == k]
        if len(pool) < need:
            raise ValueError(f"held_out needs at least {need} points in mode {k} (as many as "
                             f"train has there), got {len(pool)}")  # fmt: skip
        matched.append(pool[:need])
    return np.concatenate(matched)


def copying_ratio(samples: Any, train: Any, held_out: Any, kind: str = "ring") -> np.ndarray:
    """How much closer generated samples sit to the training points than to fresh ones.

    A data-copying test after Meehan, Chaudhuri & Dasgupta (2020), with the target's modes
    as the cells: each sample's distance to the nearest training point of its own mode,
    against its distance to the nearest of as many held-out draws from that mode (the ratio
    of the means; samples in modes without a training point do not count).  Both sets are
    draws of the same size from the same Gaussians, so a generator that draws new points —
    precise or not, on every mode or only on those it saw — scores about 1, and one that
    reproduces its training points scores well below 1.  (Meehan et al. compare
    distributions of distances cell by cell with a Mann–Whitney test; a ratio of means is
    enough here.)
    """
    matched = matched_held_out(train, held_out, kind)
    to_train = cell_distances(samples, train, kind)  # (..., n)
    to_held = cell_distances(samples, matched, kind)
    return np.nanmean(to_train, -1) / np.nanmean(to_held, -1)


# ------------------------------------------------------------------- the networks and the runs

LATENT = 2
WIDTH = 64
DEPTH = 2
LR = 1e-3
BATCH = 64
STEPS = 2400
N_LOGS = 8
N_SAMPLES = 400
N_POOL = 4096  # real examples drawn (and as many held out); n_train picks the first ones
MMD_REFERENCE = 1000  # held-out points the MMD compares with


def config(*, width: int = WIDTH, steps: int = STEPS, **changes: Any) -> gan.GANConfig:
    """The chapter's GAN: ReLU MLPs with two hidden layers; Adam (β₁ = 0.5), batch BATCH."""
    g, d = gan_pair(latent=LATENT, hidden=width, depth=DEPTH)
    return gan.GANConfig(g, d, steps=steps, batch_size=BATCH, lr=LR, n_logs=N_LOGS,
                         n_samples=N_SAMPLES, **changes)  # fmt: skip


# ------------------------------------------------------------------- 1. minimax or non-saturating

SATURATION_STEPS = 300  # discriminator steps against a fixed, freshly initialised generator
SATURATION_EVERY = 10


@dataclasses.dataclass
class Saturation:
    """The generator's gradient while D learns to reject a fixed generator's samples.

    Attributes:
        d_steps: discriminator steps taken, (T,).
        d_fake: mean D(G(z)) (the probability D gives generated points of being real), (T,).
        grad_norm: loss name → ‖∇_θG loss‖ over the generator's parameters, (T,).
    """

    d_steps: np.ndarray
    d_fake: np.ndarray
    grad_norm: dict[str, np.ndarray]


@on_disk
def saturation_study(*, key: jax.Array) -> Saturation:
    """Train D alone (Adam) against the initial generator; measure G's gradient on the way."""
    c = config()
    k_data, k_g, k_d, k_steps, k_z = jax.random.split(key, 5)
    real = jnp.asarray(target(n_train=N_POOL, key=k_data).x_train)
    g = c.generator.init(key=k_g)
    d = c.discriminator.init(key=k_d)
    z = jax.random.normal(k_z, (1024, LATENT))  # the batch G's gradient is measured on
    opt = optim.adam(LR, b1=0.5)

    def measure(d: Params) -> jax.Array:
        fake = c.generator.apply(g, z)
        p = jnp.mean(jax.nn.sigmoid(c.discriminator.apply(d, fake)[:, 0]))
        norms = [
            optim.global_norm(jax.grad(gan.generator_loss, argnums=1)(
                dataclasses.replace(c, generator_loss=name), g, d, z, None, None))
            for name in gan.GENERATOR_LOSSES
        ]  # fmt: skip
        return jnp.stack([p, *norms])

    def step(state: tuple, k: jax.Array) -> tuple[tuple, jax.Array]:
        d, s = state
        k_idx, k_fake = jax.random.split(k)
        batch = real[jax.random.randint(k_idx, (128,), 0, N_POOL)]
        fake = c.generator.apply(g, jax.random.normal(k_fake, (128, LATENT)))
        grads = jax.grad(gan.discriminator_loss, argnums=1)(c, d, batch, fake, None)
        u, s = opt.update(grads, s, d)
        d = optim.apply_updates(d, u)
        return (d, s), measure(d)

    keys = jax.random.split(k_steps, SATURATION_STEPS)
    _, logged = jax.jit(lambda st: jax.lax.scan(step, st, keys))((d, opt.init(d)))
    first = np.asarray(measure(d))[None]
    logged = np.concatenate([first, np.asarray(logged)])[::SATURATION_EVERY]
    steps = np.arange(SATURATION_STEPS + 1)[::SATURATION_EVERY]
    return Saturation(steps, logged[:, 0], dict(zip(gan.GENERATOR_LOSSES, logged[:, 1:].T,
                                                    strict=True)))  # fmt: skip


# ------------------------------------------------------------------- 2. the sweep

N_TRAINS = [8, 64, 512, 4096]
LR_RATIOS = [0.2, 1.0, 5.0]  # the discriminator's learning rate over the generator's
WIDTHS = [16, 64]
SEEDS = 3
SLOW_D, BALANCED, FAST_D = LR_RATIOS  # D learns 5× slower than G, as fast, 5× faster


@dataclasses.dataclass
class GANStudy:
    """The chapter's sweep and what it is measured with.

    Attributes:
        runs: width → the sweep at that width (axes n_train and lr_ratio, then seed).
        samples: (n_train, width, lr_ratio, seed, log, n_samples, 2) logged samples.
        real: the pool of real examples (the first n_train are a run's training set), (N, 2).
        held_out: fresh target points, never trained on, (N, 2).
        mmd2: (n_train, width, lr_ratio, seed, log) MMD² of the logged samples to the first
            ``MMD_REFERENCE`` held-out points.
        covered, off_target: (n_train, width, lr_ratio, seed, log) — see :func:`mode_stats`.
        mmd2_examples: (n_train, width, lr_ratio, seed) MMD² at the end to the run's own
            training examples (to the first 1000 of them when there are more).
        unseen: (n_train, width, lr_ratio, seed) share of the samples at the end that sit on
            a mode holding none of the run's training examples.
        copying: (n_train, width, lr_ratio, seed) at the end — see :func:`copying_ratio`.
        fresh_mmd2_examples, fresh_copying: (n_train,) the same two measures for fresh draws
            from the target (what a generator that learned the target itself would score).
        floor: MMD² of ``n_samples`` further held-out points: what a perfect generator scores.
    """

    runs: dict[int, gan.GANSweep]
    samples: np.ndarray
    real: np.ndarray
    held_out: np.ndarray
    mmd2: np.ndarray
    covered: np.ndarray
    off_target: np.ndarray
    mmd2_examples: np.ndarray
    unseen: np.ndarray
    copying: np.ndarray
    fresh_mmd2_examples: np.ndarray
    fresh_copying: np.ndarray
    floor: float

    @property
    def steps(self) -> np.ndarray:
        """The steps at which samples were logged, (log,)."""
        return self.runs[WIDTHS[0]].config.sample_steps

    def at(self, n_train: int, width: int, lr_ratio: float) -> tuple[int, int, int]:
        """Indices of a grid point into the (n_train, width, lr_ratio) axes."""
        return N_TRAINS.index(n_train), WIDTHS.index(width), LR_RATIOS.index(lr_ratio)


def measure(samples: np.ndarray, held_out: np.ndarray) -> tuple[np.ndarray, ...]:
    """MMD² to the target, modes covered and share off target of samples (..., n, 2)."""
    stats = mode_stats(samples)
    return mmd2(samples, held_out[:MMD_REFERENCE]), stats.covered, stats.off_target


def example_measures(
    last: np.ndarray, real: np.ndarray, n_trains: list[int], held_out: np.ndarray
) -> tuple[np.ndarray, ...]:
    """What the examples did to the final samples ``last`` (n_train, ..., n, 2).

    Returns, per number of examples: the samples' MMD² to the examples as a distribution,
    their share on modes without an example, and their copying ratio.
    """
    to_examples, unseen, copying = [], [], []
    for i, n in enumerate(n_trains):
        examples = real[:n]
        to_examples.append(mmd2(last[i], examples[:MMD_REFERENCE], y_is_distribution=True))
        seen = np.unique(nearest_mode(examples))
        shares = mode_stats(last[i]).shares  # (..., K)
        unseen.append(np.delete(shares, seen, axis=-1).sum(-1))
        copying.append(copying_ratio(last[i], examples, held_out))
    return np.stack(to_examples), np.stack(unseen), np.stack(copying)


@on_disk(ignore=("progress",))
def gan_study(*, key: jax.Array, progress: bool = True) -> GANStudy:
    """Every (n_train, width, lr_ratio), ``SEEDS`` runs each; the width is both networks'."""
    k_data, k_train = jax.random.split(key)
    data = target(n_train=N_POOL, n_test=2 * N_POOL, key=k_data)  # held out: ~2× per mode
    runs = {  # the same key at every width: paired seeds
        w: gan.sweep(config(width=w), data.x_train, key=k_train, seeds=SEEDS, n_train=N_TRAINS,
                     lr_ratio=LR_RATIOS, progress=progress)
        for w in WIDTHS
    }  # fmt: skip
    # one sweep per width: each network only as wide as it is (no masked units to pay for)
    samples = np.stack([runs[w].history["samples"][:, 0, 0] for w in WIDTHS], 1)
    values = measure(samples, data.x_test)
    values += example_measures(samples[..., -1, :, :], data.x_train, N_TRAINS, data.x_test)
    # what a sampler of the target itself scores on the same measures, per number of examples
    fresh = target(n_train=N_SAMPLES, n_test=1, key=jax.random.fold_in(k_data, 1)).x_train
    to_examples, _, copying = example_measures(
        np.broadcast_to(fresh, (len(N_TRAINS), *fresh.shape)), data.x_train, N_TRAINS,
        data.x_test)  # fmt: skip
    values += (to_examples, copying)
    perfect = data.x_test[MMD_REFERENCE : MMD_REFERENCE + N_SAMPLES]
    floor = float(mmd2(perfect, data.x_test[:MMD_REFERENCE]))
    return GANStudy(runs, samples, data.x_train, data.x_test, *values, floor)


# ------------------------------------------------------------------- 3. the grid target


GRID_RATIOS = [BALANCED, FAST_D]


@dataclasses.dataclass
class GridStudy:
    """The ring's two working settings on the 3 × 3 grid.

    Attributes:
        samples: (ratio, seed, log, n, 2), ratios ``GRID_RATIOS``.
        covered, off_target, mmd2: (ratio, seed, log) — modes of 9.
        steps: the logged steps.
    """

    samples: np.ndarray
    covered: np.ndarray
    off_target: np.ndarray
    mmd2: np.ndarray
    steps: np.ndarray


@on_disk
def grid_study(*, key: jax.Array) -> GridStudy:
    """The chapter's GAN, unchanged, on the 3 × 3 grid, at D's rate × 1 and × 5."""
    k_data, k_train = jax.random.split(key)
    data = target("grid", n_train=N_POOL, n_test=MMD_REFERENCE, key=k_data)
    run = gan.sweep(config(), data.x_train, key=k_train, seeds=SEEDS, lr_ratio=GRID_RATIOS,
                    progress=False)  # fmt: skip
    samples = run.history["samples"][0, 0, 0]  # (ratio, seed, log, n, 2)
    stats = mode_stats(samples, "grid")
    return GridStudy(samples, stats.covered, stats.off_target, mmd2(samples, data.x_test),
                     run.config.sample_steps)  # fmt: skip


# ------------------------------------------------------------------- the explorer

COLORS = {"samples": "#1f77b4", "train": "#7f7f7f", "modes": "#d62728"}
SHOWN = 200  # generated points drawn per frame (the twin stores every frame)
TRAIN_SHOWN = 64  # training points drawn (all of them when n_train is smaller)


def frame_figure(study: GANStudy, run: dict[str, np.ndarray], values: dict[str, Any]) -> Figure:
    """Samples at this step over the target's modes and training points; the measures."""
    n = values["n_train"]
    log = int(np.argmin(np.abs(study.steps - values["step"])))  # the nearest logged step
    step = int(study.steps[log])
    x = run["samples"][log, :SHOWN]  # (SHOWN, 2)
    c = centres()
    train = study.real[: min(n, TRAIN_SHOWN)]
    scatter = Lines(
        [
            Series(
                list(c[:, 0]),
                list(c[:, 1]),
                label="mode centres",
                color=COLORS["modes"],
                line=False,
                hollow=True,
            ),
            Series(
                list(x[:, 0]), list(x[:, 1]), label="generated", color=COLORS["samples"], line=False
            ),
            Series(  # drawn last: on top of the samples that crowd around them
                list(train[:, 0]),
                list(train[:, 1]),
                label=f"training points ({n})",
                color=COLORS["train"],
                line=False,
            ),
        ],
        title=f"step {step}: samples (blue), examples (grey)",
        xlabel="x₁",
        ylabel="x₂",
        xlim=(-3.2, 3.2),
        ylim=(-3.2, 3.2),
        legend=False,  # samples can be anywhere: a legend box would hide some
    )
    steps = list(study.steps)
    over = Lines(
        [
            Series(steps, list(run["covered"]), label="modes covered (of 8)", markers=True),
            Series(
                steps,
                list(8 * (1 - run["off_target"])),
                label="share on target × 8",
                dashed=True,
                markers=True,
            ),
        ],
        title="over training (seed 0)",
        xlabel="step",
        ylabel="modes",
        ylim=(0, 8.5),
        vline=float(step),
    )
    title = (
        f"{n} examples, width {values['width']}, D's lr × {values['lr_ratio']:g}: "
        f"{int(run['covered'][log])} of 8 modes covered, "
        f"{100 * run['off_target'][log]:.0f} % off target, MMD² {run['mmd2'][log]:.3f}"
    )
    return Figure([scatter, over], title=title, width=10.0, height=4.4)


def run_point(study: GANStudy, values: dict[str, Any]) -> dict[str, np.ndarray]:
    """Seed 0 of one grid point: samples (log, n, 2) and its measures (log,)."""
    i, j, r = study.at(values["n_train"], values["width"], values["lr_ratio"])
    return {
        "samples": study.samples[i, j, r, 0],
        "mmd2": study.mmd2[i, j, r, 0],
        "covered": study.covered[i, j, r, 0],
        "off_target": study.off_target[i, j, r, 0],
    }


def retrain(study: GANStudy, key: jax.Array, n_train: int, width: int, lr_ratio: float):
    """Seed 0 of one point trained again through the engine (the same key as the sweep)."""
    run = gan.train(config(width=width), study.real, key=key, n_train=n_train, lr_ratio=lr_ratio)
    samples = run["history"]["samples"]  # (log, n, 2)
    m, cov, off = measure(samples, study.held_out)
    return {"samples": samples, "mmd2": m, "covered": cov, "off_target": off}


def gan_explorer(study: GANStudy, *, key: jax.Array) -> Explorer:
    """Real examples, width and learning-rate ratio over :func:`gan_study`.

    A step slider replays training.  ``key`` must be the study's key (seed 0's runs are
    retrained).
    """
    seed0 = jax.random.split(jax.random.split(key)[1], SEEDS)[0]
    live = functools.lru_cache(maxsize=8)(
        lambda n, w, r: retrain(study, seed0, n, w, r)
    )  # the step slider replays a retrained run without training it again
    steps = [int(s) for s in study.steps]
    return Explorer(
        [
            slider("n_train", N_TRAINS, label="real examples", default=N_POOL),
            slider("lr_ratio", LR_RATIOS, label="D's learning rate ×", default=BALANCED),
            dropdown(
                "width", {f"{w} units": w for w in WIDTHS}, label="width (G and D)", default=WIDTH
            ),
            slider("step", steps, label="training step", default=steps[-1]),
        ],
        view=lambda values, point: frame_figure(study, point, values),
        lookup=lambda values: run_point(study, values),
        live=lambda values: live(values["n_train"], values["width"], values["lr_ratio"]),
        title="A GAN on a ring of 8 Gaussians: data, width and the learning-rate ratio",
        live_runs="seed 0 (one run)",
        note=f"Seed 0 of {SEEDS}, {STEPS} steps of batch {BATCH} (Adam, G's learning rate {LR:g}), "
        "trained in advance; the step slider replays the run.",
    )


# ------------------------------------------------------------------- figures


def saturation_figure(s: Saturation) -> Figure:
    """‖∇_θG‖ under both losses against D's steps, and D(G(z))."""
    grads = Lines(
        [Series(list(s.d_steps), list(s.grad_norm[name]), label=name, markers=True)
         for name in gan.GENERATOR_LOSSES],
        title="the generator's gradient", xlabel="discriminator steps (G fixed)",
        ylabel="‖∇ loss‖ over G's weights", ylog=True,
    )  # fmt: skip
    fake = Lines([Series(list(s.d_steps), list(s.d_fake), label="mean D(G(z))", markers=True)],
                 title="how real D finds the samples", xlabel="discriminator steps (G fixed)",
                 ylabel="probability", ylim=(0, 0.6), hline=0.5)  # fmt: skip
    return Figure([grads, fake], title="While D learns to reject the samples, the minimax "
                  "gradient vanishes", width=10.0, height=3.6)  # fmt: skip


def training_figure(study: GANStudy, width: int = WIDTH) -> Figure:
    """MMD² and modes covered over training, balanced and slow discriminator, every seed."""
    i, j = study.at(N_POOL, width, BALANCED)[:2]
    steps = study.steps
    mmd, cover = [], []
    colors = {BALANCED: "#1f77b4", SLOW_D: "#d62728", FAST_D: "#2ca02c"}
    for k, r in enumerate(LR_RATIOS):
        m, c = study.mmd2[i, j, k], study.covered[i, j, k]  # (seed, log)
        label = f"D's lr × {r:g}"
        mmd.append(band(m.mean(0), m.std(0), steps, label, color=colors[r], markers=True))
        cover.append(band(c.mean(0), c.std(0), steps, label, color=colors[r], markers=True))
    return Figure(
        [
            Lines(
                mmd,
                title="MMD² to the target (± std over seeds)",
                xlabel="step",
                ylabel="MMD²",
                ylog=True,
                hline=max(study.floor, 1e-4),
            ),
            Lines(
                cover,
                title="modes covered (± std over seeds)",
                xlabel="step",
                ylabel="modes (of 8)",
                ylim=(0, 8.5),
                legend=False,  # the colours of the left panel's legend
            ),
        ],
        title=f"{N_POOL} real examples, width {width}: measured over training",
        width=10.0,
        height=3.6,
    )


def examples_figure(study: GANStudy, width: int = WIDTH) -> Figure:
    """MMD² to the examples and to the target, and the copying ratio, against n."""
    j, r = WIDTHS.index(width), LR_RATIOS.index(BALANCED)
    to_target = study.mmd2[:, j, r, :, -1]  # (n_train, seed)
    to_examples = study.mmd2_examples[:, j, r]
    copying = study.copying[:, j, r]
    fresh = "#7f7f7f"
    return Figure(
        [
            Lines(
                [band(to_target.mean(1), to_target.std(1), N_TRAINS, "to the target",
                      markers=True),
                 band(to_examples.mean(1), to_examples.std(1), N_TRAINS,
                      "to its own examples", markers=True),
                 Series(N_TRAINS, list(study.fresh_mmd2_examples), label="fresh draws to the "
                        "examples", color=fresh, dashed=True, markers=True)],
                title="MMD² of the generated samples", xlabel="real examples",
                ylabel="MMD²", xlog=True, hline=0.0,
            ),
            Lines(
                [band(copying.mean(1), copying.std(1), N_TRAINS, "generated samples",
                      markers=True),
                 Series(N_TRAINS, list(study.fresh_copying), label="fresh draws",
                        color=fresh, dashed=True, markers=True)],
                title="copying ratio (copies score near 0)",
                xlabel="real examples", ylabel="ratio", xlog=True, ylim=(0, 1.6),
            ),
        ],
        title="Few real examples: the generator learns the examples, not the target",
        width=10.0,
        height=3.6,
    )  # fmt: skip


def targets_figure(ring: np.ndarray, grid: np.ndarray) -> Figure:
    """Draws from both targets with their mode centres."""
    panels = []
    for kind, x in (("ring", ring), ("grid", grid)):
        c = centres(kind)
        panels.append(Lines(
            [Series(list(x[:, 0]), list(x[:, 1]), label="draws", color=COLORS["samples"],
                    line=False),
             Series(list(c[:, 0]), list(c[:, 1]), label="mode centres", color=COLORS["modes"],
                    line=False, hollow=True)],
            title=f"{MODES[kind]} Gaussians ({kind}), σ = {SIGMA:g}", xlabel="x₁", ylabel="x₂",
            xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), legend_loc="upper right"))  # fmt: skip
    return Figure(panels, title="The targets", width=10.0, height=4.4)


def frames_figure(study: GANStudy, logs: tuple[int, ...] = (2, 5, 8), seed: int = 0) -> Figure:
    """Samples of one seed at several steps: slow discriminator left, fast right."""
    c = centres()
    panels = []
    for log in logs:
        for r in (SLOW_D, FAST_D):
            i, j, k = study.at(N_POOL, WIDTH, r)
            x = study.samples[i, j, k, seed, log, :SHOWN]
            panels.append(Lines(
                [Series(list(c[:, 0]), list(c[:, 1]), color=COLORS["modes"], line=False,
                        hollow=True),
                 Series(list(x[:, 0]), list(x[:, 1]), color=COLORS["samples"], line=False)],
                title=f"D's lr × {r:g}, step {study.steps[log]}: "
                      f"{int(study.covered[i, j, k, seed, log])} of 8 modes",
                xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), legend=False))  # fmt: skip
    return Figure(panels, title=f"Seed {seed}: a slow discriminator (left) and a fast one (right)",
                  width=9.0, height=3.7)  # fmt: skip


# ------------------------------------------------------------------- claims


@dataclasses.dataclass
class Claims:
    """The chapter's claims, each a verdict on the studies it reads (None: not computed)."""

    saturation: Saturation | None = None
    study: GANStudy | None = None
    grid: GridStudy | None = None

    EQUAL_AT_START = 0.05  # relative difference of the two gradients before D has learned
    CONFIDENT = 0.01  # D is confident once the mean D(G(z)) is below this
    VANISHED = 50.0  # … and then the minimax gradient is this many times smaller
    FELL_TO = 0.05  # the final MMD² is below this fraction of the first
    COVERS = 7.0  # mean modes covered (of 8) at the end, over seeds
    LATE = 4  # the last four logged steps (1500–2400)
    COLLAPSED = 3.0  # late in training a slow D's generator covers at most this many modes
    ASTRAY = 0.5  # … and more than this share of its samples is off target at the end
    SAME = 0.01  # with many examples, the two MMD² differ by less than this
    UNSEEN = 0.01  # share of samples on modes without an example, at most
    NOT_COPIES = 0.6  # copying ratio above this: not copies (copies score near 0)
    NEW = (0.9, 1.1)  # with 4096 examples, the mean copying ratio lies within this

    def _cell(self, n_train: int = N_POOL, width: int = WIDTH, lr_ratio: float = FAST_D):
        return self.study.at(n_train, width, lr_ratio)

    @property
    def minimax_gradient_vanishes(self) -> bool:
        """The minimax gradient vanishes once D is confident; the non-saturating one does not.

        At the start both losses give the same gradient (within 5 %); once D gives the
        samples a mean probability below 1 %, the minimax gradient is more than 50 times
        smaller than the non-saturating one.
        """
        s = self.saturation
        mm, ns = s.grad_norm["minimax"], s.grad_norm["nonsaturating"]
        confident = s.d_fake < self.CONFIDENT
        return bool(abs(mm[0] - ns[0]) <= self.EQUAL_AT_START * ns[0] and confident.any()
                    and np.all(ns[confident] > self.VANISHED * mm[confident]))  # fmt: skip

    @property
    def mmd_falls(self) -> bool:
        """The distance to the target falls during training.

        With 4096 examples and width 64, D's rate × 1 and × 5: on every seed the final
        MMD² is below 5 % of its value at the start.
        """
        return all(
            bool(np.all(m[:, -1] < self.FELL_TO * m[:, 0]))
            for m in (self.study.mmd2[self._cell(lr_ratio=r)] for r in (BALANCED, FAST_D))
        )

    @property
    def the_ring_is_covered(self) -> bool:
        """With D as fast as G or faster, the generator covers the ring.

        With 4096 examples and width 64, D's rate × 1 and × 5: at the end at least 7 of the
        8 modes are covered on average over the seeds.
        """
        return all(
            self.study.covered[self._cell(lr_ratio=r)][:, -1].mean() >= self.COVERS
            for r in (BALANCED, FAST_D)
        )

    @property
    def slow_discriminator_fails(self) -> bool:
        """A slow discriminator leaves the generator unsettled, off target, on few modes.

        A discriminator 5× slower than the generator: over the last four logged steps
        (1500–2400) the generator covers at most 3 of the 8 modes on average over the seeds,
        and more than half of its samples are off target at the end (mean over seeds); on
        every seed it covers fewer modes over those steps than with an equal or a 5× faster
        discriminator.
        """
        late = slice(-self.LATE, None)
        slow = self.study.covered[self._cell(lr_ratio=SLOW_D)][:, late].mean(1)  # (seed,)
        astray = self.study.off_target[self._cell(lr_ratio=SLOW_D)][:, -1].mean()
        others = [self.study.covered[self._cell(lr_ratio=r)][:, late].mean(1)
                  for r in (BALANCED, FAST_D)]  # fmt: skip
        return bool(slow.mean() <= self.COLLAPSED and astray > self.ASTRAY
                    and all(np.all(slow < o) for o in others))  # fmt: skip

    def _examples(self, name: str) -> np.ndarray:
        j, r = WIDTHS.index(WIDTH), LR_RATIOS.index(BALANCED)
        return getattr(self.study, name)[:, j, r]  # (n_train, seed)

    @property
    def few_examples_are_learned_not_the_target(self) -> bool:
        """With 8 examples the generator learns the examples, not the target.

        With 8 real examples (D's rate × 1, width 64), on every seed: the samples' MMD² to
        the 8 examples is less than half their MMD² to the target, and less than fresh
        target draws score against the same examples; under 1 % of the samples sit on a
        mode without an example. With 4096 examples, on every seed, the two MMD² differ by
        less than 0.01.
        """
        to_examples = self._examples("mmd2_examples")
        to_target = self.study.mmd2[:, WIDTHS.index(WIDTH), LR_RATIOS.index(BALANCED), :, -1]
        few = (np.all(to_examples[0] < 0.5 * to_target[0])
               and np.all(to_examples[0] < self.study.fresh_mmd2_examples[0])
               and np.all(self._examples("unseen")[0] < self.UNSEEN))  # fmt: skip
        many = np.all(np.abs(to_examples[-1] - to_target[-1]) < self.SAME)
        return bool(few and many)

    @property
    def few_examples_are_not_copied(self) -> bool:
        """The generator leans towards its 8 examples but does not copy them.

        With 8 examples, on every seed, the copying ratio lies between 0.6 and what fresh
        target draws score against the same examples and held-out draws: nearer the
        examples than new points, far from copies (which score near 0). With 4096 examples
        the mean ratio is within 0.9–1.1.
        """
        copying = self._examples("copying")
        lo, hi = self.NEW
        few = np.all((copying[0] > self.NOT_COPIES) & (copying[0] < self.study.fresh_copying[0]))
        return bool(few and lo <= copying[-1].mean() <= hi)

    @property
    def data_bring_the_target_closer(self) -> bool:
        """The final MMD² to the target falls with every increase in the number of examples.

        D's rate × 1, width 64, mean over seeds.
        """
        j, r = WIDTHS.index(WIDTH), LR_RATIOS.index(BALANCED)
        return bool(np.all(np.diff(self.study.mmd2[:, j, r, :, -1].mean(-1)) < 0))

    @property
    def faster_is_not_better_on_the_grid(self) -> bool:
        """On the 3 × 3 grid a faster discriminator covers fewer modes than equal rates.

        On every seed a 5× faster discriminator covers fewer of the 9 modes at the end than
        equal rates, and at most 5.
        """
        cov = self.grid.covered[:, :, -1]  # (ratio, seed)
        fast, equal = cov[GRID_RATIOS.index(FAST_D)], cov[GRID_RATIOS.index(BALANCED)]
        return bool(np.all(fast < equal) and np.all(fast <= 5))


def claims(**studies: Any) -> Claims:
    """The claims the notebook and the tests assert, over the studies given by name."""
    return Claims(**studies)
