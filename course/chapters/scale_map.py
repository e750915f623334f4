"""Chapter 00, the scale map: test error over training-set size × model width.

An MLP with one hidden layer (40 → width → 10) learns MNIST-1D from the first
``n_train`` examples, for 8 sizes (125…4000) × 8 widths (2…256) × 4 seeds, in
one engine sweep.  The chapter's two claims are checked by :func:`claims`:

1. **more data helps every model**: test error falls with ``n_train`` at every
   width (no rise larger than seed noise between neighbouring sizes, and a clear
   fall from the smallest to the largest size);
2. **bigger models need more data to pay off**: the benefit of width (test error
   of the narrowest minus the widest model) is small at the smallest size and
   large at the largest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from course.engine import data as datasets
from course.engine.memo import on_disk
from course.engine.models import MLP
from course.engine.sweep import SweepResult, log_grid, sweep, sweep_point
from course.engine.train import TrainConfig
from course.ui.figures import Figure, Heatmap, Lines, Series, band
from course.ui.widgets import Explorer, slider

SIZES = log_grid(125, 4000, 8)
WIDTHS = log_grid(2, 256, 8)
SEEDS = 4
CONFIG = TrainConfig(MLP(40, (max(WIDTHS),), 10), steps=500, batch_size=100, n_logs=10, lr=2e-3)


@on_disk(ignore=("progress",))
def run(
    *,
    key: jax.Array,
    seeds: int = SEEDS,
    data: datasets.Dataset | None = None,
    progress: bool = True,
) -> SweepResult:
    """The chapter's sweep: sizes × widths × seeds on MNIST-1D."""
    data = datasets.mnist1d() if data is None else data
    return sweep(
        CONFIG, data, key=key, seeds=seeds, n_trains=SIZES, widths=WIDTHS, progress=progress
    )


def errors(
    result: SweepResult, split: str = "test", *, ddof: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Final error (1 − accuracy), mean and std over seeds: two arrays (n_train, width).

    ``ddof=1`` gives the sample std (what a standard error is made of); the default 0 is the
    spread the figures draw.
    """
    err = 1 - result.final(f"{split}_acc")
    ax = result.dims.index("seed")
    return err.mean(axis=ax), err.std(axis=ax, ddof=ddof)


@dataclasses.dataclass
class Claims:
    """The chapter's claims as measured, with the tolerances used to judge them."""

    rise_allowed: np.ndarray  # (n-1, width): largest rise between neighbouring sizes allowed
    worst_rise: np.ndarray  # (width,): largest rise seen between neighbouring sizes
    total_fall: np.ndarray  # (width,): error at the smallest size minus at the largest
    benefit: np.ndarray  # (n,): error of the narrowest minus the widest model
    falls_with_data: bool
    width_pays_off_with_data: bool

    def __str__(self) -> str:
        return (
            f"test error falls with data at every width: {self.falls_with_data} "
            f"(fall from n={SIZES[0]} to n={SIZES[-1]}: "
            f"{', '.join(f'{v:.3f}' for v in self.total_fall)}; "
            f"largest rise between neighbouring sizes {self.worst_rise.max():.3f}, "
            f"allowed by seed noise {self.rise_allowed.max():.3f})\n"
            f"benefit of width ({WIDTHS[-1]} vs {WIDTHS[0]} units) grows with data: "
            f"{self.width_pays_off_with_data} "
            f"({self.benefit[0]:.3f} at n={SIZES[0]} → {self.benefit[-1]:.3f} at n={SIZES[-1]})"
        )


def claims(result: SweepResult, *, small_benefit: float = 0.10, gain: float = 0.10) -> Claims:
    """Check the chapter's claims on a sweep result.

    Seed noise: a rise between neighbouring sizes counts only when it exceeds two
    standard errors of the difference of the two means, 2·√(s₁²/k + s₂²/k) for k seeds.

    Args:
        result: the output of :func:`run`.
        small_benefit: the benefit of width at the smallest size must be below this.
        gain: the benefit at the largest size must exceed the smallest size's by this.
    """
    mean, std = errors(result, ddof=1)  # (n, width); sample std over seeds
    k = result.shape[result.dims.index("seed")]
    rise = mean[1:] - mean[:-1]
    allowed = 2 * np.sqrt((std[1:] ** 2 + std[:-1] ** 2) / k)
    total_fall = mean[0] - mean[-1]
    benefit = mean[:, 0] - mean[:, -1]
    return Claims(
        rise_allowed=allowed,
        worst_rise=rise.max(axis=0),
        total_fall=total_fall,
        benefit=benefit,
        falls_with_data=bool(np.all(rise <= allowed) and np.all(total_fall > 0)),
        width_pays_off_with_data=bool(
            benefit[0] < small_benefit and benefit[-1] > benefit[0] + gain
        ),
    )


def epochs(n_train: int, config: TrainConfig = CONFIG) -> float:
    """Passes over the training set that the fixed step budget makes at ``n_train``."""
    return config.steps * config.batch_size / n_train


@on_disk
def longer_budget(
    *, key: jax.Array, steps: int = 2000, sizes: tuple[int, ...] = (SIZES[0], SIZES[-1]),
    widths: tuple[int, ...] = (WIDTHS[0], WIDTHS[-1]), seeds: int = SEEDS,
) -> SweepResult:  # fmt: skip
    """The map's corners again with ``steps`` instead of 500 (same key: the same seeds)."""
    config = dataclasses.replace(CONFIG, steps=steps)
    return sweep(config, datasets.mnist1d(), key=key, seeds=seeds, n_trains=list(sizes),
                 widths=list(widths), progress=False)  # fmt: skip


def figure(result: SweepResult, point: SweepResult, values: dict[str, Any]) -> Figure:
    """The scale map at (n_train, width): heatmap, learning curves, error against size."""
    n, width = values["n_train"], values["width"]
    mean, std = errors(result)
    col = int(np.argmin(np.abs(np.log(np.asarray(SIZES) / n))))
    row = int(np.argmin(np.abs(np.log(np.asarray(WIDTHS) / width))))
    heat = Heatmap(
        mean.T,
        [str(s) for s in SIZES],
        [str(w) for w in WIDTHS],
        title="test error (mean of seeds)",
        xlabel="training examples n",
        ylabel="hidden units",
        zlabel="test error",
        marker=(col, row),
        fmt="{:.2f}",
    )
    steps = result.steps
    curves = []
    for split, dashed in (("train", True), ("test", False)):
        err = 1 - point.metrics[f"{split}_acc"]  # (seed, log)
        curves.append(
            band(
                err.mean(0),
                err.std(0),
                steps,
                f"{split} error",
                dashed=dashed,
                color="#1f77b4" if split == "test" else "#ff7f0e",
            )
        )
    learning = Lines(
        curves,
        title="learning curves (± std over seeds)",
        xlabel="step",
        ylabel="error",
        xlim=(0, float(steps[-1])),
        ylim=(0, 1),
    )
    size_curves = [  # the two references: dashed, light and dark grey (told apart in the legend)
        Series(SIZES, mean[:, 0], f"narrowest ({WIDTHS[0]} units)", color="#b3b3b3", dashed=True),
        Series(SIZES, mean[:, -1], f"widest ({WIDTHS[-1]} units)", color="#4d4d4d", dashed=True),
        Series(SIZES, mean[:, row], "this width", err=std[:, row], color="#1f77b4", markers=True),
    ]
    by_size = Lines(
        size_curves,
        title="test error against data",
        xlabel="training examples n",
        ylabel="test error",
        xlog=True,
        xlim=(SIZES[0] / 1.2, SIZES[-1] * 1.2),
        ylim=(0.3, 0.85),
        vline=float(n),
    )
    test = 1 - point.final("test_acc")
    train = 1 - point.final("train_acc")
    title = (
        f"n = {n}, width = {width}: test error {test.mean():.3f} ± {test.std():.3f}, "
        f"train error {train.mean():.3f}"
    )
    return Figure([heat, learning, by_size], title=title, width=12.5, height=3.9)


def live_point(
    values: dict[str, Any], *, key: jax.Array, data: datasets.Dataset, seeds: int = SEEDS
) -> SweepResult:
    """Retrain one (n_train, width) point for every seed now, through the engine."""
    return sweep_point(
        CONFIG, data, key=key, seeds=seeds, n_train=values["n_train"], width=values["width"]
    )


def explorer(
    result: SweepResult,
    *,
    key: jax.Array,
    data: datasets.Dataset | None = None,
) -> Explorer:
    """The chapter's explorer: sliders for n_train and width over the sweep's grid."""
    data = datasets.mnist1d() if data is None else data
    return Explorer(
        [
            slider("n_train", SIZES, label="training examples n", default=SIZES[3]),
            slider("width", WIDTHS, label="hidden units", default=WIDTHS[4]),
        ],
        view=lambda values, point: figure(result, point, values),
        lookup=lambda values: result.sel(**values),
        live=lambda values: live_point(values, key=key, data=data),
        title="The scale map: move the data size and the model size",
        note=f"Each point: {SEEDS} seeds × {CONFIG.steps} Adam steps on MNIST-1D, "
        "trained in advance in one vmapped sweep.",
    )
