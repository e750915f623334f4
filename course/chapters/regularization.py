"""Chapter 05: regularisation — L1, L2, dropout, early stopping, data augmentation.

One training configuration has every regulariser compiled in (each at strength 0 by
default), so every strength of every regulariser is a *value*: one compiled program
serves the whole study.  For each regulariser and training-set size the strength is
chosen on a validation set (carved out of MNIST-1D's test split), and the untouched
test set reports the result.

* :func:`run` — every regulariser × strength × size × seed (one engine call per
  regulariser, all on the same compiled program).
* :class:`Study` — what the chapter derives: tuned errors, benefit, train–test gap,
  early stopping, sparsity.
* :func:`figure` / :func:`explorer` — the chapter's explorer (regulariser, strength, n).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from course.engine import data as datasets
from course.engine import losses
from course.engine.checks import check_choice
from course.engine.memo import on_disk
from course.engine.models import MLP, active_weights
from course.engine.sweep import SweepResult, sweep, sweep_point
from course.engine.train import TrainConfig, early_stopping
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

SIZES = [125, 250, 500, 1000, 4000]
SMALL = 3  # the first SMALL sizes are "small n"
SEEDS = 4
CONFIG = TrainConfig(
    MLP(40, (128,), 10),
    steps=500,
    batch_size=100,
    n_logs=20,
    lr=2e-3,
    l1=0.0,
    l2=0.0,
    dropout=0.0,
    shift=0.0,
    noise=0.0,
    keep_params=True,
)
# Each regulariser's strengths; level 0 is "off".
GRIDS: dict[str, tuple[str, list[float]]] = {
    "L2 weight penalty": ("l2", [0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]),
    "L1 weight penalty": ("l1", [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]),
    "dropout": ("dropout", [0.0, 0.2, 0.4, 0.6, 0.8, 0.9]),
    "augmentation: shifts": ("shift", [0.0, 1.0, 2.0, 4.0, 6.0, 8.0]),
    "augmentation: noise": ("noise", [0.0, 0.1, 0.2, 0.4, 0.8, 1.2]),
}
NAMES = list(GRIDS)
LEVELS = list(range(len(GRIDS[NAMES[0]][1])))  # every grid has the same number of strengths
assert all(len(values) == len(LEVELS) for _, values in GRIDS.values())
LEVEL_LABELS = ("off", *(str(level) for level in LEVELS[1:]))  # the strength is in the title
NEAR_ZERO = 1e-2  # |w| below this (a tenth of the initial scale) counts as switched off


def dataset() -> datasets.Dataset:
    """MNIST-1D with 300 of its test examples moved into a validation set."""
    return datasets.split_validation(datasets.mnist1d(), 300)


@dataclasses.dataclass
class Study:
    """Every regulariser × strength × size × seed, and what the chapter derives from it.

    Attributes:
        results: regulariser name → sweep with axes (seed, n_train, <strength>).
        sizes: the training-set sizes.
        config: the training configuration every run used.
    """

    results: dict[str, SweepResult]
    sizes: list[int]
    config: TrainConfig = CONFIG

    @property
    def names(self) -> list[str]:
        """The regularisers studied."""
        return list(self.results)

    @property
    def seeds(self) -> int:
        """Seeds per setting."""
        return len(self.results[self.names[0]].axes["seed"])

    def unregularised(self) -> SweepResult:
        """The runs at level 0 (every sweep shares them): axes (seed, n_train)."""
        name = self.names[0]
        return self.results[name].isel(**{GRIDS[name][0]: 0})

    def errors(self, name: str, split: str = "test") -> np.ndarray:
        """Final ``split`` error, mean over seeds: (n_train, level)."""
        check_choice("name", name, self.names)
        check_choice("split", split, ("train", "val", "test"))
        return 1 - self.results[name].final(f"{split}_acc").mean(0)

    def best_level(self, name: str) -> np.ndarray:
        """Per size, the strength level with the lowest validation error (0 = off allowed)."""
        return np.argmin(self.errors(name, "val"), axis=1)

    def tuned(self, name: str, split: str = "test") -> np.ndarray:
        """``split`` error at the validation-chosen strength, per size."""
        err = self.errors(name, split)
        return err[np.arange(len(self.sizes)), self.best_level(name)]

    def none(self, split: str = "test") -> np.ndarray:
        """``split`` error without regularisation (level 0), per size."""
        return self.errors(self.names[0], split)[:, 0]

    def benefit(self, name: str) -> np.ndarray:
        """Test error without regularisation minus with the tuned strength, per size."""
        return self.none() - self.tuned(name)

    def gap(self, name: str | None = None) -> np.ndarray:
        """Test minus train error per size, tuned (or unregularised for None)."""
        if name is None:
            return self.none("test") - self.none("train")
        return self.tuned(name, "test") - self.tuned(name, "train")

    def early_stopped(self, metric: str = "val_err") -> dict[str, np.ndarray]:
        """Unregularised runs stopped at the lowest held-out ``metric`` (val_err or val_loss).

        Returns per-size means over seeds of the test and train error there, the chosen
        step, the final test error for comparison, and the chosen log index per run
        (seed, n_train).
        """
        check_choice("metric", metric, HELD_OUT)
        runs = self.unregularised()
        best = early_stopping({**runs.metrics, **held_out_curves(runs)}, metric)
        return {
            "test": 1 - best["test_acc"].mean(0),
            "train": 1 - best["train_acc"].mean(0),
            "step": runs.steps[best["index"]].mean(0),
            "final_test": self.none("test"),
            "index": best["index"],
        }

    def near_zero(self, name: str, n_index: int, level: int) -> float:
        """Fraction of active first-layer weights with ``|w| < NEAR_ZERO`` (mean over seeds).

        The study trains at full width, so every weight is active here; the mask is what a
        study over widths would pass its width to (padded weights are exactly 0).
        """
        w = np.asarray(self.results[name].params[0]["w"][:, n_index, level])  # (seed, 40, width)
        active = active_weights(self.config.model)[0]["w"]  # (40, width)
        return float(np.mean(np.abs(w[:, active]) < NEAR_ZERO))

    def sparsest_at_no_cost(self, name: str, n_index: int, tol: float = 0.01) -> int:
        """The strongest level of ``name`` whose validation error is within ``tol`` of off.

        Chosen on validation only: the penalty as strong as it gets before it costs more
        than ``tol`` of held-out error at this size.
        """
        val = self.errors(name, "val")[n_index]  # (level,)
        return int(np.flatnonzero(val <= val[0] + tol).max())

    def null_power(self, name: str) -> dict[str, np.ndarray]:
        """How large a benefit a "|benefit| ≤ 0.01" test of ``name`` could have missed.

        Per size: the seed-paired standard error of the benefit (ddof 1) and the smallest
        true benefit the test would still flag at two standard errors, 0.01 + 2 SE.
        """
        none = 1 - self.unregularised().final("test_acc")  # (seed, n_train)
        err = 1 - self.results[name].final("test_acc")  # (seed, n_train, level)
        tuned = err[:, np.arange(len(self.sizes)), self.best_level(name)]  # (seed, n_train)
        se = np.std(none - tuned, axis=0, ddof=1) / np.sqrt(self.seeds)
        return {"se": se, "detectable": 0.01 + 2 * se}

    def dead_zone(self, data: datasets.Dataset, n_index: int, level: int) -> dict[str, float]:
        """Is an L1-switched-off weight one whose data gradient is below λ₁?

        At a minimum of L_data + λ₁ Σ|w|, a weight can sit at 0 exactly when
        ``|∂L_data/∂w| ≤ λ₁`` there. For the L1 runs at (size, level) this measures, on each
        seed's own training set, the share of first-layer weights with ``|∂L_data/∂w| ≤ λ₁``
        among the near-zero weights and among the others (means over seeds).
        """
        name = "L1 weight penalty"
        lam, n = GRIDS[name][1][level], self.sizes[n_index]
        model = self.config.model
        x, y = data.x_train[:n], data.y_train[:n]  # (n, 40), (n,)

        def data_loss(params: Any) -> jax.Array:
            return losses.cross_entropy(model.apply(params, x), y).mean()

        inside, outside = [], []
        for s in range(self.seeds):
            params = self.run_params(name, s, n_index, level)
            g = np.abs(np.asarray(jax.grad(data_loss)(params)[0]["w"]))  # (40, width)
            off = np.abs(np.asarray(params[0]["w"])) < NEAR_ZERO
            inside.append(np.mean(g[off] <= lam))
            outside.append(np.mean(g[~off] <= lam))
        return {"near_zero": float(np.mean(inside)), "others": float(np.mean(outside))}

    def run_params(self, name: str, seed: int, n_index: int, level: int) -> Any:
        """The final parameters of one run of ``name``'s sweep."""
        return jax.tree.map(lambda a: a[seed, n_index, level], self.results[name].params)

    def inputs_switched_off(self, name: str, n_index: int, level: int) -> float:
        """Fraction of inputs whose every first-layer weight is near zero (mean over seeds)."""
        w = np.asarray(self.results[name].params[0]["w"][:, n_index, level])  # (seed, 40, width)
        return float(np.mean(np.all(np.abs(w) < NEAR_ZERO, axis=-1)))

    def table(self) -> str:
        """Test error per size: none, then each regulariser tuned on validation (its strength)."""
        head = f"{'regulariser':<22}" + "".join(f"{f'n = {n}':>16}" for n in self.sizes)
        rows = [head, f"{'none':<22}" + "".join(f"{e:>16.3f}" for e in self.none())]
        for name in self.names:
            values = GRIDS[name][1]
            cells = [
                f"{e:.3f} ({values[lv]:g})"
                for e, lv in zip(self.tuned(name), self.best_level(name), strict=True)
            ]
            rows.append(f"{name:<22}" + "".join(f"{c:>16}" for c in cells))
        return "\n".join(rows)


HELD_OUT = {"val_loss": "validation loss", "val_err": "validation error"}


def held_out_curves(runs: SweepResult) -> dict[str, np.ndarray]:
    """The validation curves early stopping can watch: loss and error, (..., log)."""
    return {"val_loss": runs.metrics["val_loss"], "val_err": 1 - runs.metrics["val_acc"]}


@on_disk(ignore=("progress",))
def run(
    *,
    key: jax.Array,
    config: TrainConfig = CONFIG,
    sizes: Sequence[int] = SIZES,
    seeds: int = SEEDS,
    names: Sequence[str] = NAMES,
    progress: bool = True,
) -> Study:
    """One sweep per regulariser over its strengths × sizes × seeds.

    Every sweep has the same shape, so all of them run the same compiled program.
    Seed ``i`` uses the same key in every sweep: level 0 of each regulariser is the same
    unregularised run.
    """
    d = dataset()
    results = {}
    for name in names:
        check_choice("names", name, NAMES)
        field, values = GRIDS[name]
        results[name] = sweep(
            config, d, key=key, seeds=seeds, n_trains=list(sizes), progress=progress,
            **{field: values},
        )  # fmt: skip
    return Study(results, list(sizes), config)


def reversed_templates(max_shift: int = 3) -> np.ndarray:
    """For each MNIST-1D class, the class whose template is nearest to its template reversed.

    Nearest in squared distance, allowing a circular shift of up to ``max_shift`` samples
    (the data set shifts its templates). Entry ``k`` ≠ ``k`` means reversing the signal in
    time — the 1-D "horizontal flip" — turns class ``k``'s shape into another class's.
    """
    from mnist1d.data import get_templates

    templates = np.asarray(get_templates()["x"], np.float64)  # (10, 12)
    shifts = range(-max_shift, max_shift + 1)
    nearest = []
    for t in templates:
        dist = [min(np.sum((np.roll(u, k) - t[::-1]) ** 2) for k in shifts) for u in templates]
        nearest.append(int(np.argmin(dist)))
    return np.asarray(nearest)


@on_disk
def decoupled_decay(
    *, key: jax.Array, n_train: int = 250, weight_decay: float = 3.0, seeds: int = SEEDS
) -> dict[str, float]:
    """AdamW (decoupled weight decay, no penalty in the loss) at one size.

    The same network, data and budget as the study; each step shrinks every weight by the
    factor ``1 − lr·weight_decay`` besides Adam's step. Returns mean validation and test
    error and the near-zero fraction of the first-layer weights.
    """
    config = dataclasses.replace(
        CONFIG, optimizer="adamw", optimizer_args=(("weight_decay", weight_decay),)
    )
    runs = sweep_point(config, dataset(), key=key, seeds=seeds, n_train=n_train)
    w = np.abs(np.asarray(runs.params[0]["w"]))  # (seed, 40, width)
    return {
        "val": float(1 - runs.final("val_acc").mean()),
        "test": float(1 - runs.final("test_acc").mean()),
        "near_zero": float(np.mean(w < NEAR_ZERO)),
    }


@on_disk
def longer_budget(
    *,
    key: jax.Array,
    name: str = "dropout",
    steps: int = 2000,
    n_train: int = 4000,
    seeds: int = SEEDS,
) -> dict[str, Any]:
    """The study's sweep of ``name`` at one size, with ``steps`` instead of 500.

    Returns the unregularised and the validation-tuned test errors, the tuned level and
    the benefit, as :meth:`Study.benefit` computes them for the study itself.
    """
    check_choice("name", name, NAMES)
    field, values = GRIDS[name]
    config = dataclasses.replace(CONFIG, steps=steps)
    runs = sweep(config, dataset(), key=key, seeds=seeds, n_trains=[n_train], progress=False,
                 **{field: values}).isel(n_train=0)  # fmt: skip
    val, test = (1 - runs.final(f"{split}_acc").mean(0) for split in ("val", "test"))
    level = int(np.argmin(val))
    return {
        "epochs": steps * CONFIG.batch_size / n_train,
        "none": float(test[0]),
        "tuned": float(test[level]),
        "level": level,
        "benefit": float(test[0] - test[level]),
    }


def learning_panel(point: SweepResult, title: str) -> Lines:
    """Train, validation and test error against steps, ± std over seeds (axes (seed,))."""
    curves = []
    for split, dashed in (("train", True), ("val", False), ("test", False)):
        err = 1 - point.metrics[f"{split}_acc"]  # (seed, log)
        curves.append(band(err.mean(0), err.std(0), point.steps, f"{split} error", dashed=dashed))
    xlim = (0.0, float(point.steps[-1]))
    return Lines(curves, title=title, xlabel="step", ylabel="error", xlim=xlim, ylim=(0, 1))


def point(study: Study, values: dict[str, Any]) -> SweepResult:
    """The precomputed runs at (regulariser, strength level, n): axes (seed,)."""
    name = values["regularizer"]
    field = GRIDS[name][0]
    return study.results[name].isel(
        n_train=study.sizes.index(int(values["n_train"])), **{field: int(values["level"])}
    )


def figure(study: Study, values: dict[str, Any], runs: SweepResult) -> Figure:
    """Learning curves of ``runs``; test error against strength and against n."""
    name, level, n = values["regularizer"], int(values["level"]), int(values["n_train"])
    i = study.sizes.index(n)
    by_level = Lines(
        [Series(LEVELS, study.errors(nm)[i], nm, markers=nm == name, dashed=nm != name)
         for nm in study.names],
        title=f"test error against strength level, n = {n}", xlabel="strength level (0 = off)",
        ylabel="test error", xlim=(-0.3, LEVELS[-1] + 0.3), ylim=(0.3, 0.8), vline=float(level),
    )  # fmt: skip
    by_size = Lines(
        [Series(study.sizes, study.none(), "no regularisation", color="#7f7f7f", dashed=True),
         Series(study.sizes, study.errors(name)[:, level], "this strength", markers=True),
         Series(study.sizes, study.tuned(name), "strength tuned on validation", dashed=True)],
        title=f"{name}: test error against data", xlabel="training examples n",
        ylabel="test error", xlog=True, xlim=(100, 5000), ylim=(0.3, 0.8), vline=float(n),
    )  # fmt: skip
    test = 1 - runs.final("test_acc")
    train = 1 - runs.final("train_acc")
    strength = GRIDS[name][1][level]
    title = (
        f"{name} = {strength:g}, n = {n}: test error {test.mean():.3f} ± {test.std():.3f}, "
        f"train error {train.mean():.3f} (gap {test.mean() - train.mean():.3f})"
    )
    learning = learning_panel(runs, "learning curves (± std over seeds)")
    return Figure([learning, by_level, by_size], title=title, width=12.5, height=4)


def explorer(study: Study, *, key: jax.Array) -> Explorer:
    """Regulariser, strength and training-set size; "retrain live" reruns the engine."""
    d = dataset()

    def live(values: dict[str, Any]) -> SweepResult:
        field, grid = GRIDS[values["regularizer"]]
        strength = {field: grid[int(values["level"])]}
        return sweep_point(
            study.config, d, key=key, seeds=study.seeds, n_train=values["n_train"], **strength
        )

    levels = "; ".join(f"{nm}: {GRIDS[nm][1][1]:g} … {GRIDS[nm][1][-1]:g}" for nm in study.names)
    default = "dropout" if "dropout" in study.names else study.names[0]
    n_default = 250 if 250 in study.sizes else study.sizes[0]
    return Explorer(
        [
            dropdown("regularizer", study.names, label="regulariser", default=default),
            slider("level", LEVELS, label="strength level", default=2, labels=LEVEL_LABELS),
            slider("n_train", study.sizes, label="training examples n", default=n_default),
        ],
        view=lambda values, runs: figure(study, values, runs),
        lookup=lambda values: point(study, values),
        live=live,
        title="Regularisation: strength against data size",
        note=(
            f"Levels 1–{LEVELS[-1]}: {levels}. {study.seeds} seeds, "
            f"{study.config.steps} Adam steps, MNIST-1D."
        ),
    )


def early_stopping_figure(study: Study, n_train: int = 250) -> Figure:
    """Held-out loss and held-out error of the unregularised runs, with each one's minimum."""
    runs = study.unregularised().isel(n_train=study.sizes.index(n_train))  # axes (seed,)
    test = 1 - runs.metrics["test_acc"]  # (seed, log)
    panels = []
    for metric, curve in held_out_curves(runs).items():
        label, mean = HELD_OUT[metric], curve.mean(0)
        step = float(runs.steps[int(np.argmin(mean))])
        panels.append(Lines(
            [band(mean, curve.std(0), runs.steps, label),
             band(test.mean(0), test.std(0), runs.steps, "test error", dashed=True)],
            title=f"stop at the lowest {label}: step {step:g}", xlabel="step", vline=step,
            ylabel="cross-entropy, error" if metric == "val_loss" else "error",
            ylim=None if metric == "val_loss" else (0, 1),
        ))  # fmt: skip
    return Figure(panels, title=f"Early stopping, no other regularisation, n = {n_train}",
                  width=11, height=3.6)  # fmt: skip
