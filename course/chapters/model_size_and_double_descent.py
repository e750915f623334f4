"""Chapter 04: model size against data size — memorisation, overfitting, double descent.

* :func:`memorization` — source 000 §4's experiment (a 10 → 64 → 1 MLP, Adam, MSE,
  100 epochs on 100 examples) with a *random* target, beside a learnable one.
* :func:`model_sizes` — source 004 §5's comparison (128 vs 256-128 hidden units) across
  training-set sizes on MNIST-1D, with a linear baseline.
* :func:`double_descent` — model-wise double descent: one-hidden-layer MLPs of 24 widths on
  the 8×8 digits with 20 % of the training labels flipped, trained to interpolation.
* :func:`samplewise` — at a fixed width, test error against the amount of data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from course.engine import data as datasets
from course.engine.memo import on_disk
from course.engine.models import MLP, Linear
from course.engine.sweep import SweepResult, log_grid, stack, sweep, sweep_point
from course.engine.train import TrainConfig, check_data
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

# ---- memorisation (000 §4) -------------------------------------------------------------------

MEMO = TrainConfig(
    MLP(10, (64,), 1), loss="mse", optimizer="adam", steps=400, batch_size=32, n_logs=20, lr=1e-3
)  # 100 epochs of ⌈100/32⌉ = 4 steps, as Keras would


@dataclasses.dataclass
class Memorization:
    """Train and held-out loss curves for a random and a learnable target."""

    results: dict[str, SweepResult]  # target -> axes (seed, n_train)
    baselines: dict[str, float]  # target -> held-out ½-MSE of predicting the training mean

    def final(self, target: str, split: str) -> float:
        """Mean over seeds of the final ``split`` loss."""
        return float(self.results[target].final(f"{split}_loss").mean())


@on_disk
def memorization(*, key: jax.Array, seeds: int = 4) -> Memorization:
    """Source 000 §4's MLP on uniform random X with a random and with a learnable Y."""
    results, baselines = {}, {}
    k_data, k_train = jax.random.split(key)  # the data's draw, the runs' seeds
    for target in ("random", "learnable"):
        d = datasets.uniform_regression(n_train=100, n_test=1000, target=target, key=k_data)
        results[target] = sweep(MEMO, d, key=k_train, seeds=seeds, n_trains=[100], progress=False)
        y_mean = float(np.mean(d.y_train))
        baselines[target] = float(0.5 * np.mean((np.asarray(d.y_test) - y_mean) ** 2))
    return Memorization(results, baselines)


def memorization_figure(m: Memorization) -> Figure:
    """Train and held-out loss against steps, for both targets, with the baselines."""
    panels = []
    for target in ("random", "learnable"):
        r = m.results[target]
        series = [
            band(
                r.metrics[f"{s}_loss"][:, 0].mean(0),
                r.metrics[f"{s}_loss"][:, 0].std(0),
                r.steps,
                label,
                dashed=s == "train",
            )
            for s, label in (("train", "training loss"), ("test", "held-out loss"))
        ]
        panels.append(
            Lines(
                series,
                title=f"{target} target",
                xlabel="step",
                ylabel="½-MSE",
                hline=m.baselines[target],
                ylog=True,
            )
        )
    return Figure(
        panels,
        title="dotted: held-out loss of always predicting the training mean",
        width=10,
        height=3.6,
    )


# ---- 128 vs 256-128 (004 §5) -----------------------------------------------------------------

SIZES = log_grid(125, 4000, 8)
ARCHITECTURES = {
    "linear (baseline)": Linear(40, 10),
    "MLP 128": MLP(40, (128,), 10),
    "MLP 256-128": MLP(40, (256, 128), 10),
}


@on_disk
def model_sizes(*, key: jax.Array, seeds: int = 4) -> dict[str, SweepResult]:
    """Every architecture at every training-set size on MNIST-1D (1000 Adam steps)."""
    d = datasets.mnist1d()
    return {
        name: sweep(
            TrainConfig(model, steps=1000, batch_size=100, n_logs=1, lr=1e-3),
            d,
            key=key,
            seeds=seeds,
            n_trains=SIZES,
            progress=False,
        )
        for name, model in ARCHITECTURES.items()
    }


def errors_by_size(results: dict[str, SweepResult]) -> dict[str, dict[str, np.ndarray]]:
    """Per architecture: mean test error and mean train–test gap at each size."""
    out = {}
    for name, r in results.items():
        test = 1 - r.final("test_acc").mean(0)
        train = 1 - r.final("train_acc").mean(0)
        out[name] = {"test": test, "gap": test - train}
    return out


def paired_difference(results: dict[str, SweepResult], a: str, b: str) -> dict[str, np.ndarray]:
    """How much lower ``a``'s test error is than ``b``'s per size: mean and 95 % half-width.

    Both architectures train on the same seeds' data, so the difference is taken seed by
    seed. With k seeds the 95 % confidence interval of the mean difference is ± t·s/√k with
    Student's t at k − 1 degrees of freedom (3.18 for 4 seeds; "2 s.e." would cover only
    about 86 % there).
    """
    from scipy.stats import t

    diff = results[a].final("test_acc") - results[b].final("test_acc")  # (seed, n)
    k = diff.shape[0]
    se = np.std(diff, axis=0, ddof=1) / np.sqrt(k)
    return {"mean": diff.mean(0), "ci95": float(t.ppf(0.975, k - 1)) * se}


def standardised_labels() -> dict[str, Any]:
    """Source 004 §3.2.1's preprocessing applied to class labels (the 8×8 digits).

    Returns the labels, the labels standardised as the source does, what casting those back
    to integers gives, and the engine's refusal to train softmax cross-entropy on them.
    """
    d = datasets.digits(flatten=True)
    y = np.asarray(d.y_train)
    standardised = ((y - y.mean()) / y.std()).astype(np.float32)
    try:
        check_data(TrainConfig(MLP(64, (32,), 10)), dataclasses.replace(d, y_train=standardised))
        refusal = ""
    except (TypeError, ValueError) as err:
        refusal = f"{type(err).__name__}: {err}"
    return {
        "labels": y,
        "standardised": standardised,
        "cast_to_int": standardised.astype(np.int32),
        "refusal": refusal,
    }


def model_sizes_figure(results: dict[str, SweepResult]) -> Figure:
    """Test error and train–test gap against training-set size."""
    e = errors_by_size(results)
    panels = [
        Lines(
            [
                Series(SIZES, e[n][key], n, markers=True, dashed=n.startswith("linear"))
                for n in results
            ],
            title=title,
            xlabel="training examples n",
            ylabel=ylabel,
            xlog=True,
        )
        for key, title, ylabel in (
            ("test", "test error", "test error"),
            ("gap", "overfitting: test error − train error", "gap"),
        )
    ]
    return Figure(panels, title="MNIST-1D, 1000 Adam steps, 4 seeds", width=10, height=3.8)


# ---- double descent ----------------------------------------------------------------------

WIDTHS = log_grid(3, 400, 24)
NOISES = [0.0, 0.2]
DD_SIZES = [500, 1000]
DD_SEEDS = 4
DD = TrainConfig(MLP(64, (max(WIDTHS),), 10), steps=3000, batch_size=100, n_logs=1, lr=3e-3)
INTERPOLATED = 0.01  # training error at or below this counts as "fits every training label"
ERROR_TOP = 0.8  # the explorer's error axis: the curves stay well below it


def noisy_digits(noise: float, *, key: jax.Array) -> datasets.Dataset:
    """The 8×8 digits (flattened) with a fraction ``noise`` of the training labels flipped."""
    d = datasets.digits(flatten=True)
    return datasets.flip_labels(d, noise, key=key) if noise > 0 else d


def label_and_train_keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Two independent keys from one: which labels are flipped, and the training seeds.

    Every double-descent sweep (the grid, the live explorer, the sample-wise curve) draws
    its keys here, so they flip the same labels and train the same seeds.
    """
    k_labels, k_train = jax.random.split(key)
    return k_labels, k_train


@on_disk
def double_descent(
    *, key: jax.Array, noises: list[float] | None = None, sizes: list[int] | None = None
) -> SweepResult:
    """Widths × seeds × sizes for each label-noise level: axes (noise, seed, n_train, width)."""
    noises = NOISES if noises is None else noises
    sizes = DD_SIZES if sizes is None else sizes
    k_labels, k_train = label_and_train_keys(key)
    runs = [
        sweep(
            DD,
            noisy_digits(noise, key=k_labels),
            key=k_train,
            seeds=DD_SEEDS,
            n_trains=sizes,
            widths=WIDTHS,
        )
        for noise in noises
    ]
    return stack(runs, "noise", noises)


@dataclasses.dataclass
class Peak:
    """Where the test error peaks, and where the training error first reaches ≈ 0."""

    test: np.ndarray  # (width,) mean test error
    test_std: np.ndarray  # (width,)
    train: np.ndarray  # (width,) mean training error
    peak: int  # index of the largest test error beyond the smallest widths
    threshold: int  # index of the first width with training error ≤ INTERPOLATED
    dip: int  # index of the smallest test error before the peak

    @property
    def peak_at_threshold(self) -> bool:
        """At the interpolation threshold the test error is the peak's, within seed noise.

        The top of the curve is a plateau a few grid steps wide whose highest point moves
        with the seeds; what holds is that the threshold's test error cannot be told from
        the peak's: their gap is at most two standard errors of the difference.
        """
        return self.threshold_gap <= self.threshold_noise()

    @property
    def threshold_gap(self) -> float:
        """How far the test error at the threshold lies below the peak's."""
        return float(self.test[self.peak] - self.test[self.threshold])

    def threshold_noise(self) -> float:
        """Two standard errors of the difference between the peak's and the threshold's means."""
        var = self.test_std[self.peak] ** 2 + self.test_std[self.threshold] ** 2
        return float(2 * np.sqrt(var / DD_SEEDS))

    @property
    def rise(self) -> float:
        """How far the test error climbs from its dip to its peak."""
        return float(self.test[self.peak] - self.test[self.dip])

    @property
    def descent(self) -> float:
        """How far the widest model's test error lies below the peak."""
        return float(self.test[self.peak] - self.test[-1])

    def noise(self) -> float:
        """Two standard errors of the difference between the peak's and the dip's means."""
        var = self.test_std[self.peak] ** 2 + self.test_std[self.dip] ** 2
        return float(2 * np.sqrt(var / DD_SEEDS))


def find_peak(result: SweepResult, *, noise: float = 0.2, n_train: int = 500) -> Peak:
    """Locate the double-descent peak and the interpolation threshold at (noise, n_train)."""
    sub = result.sel(noise=noise, n_train=n_train)  # (seed, width)
    test = 1 - sub.final("test_acc")
    train = 1 - sub.final("train_acc").mean(0)
    mean = test.mean(0)
    fits = np.flatnonzero(train <= INTERPOLATED)
    threshold = int(fits[0]) if fits.size else len(WIDTHS) - 1
    # the peak is the worst width after the first local minimum (tiny nets underfit badly)
    dip = int(np.argmin(mean[: threshold + 1]))
    peak = dip + int(np.argmax(mean[dip:]))
    return Peak(mean, test.std(0, ddof=1), train, peak, threshold, dip)  # sample std over seeds


def dd_figure(
    result: SweepResult, values: dict[str, Any], point: SweepResult | None = None
) -> Figure:
    """Train and test error against width at (noise, n), and the test curves of every n.

    The title reports ``point`` — the runs at the current values, looked up or retrained
    live (axis ``seed``) — or, without it, the grid's nearest width.
    """
    noise, n, width = values["noise"], values["n_train"], values["width"]
    sub = result.sel(noise=noise, n_train=n)
    test, train = 1 - sub.final("test_acc"), 1 - sub.final("train_acc")
    p = find_peak(result, noise=noise, n_train=n)
    thr = WIDTHS[p.threshold]
    grey = "#7f7f7f"
    curves = Lines(
        [
            band(test.mean(0), test.std(0), WIDTHS, "test error"),
            band(train.mean(0), train.std(0), WIDTHS, "train error", dashed=True),
            Series([thr, thr], [0, ERROR_TOP], "train error first ≈ 0", color=grey, dashed=True),
        ],
        title=f"{n} examples, {noise:.0%} noisy labels",
        xlabel="hidden units (width)",
        ylabel="error",
        xlog=True,
        xlim=(2.5, 480),
        ylim=(0, ERROR_TOP),
        vline=float(width),
    )
    others = Lines(
        [
            Series(
                WIDTHS,
                1 - result.sel(noise=noise, n_train=m).final("test_acc").mean(0),
                f"n = {m}",
                markers=m == n,
                dashed=m != n,
            )
            for m in DD_SIZES
        ],
        title="test error: the peak moves with the data",
        xlabel="hidden units (width)",
        ylabel="test error",
        xlog=True,
        xlim=(2.5, 480),
        ylim=(0, ERROR_TOP),
        vline=float(width),
    )
    if point is None:
        j = int(np.argmin(np.abs(np.log(np.asarray(WIDTHS) / width))))
        here_test, here_train = test[:, j], train[:, j]  # (seed,)
    else:
        here_test, here_train = 1 - point.final("test_acc"), 1 - point.final("train_acc")
    title = (
        f"width {width} ({(64 + 11) * width + 10} parameters): test error "
        f"{here_test.mean():.3f} ± {here_test.std():.3f}, train error {here_train.mean():.3f}; "
        f"interpolation from width {thr}"
    )
    return Figure([curves, others], title=title, width=11.5, height=4)


def dd_explorer(result: SweepResult, *, key: jax.Array) -> Explorer:
    """Label noise, training-set size and width over the double-descent grid."""
    k_labels, k_train = label_and_train_keys(key)

    def live(values: dict[str, Any]) -> SweepResult:
        d = noisy_digits(values["noise"], key=k_labels)
        return sweep_point(
            DD, d, key=k_train, seeds=DD_SEEDS, n_train=values["n_train"], width=values["width"]
        )

    return Explorer(
        [
            slider("noise", NOISES, label="label noise", fmt="{:.0%}", default=0.2),
            slider("n_train", DD_SIZES, label="training examples n", default=500),
            slider("width", WIDTHS, label="hidden units", default=WIDTHS[11]),
        ],
        view=lambda values, point: dd_figure(result, values, point),
        lookup=lambda values: result.sel(**values),
        live=live,
        title="Double descent: width, data and label noise",
        note=f"One hidden layer, {DD.steps} Adam steps (batch 100), {DD_SEEDS} seeds, 8×8 digits.",
    )


# ---- sample-wise -------------------------------------------------------------------------

SAMPLE_WIDTH = 30
SAMPLE_SIZES = log_grid(100, 1347, 12)


@on_disk
def samplewise(*, key: jax.Array, width: int = SAMPLE_WIDTH) -> SweepResult:
    """Test error against n at one width near the threshold (20 % noisy labels)."""
    k_labels, k_train = label_and_train_keys(key)
    return sweep(
        DD,
        noisy_digits(0.2, key=k_labels),
        key=k_train,
        seeds=DD_SEEDS,
        n_trains=SAMPLE_SIZES,
        widths=[width],
        progress=False,
    ).isel(width=0)


def largest_rise(result: SweepResult) -> tuple[float, float, int]:
    """Largest increase of mean test error between neighbouring sizes, its noise, and where.

    Returns (rise, two standard errors of that difference, index of the larger size).
    """
    test = 1 - result.final("test_acc")  # (seed, n)
    mean, std = test.mean(0), test.std(0, ddof=1)
    rises = mean[1:] - mean[:-1]
    i = int(np.argmax(rises))
    return float(rises[i]), float(2 * np.sqrt((std[i] ** 2 + std[i + 1] ** 2) / DD_SEEDS)), i + 1


def samplewise_threshold(result: SweepResult) -> int:
    """Index of the first size at which the network no longer fits every training label."""
    train = 1 - result.final("train_acc").mean(0)  # (n,)
    above = np.flatnonzero(train > INTERPOLATED)
    return int(above[0]) if len(above) else len(train)


def samplewise_figure(result: SweepResult, width: int = SAMPLE_WIDTH) -> Figure:
    """Train and test error against the number of training examples."""
    test, train = 1 - result.final("test_acc"), 1 - result.final("train_acc")
    return Figure(
        [
            Lines(
                [
                    band(test.mean(0), test.std(0), SAMPLE_SIZES, "test error"),
                    band(train.mean(0), train.std(0), SAMPLE_SIZES, "train error", dashed=True),
                ],
                title=f"width {width}, 20% noisy labels",
                xlabel="training examples n",
                ylabel="error",
                xlog=True,
                ylim=(0, 0.6),
            )
        ],
        title="sample-wise: more data at a fixed model size",
        width=6.5,
        height=3.8,
    )
