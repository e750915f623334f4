"""Chapter 11: doing more with less — augmentation, distillation, compression, parallelism.

Each section stretches one scarce resource, and measures by how much:

* :func:`augmentation_study` — how many real examples an augmentation is worth: the
  unaugmented error curve over n, read at the augmented runs' errors;
* :func:`distillation_study` — a small student trained on labels alone, and on the soft
  targets of teachers of three sizes at four temperatures (the engine's ``distill``);
* :func:`compression_study` — magnitude pruning with and without fine-tuning, and
  post-training quantization per tensor and per channel, of one trained network;
* :func:`data_parallel_check` / :func:`step_times` — one run with its batch split over a
  device mesh, against the one-device run, and what a step costs on each;
* :func:`two_process_sweep` — the course's sweep run as two processes joined by
  ``jax.distributed``, against the one-process sweep.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import compress, distributed
from course.engine import data as datasets
from course.engine.checks import check_int, check_key
from course.engine.memo import on_disk
from course.engine.models import MLP
from course.engine.parallel import make_data_parallel, step_seconds
from course.engine.sweep import SweepResult, sweep, sweep_point
from course.engine.train import TrainConfig, device_data, make_train
from course.ui.figures import Figure, Lines, Series
from course.ui.widgets import Explorer, dropdown, slider

SEEDS = 3
N_POOL = 4000
BLUE, RED, GREY = "#1f77b4", "#d62728", "#7f7f7f"

# ---------------------------------------------------------------- augmentation's worth
AUG_SIZES = [125, 250, 500, 1000, 2000, 4000]
SHIFT, NOISE = 4.0, 0.2  # chapter 05's shift and noise augmentations, at one strength each
AUG_CONFIG = TrainConfig(
    MLP(40, (128,), 10), steps=500, batch_size=100, n_logs=5, lr=2e-3,
    shift=0.0, noise=0.0, log_train=False,
)  # fmt: skip

# -------------------------------------------------------------------------- distillation
TEACHER_WIDTHS = [32, 128, 512]  # two hidden layers each
TEMPERATURES = [1.0, 2.0, 4.0, 8.0]
ALPHA = 0.9  # weight of the soft targets
STUDENT_SIZES = [125, 250, 500, 1000, 4000]
SMALL = 3  # the first SMALL student sizes are "small n"
SMALL_N = 500  # the largest small n
TEACHER_CONFIG = TrainConfig(
    MLP(40, (512, 512), 10), steps=2000, batch_size=100, n_logs=4, lr=2e-3,
    shift=2.0, noise=0.1, keep_params=True, log_train=False,
)  # fmt: skip
STUDENT_CONFIG = TrainConfig(
    MLP(40, (16,), 10), steps=1000, batch_size=100, n_logs=5, lr=3e-3,
    distill=0.0, log_train=False,
)  # fmt: skip

# ----------------------------------------------------------------------------- compression
KEEPS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]  # fraction of each weight matrix kept
BITS = [2, 3, 4, 6, 8]
BIG_CONFIG = dataclasses.replace(TEACHER_CONFIG, model=MLP(40, (256, 256), 10))
FINE_TUNE_CONFIG = TrainConfig(
    compress.Pruned(BIG_CONFIG.model), steps=300, batch_size=100, n_logs=1, lr=1e-3,
    shift=2.0, noise=0.1, keep_params=True, log_train=False,
)  # fmt: skip


def dataset() -> datasets.Dataset:
    """MNIST-1D: 4000 training and 1000 test signals."""
    return datasets.mnist1d()


def seed_of(tree: Any, s: int) -> Any:
    """The parameters (or any pytree) of seed ``s``: index ``s`` of every leaf's first axis."""
    return jax.tree.map(lambda a: a[s], tree)


def stacked(trees: list) -> Any:
    """Pytrees of one structure stacked into one, with a new leading axis."""
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def pool_logits(model: Any, params: Any) -> np.ndarray:
    """``model``'s logits on the training pool, (n_pool, 10): soft targets for a student."""
    return np.asarray(model.apply(params, jnp.asarray(dataset().x_train)))


def test_error(model: Any, params: Any, data: datasets.Dataset) -> float:
    """Fraction of the test set ``model`` with ``params`` gets wrong."""
    logits = model.apply(params, jnp.asarray(data.x_test))  # (n_test, 10)
    return float(np.mean(np.argmax(np.asarray(logits), axis=-1) != np.asarray(data.y_test)))


# ======================================================================= augmentation


@dataclasses.dataclass
class AugmentationStudy:
    """Test error with and without shift and noise augmentation, over n.

    Attributes:
        result: sweep with axes (seed, n_train, shift, noise).
    """

    result: SweepResult

    @property
    def sizes(self) -> list[int]:
        """The training-set sizes."""
        return [int(n) for n in self.result.axes["n_train"]]

    def errors(self, shift: float, noise: float) -> np.ndarray:
        """Final test error per seed at one augmentation: (seed, n_train)."""
        return 1 - self.result.sel(shift=shift, noise=noise).final("test_acc")

    def worth(self, shift: float = SHIFT, noise: float = NOISE) -> np.ndarray:
        """Per n, the n' of real examples whose unaugmented error equals the augmented error.

        n' is read off the unaugmented curve (mean over seeds), linear in log n between
        the measured sizes; ``inf`` when the augmented error is below the unaugmented
        error at the largest n (worth more than the whole pool), and n' < n when
        augmentation hurts.
        """
        plain = self.errors(0.0, 0.0).mean(0)  # (n_train,)
        aug = self.errors(shift, noise).mean(0)
        return np.array([equivalent_n(self.sizes, plain, e) for e in aug])

    def table(self) -> list[list[str]]:
        """Rows: n, unaugmented error, augmented error, the real n it matches, the ratio."""
        plain, aug = self.errors(0.0, 0.0), self.errors(SHIFT, NOISE)
        rows = []
        for i, (n, worth) in enumerate(zip(self.sizes, self.worth(), strict=True)):
            matched = f"> {self.sizes[-1]}" if np.isinf(worth) else f"{worth:.0f}"
            ratio = f"> {self.sizes[-1] / n:.1f}" if np.isinf(worth) else f"{worth / n:.1f}"
            cells = [f"{e[:, i].mean():.3f} ± {e[:, i].std():.3f}" for e in (plain, aug)]
            rows.append([n, *cells, matched, ratio])
        return rows


def equivalent_n(sizes: list[int], errors: np.ndarray, target: float) -> float:
    """The n at which a curve of errors over ``sizes`` reaches ``target`` (log-n interpolation).

    The curve is made non-increasing first (its running minimum: more data never counts as
    worse); ``inf`` below the curve's end, the first size above its start.
    """
    curve = np.minimum.accumulate(np.asarray(errors, float))
    if target < curve[-1]:
        return float("inf")
    if target >= curve[0]:
        return float(sizes[0])
    logn = np.log(np.asarray(sizes, float))
    i = int(np.flatnonzero(curve <= target)[0])  # first size at or below the target
    if curve[i - 1] == curve[i]:
        return float(sizes[i])
    frac = (curve[i - 1] - target) / (curve[i - 1] - curve[i])
    return float(np.exp(logn[i - 1] + frac * (logn[i] - logn[i - 1])))


@on_disk(ignore=("progress",))
def augmentation_study(
    *, key: jax.Array, seeds: int = SEEDS, progress: bool = True
) -> AugmentationStudy:
    """Every size × (no shift, shift) × (no noise, noise) × seed: one sweep."""
    check_key("key", key)
    result = sweep(AUG_CONFIG, dataset(), key=key, seeds=seeds, n_trains=AUG_SIZES,
                   shift=[0.0, SHIFT], noise=[0.0, NOISE], progress=progress)  # fmt: skip
    return AugmentationStudy(result)


# ======================================================================= distillation


@dataclasses.dataclass
class DistillationStudy:
    """Students trained on labels alone and on each teacher's soft targets.

    Attributes:
        labels_only: sweep with axes (seed, n_train): α = 0.
        distilled: teacher width → sweep with axes (seed, n_train, temperature): α = ALPHA.
        teacher_errors: teacher width → its test error.
        confidence: teacher width → its mean top-class probability (T = 1) on the first
            ``SMALL_N`` training examples, the ones the small-n students learn from.
    """

    labels_only: SweepResult
    distilled: dict[int, SweepResult]
    teacher_errors: dict[int, float]
    confidence: dict[int, float] = dataclasses.field(default_factory=dict)

    @property
    def sizes(self) -> list[int]:
        """The students' training-set sizes."""
        return [int(n) for n in self.labels_only.axes["n_train"]]

    def errors(self, teacher: int | None = None, temperature: float | None = None) -> np.ndarray:
        """Final test error per seed, (seed, n_train): labels only when ``teacher`` is None."""
        if teacher is None:
            return 1 - self.labels_only.final("test_acc")
        if teacher not in self.distilled:
            raise ValueError(f"teacher must be one of {list(self.distilled)}, got {teacher!r}")
        return 1 - self.distilled[teacher].sel(temperature=temperature).final("test_acc")

    def gain(self, teacher: int, temperature: float) -> dict[str, np.ndarray]:
        """Labels-only error minus distilled error per n: mean and its seed-paired standard error.

        Seed ``i`` of both uses the same initialisation and batches, so the difference is
        paired; the standard error is the differences' std (ddof 1) over √seeds.
        """
        return paired_gain(self.errors(), self.errors(teacher, temperature))


def paired_gain(before: np.ndarray, after: np.ndarray) -> dict[str, np.ndarray]:
    """Mean of ``before − after`` over seeds (axis 0), with its standard error.

    Also returns the two-sided 95 % t critical value for that many seeds (ddof 1).
    """
    from scipy.stats import t

    diff = np.asarray(before) - np.asarray(after)
    seeds = diff.shape[0]
    return {"mean": diff.mean(0), "se": diff.std(0, ddof=1) / np.sqrt(seeds),
            "t95": float(t.ppf(0.975, seeds - 1))}  # fmt: skip


def teacher_config(width: int) -> TrainConfig:
    """The teacher: two hidden layers of ``width``, trained on the whole pool with augmentation."""
    return dataclasses.replace(TEACHER_CONFIG, model=MLP(40, (width, width), 10))


def train_teacher(width: int, *, key: jax.Array, n_train: int = N_POOL) -> tuple[np.ndarray, float]:
    """One teacher trained on the first ``n_train`` examples.

    Returns its logits on the training pool (n_pool, 10) and its test error.
    """
    config = teacher_config(width)
    run = make_train(config)(key, dataset(), n_train)
    return pool_logits(config.model, run.params), 1 - float(run.history["test_acc"][-1])


@on_disk(ignore=("progress",))
def distillation_study(
    *,
    key: jax.Array,
    teachers: tuple[int, ...] = tuple(TEACHER_WIDTHS),
    seeds: int = SEEDS,
    progress: bool = True,
) -> DistillationStudy:
    """Train the teachers, then the students: labels only, and distilled at each temperature.

    Every student sweep runs the same compiled program; only the soft targets differ.
    """
    check_key("key", key)
    k_teacher, k_student = jax.random.split(key)
    d = dataset()
    no_teacher = d.replace(soft_train=np.zeros((N_POOL, 10), np.float32))
    labels_only = sweep(STUDENT_CONFIG, no_teacher, key=k_student,  # same key: paired students
                        seeds=seeds, n_trains=STUDENT_SIZES, distill=[0.0],
                        progress=False).isel(distill=0)  # fmt: skip
    distilled, teacher_errors, confidence = {}, {}, {}
    for width in teachers:
        logits, teacher_errors[width] = train_teacher(width, key=k_teacher)
        probs = np.exp(logits[:SMALL_N] - logits[:SMALL_N].max(-1, keepdims=True))
        confidence[width] = float(np.mean(probs.max(-1) / probs.sum(-1)))
        distilled[width] = sweep(  # same key: paired with the labels-only students
            STUDENT_CONFIG, d.replace(soft_train=logits), key=k_student, seeds=seeds,
            n_trains=STUDENT_SIZES, distill=[ALPHA], temperature=TEMPERATURES, progress=progress,
        ).isel(distill=0)  # fmt: skip
    return DistillationStudy(labels_only, distilled, teacher_errors, confidence)


def _students(data: datasets.Dataset, n_train: int, *, key: jax.Array) -> dict[str, Any]:
    """Test error per seed of the student on labels, and distilled (T = 4) from soft_train."""
    errs = {}
    for name, alpha in (("labels", 0.0), ("distilled", ALPHA)):
        runs = sweep_point(STUDENT_CONFIG, data, key=key, seeds=SEEDS, n_train=n_train,
                           distill=alpha, temperature=4.0)  # fmt: skip
        errs[name] = 1 - runs.final("test_acc")  # (seed,)
    return errs


@on_disk
def same_data_teacher(*, n_train: int, key: jax.Array, width: int = 128) -> dict[str, Any]:
    """A teacher trained on the student's own ``n_train`` examples; the student taught by it.

    Returns the teacher's test error and the students' test errors per seed (labels only,
    distilled at T = 4).
    """
    check_key("key", key)
    k_teacher, k_student = jax.random.split(key)
    logits, teacher_error = train_teacher(width, key=k_teacher, n_train=n_train)
    errs = _students(dataset().replace(soft_train=logits), n_train, key=k_student)
    return {"teacher": teacher_error, **errs}


@on_disk
def backwards_distillation(*, key: jax.Array, n_small: int = 125, width: int = 128) -> dict:
    """The source's direction: a large student of the small-data model, against labels.

    The small model (the 16-unit student, labels only) is trained on ``n_small`` examples;
    the large network (two layers of ``width``) learns from its soft targets (α = 0.9,
    T = 4) on all 4000 examples, and, for comparison, from the labels alone.
    """
    check_key("key", key)
    k_small, k_large = jax.random.split(key)
    d = dataset()
    small = dataclasses.replace(STUDENT_CONFIG, keep_params=True)
    run = make_train(small)(k_small, d.replace(soft_train=np.zeros((N_POOL, 10), np.float32)),
                            n_small)  # fmt: skip
    logits = pool_logits(small.model, run.params)
    large = dataclasses.replace(teacher_config(width), steps=1000, distill=0.0, temperature=4.0,
                                keep_params=False)  # fmt: skip
    out = {"teacher": 1 - float(run.history["test_acc"][-1])}
    for name, alpha in (("backwards", ALPHA), ("labels", 0.0)):
        hp = large.hparams(distill=alpha, temperature=4.0)
        r = make_train(large)(k_large, d.replace(soft_train=logits), N_POOL, hparams=hp)
        out[name] = 1 - float(r.history["test_acc"][-1])
    return out


@on_disk
def merge_other_distribution(*, key: jax.Array, n: int = 1000) -> dict[str, float]:
    """``n`` real examples; plus ``n`` reversed in time (same labels); plus ``n`` more real ones.

    Mean test error over seeds of the chapter-05 network without augmentation.
    """
    check_key("key", key)
    d = dataset()
    config = dataclasses.replace(AUG_CONFIG, shift=None, noise=None)
    x = np.asarray(d.x_train).copy()
    x[n : 2 * n] = x[n : 2 * n, ::-1]  # another distribution, labelled the same
    out = {}
    for name, data, size in (("real", d, n), ("merged", d.replace(x_train=x), 2 * n),
                             ("more_real", d, 2 * n)):  # fmt: skip
        runs = sweep_point(config, data, key=key, seeds=SEEDS, n_train=size)
        out[name] = float(1 - runs.final("test_acc").mean())
    return out


# ======================================================================== compression


@dataclasses.dataclass
class CompressionStudy:
    """One trained network per seed, pruned and quantized.

    Attributes:
        base: test error of each trained network, (seed,).
        pruned: test error after pruning without fine-tuning, (seed, keep).
        fine_tuned: test error after pruning and fine-tuning, (seed, keep).
        quantized: scale ("tensor"/"channel") → test error, (seed, bits).
        sizes: (bits, scale) → bytes of the weights, biases and scales.
        pruned_bytes: keep → bytes in a sparse format (values and 32-bit indices).
        params: the trained networks' parameters, leading axis seed.
        tuned_params: the fine-tuned pruned parameters, leading axes (seed, keep).
    """

    base: np.ndarray
    pruned: np.ndarray
    fine_tuned: np.ndarray
    quantized: dict[str, np.ndarray]
    sizes: dict[tuple[int, str], int]
    pruned_bytes: dict[float, int]
    params: Any
    tuned_params: Any

    @property
    def float_bytes(self) -> int:
        """Bytes of the uncompressed float32 network."""
        return compress.weight_bytes(BIG_CONFIG.model, seed_of(self.params, 0))

    def holds(self, errors: np.ndarray, reference: np.ndarray, tol: float) -> list[bool]:
        """Per column, whether the mean error is within ``tol`` of the reference's mean."""
        return [bool(e <= reference.mean() + tol) for e in errors.mean(0)]

    def smallest_keep(self, tol: float = 0.01) -> float:
        """The smallest kept fraction whose fine-tuned error is within ``tol`` of keeping all.

        The reference is the fine-tuned network at keep = 1: the same extra steps, nothing
        pruned, so the comparison isolates pruning from the extra training.
        """
        ok = self.holds(self.fine_tuned, self.fine_tuned[:, KEEPS.index(1.0)], tol)
        return min(k for k, good in zip(KEEPS, ok, strict=True) if good)


def fine_tune(params: Any, masks: Any, keys: jax.Array) -> Any:
    """Fine-tune pruned networks (leading axis: runs) with their masks held: one vmapped run."""
    hp = jax.tree.map(jnp.float32, FINE_TUNE_CONFIG.hparams())
    start = jax.vmap(compress.Pruned.pruned)(params, masks)
    return _fine_tune_runs()(keys, device_data(dataset()), jnp.int32(N_POOL), None, hp, start)


@functools.cache
def _fine_tune_runs() -> Any:
    """The vmapped, compiled fine-tuning run (built once: a live retrain does not retrace)."""
    trainer = make_train(FINE_TUNE_CONFIG)
    return jax.jit(jax.vmap(trainer.run, in_axes=(0, None, None, None, None, 0)))


def fine_tune_keys(key: jax.Array, seeds: int) -> jax.Array:
    """One key per (seed, keep) fine-tuning run: (seeds, len(KEEPS))."""
    return jax.random.split(key, seeds * len(KEEPS)).reshape(seeds, len(KEEPS))


@on_disk(ignore=("progress",))
def compression_study(
    *, key: jax.Array, seeds: int = SEEDS, progress: bool = True
) -> CompressionStudy:
    """Train the network (one per seed), then prune (± fine-tune) and quantize each."""
    check_key("key", key)
    k_train, k_tune = jax.random.split(key)
    model, d = BIG_CONFIG.model, dataset()
    trained = sweep(BIG_CONFIG, d, key=k_train, seeds=seeds, n_trains=[N_POOL],
                    progress=progress).isel(n_train=0)  # fmt: skip
    nets = [seed_of(trained.params, s) for s in range(seeds)]
    masks = [[compress.magnitude_masks(model, p, k) for k in KEEPS] for p in nets]
    pruned = np.array([[test_error(model, compress.apply_masks(p, m), d) for m in row]
                       for p, row in zip(nets, masks, strict=True)])  # fmt: skip
    starts = stacked([p for p in nets for _ in KEEPS])  # (seed · keep, ...)
    keeps = stacked([m for row in masks for m in row])
    tuned = fine_tune(starts, keeps, fine_tune_keys(k_tune, seeds).reshape(-1))
    fine_tuned = 1 - np.asarray(tuned.history["test_acc"][:, -1]).reshape(seeds, len(KEEPS))
    quantized = {scale: np.array([quantized_errors(trained.params, b, scale)["per_seed"]
                                  for b in BITS]).T for scale in compress.SCALES}  # fmt: skip
    sizes = {
        (b, s): compress.weight_bytes(model, nets[0], b, s) for b in BITS for s in compress.SCALES
    }
    pruned_bytes = {k: compress.weight_bytes(model, compress.apply_masks(nets[0], m), sparse=True)
                    for k, m in zip(KEEPS, masks[0], strict=True)}  # fmt: skip
    tuned_params = jax.tree.map(
        lambda a: np.asarray(a).reshape(seeds, len(KEEPS), *a.shape[1:]), tuned.params
    )
    return CompressionStudy(
        base=1 - trained.final("test_acc"), pruned=pruned, fine_tuned=fine_tuned,
        quantized=quantized, sizes=sizes, pruned_bytes=pruned_bytes,
        params=trained.params, tuned_params=tuned_params,
    )  # fmt: skip


# ================================================================== data parallelism


def parallel_devices() -> tuple[jax.Device, ...]:
    """The devices data parallelism uses here: the first two (the batch of 100 splits evenly)."""
    return tuple(jax.devices()[:2])


@on_disk
def data_parallel_check(*, key: jax.Array, steps: int = 200) -> dict[str, Any]:
    """The chapter's MLP trained once on one device and once data-parallel on two.

    Returns both histories, the largest absolute difference of each logged metric, and the
    largest difference of the first step's gradient relative to its largest entry (Adam
    would hide a gradient off by a constant factor; the gradient itself cannot).
    """
    check_key("key", key)
    config = dataclasses.replace(AUG_CONFIG, shift=None, noise=None, steps=steps, n_logs=4,
                                 log_train=True)  # fmt: skip
    d = dataset()
    single, split = make_train(config), make_data_parallel(config, parallel_devices())
    one, many = single(key, d, N_POOL), split(key, d, N_POOL)  # same key: the runs must agree
    diff = {k: float(np.max(np.abs(np.asarray(one.history[k]) - np.asarray(many.history[k]))))
            for k in one.history}  # fmt: skip
    grads = [first_gradient(t, d, key=key) for t in (single, split)]  # same key: their first step
    scale = max(float(np.max(np.abs(g))) for g in jax.tree.leaves(grads[0]))
    gap = max(
        float(np.max(np.abs(a - b))) for a, b in zip(*map(jax.tree.leaves, grads), strict=True)
    )
    history = lambda run: {k: np.asarray(v) for k, v in run.history.items()}  # noqa: E731
    return {"one": history(one), "many": history(many), "max_diff": diff,
            "grad_diff": gap / scale, "devices": len(split.mesh.devices.ravel())}  # fmt: skip


def first_gradient(trainer: Any, data: datasets.Dataset, *, key: jax.Array) -> Any:
    """The gradient ``trainer`` computes at its first step (initial parameters, first batch)."""
    hp = jax.tree.map(jnp.float32, trainer.config.hparams())
    state = trainer.init_state(key, None, hp)
    grads, _ = jax.jit(trainer.step_gradient)(state, device_data(data), N_POOL, None, hp)
    return jax.tree.map(np.asarray, grads)


STEP_GRID = [(128, 100), (128, 2000), (1024, 100)]  # (width, batch)


@on_disk
def step_times(
    *, key: jax.Array, grid: tuple = tuple(STEP_GRID), steps: int = 50, repeat: int = 2
) -> list[dict]:
    """Milliseconds per training step on one device and data-parallel on two, per (width, batch).

    Each network has two hidden layers of ``width``.  A timed run is ``steps`` steps and one
    evaluation of the 1000 test examples (no training-set evaluation), divided by ``steps``:
    the evaluation adds about what 1000 / (3 · batch · steps) steps cost.  Kept on disk like
    the studies: the cell shows the first measurement made with the current code.
    """
    check_key("key", key)
    d, rows = dataset(), []
    for width, batch in grid:
        config = TrainConfig(MLP(40, (width, width), 10), steps=steps, batch_size=batch,
                             n_logs=1, lr=2e-3, log_train=False)  # fmt: skip
        parallel = make_data_parallel(config, parallel_devices())
        one = step_seconds(make_train(config), d, N_POOL, key=key, repeat=repeat)
        many = step_seconds(parallel, d, N_POOL, key=key, repeat=repeat)  # same key: the same run
        rows.append({"width": width, "batch": batch, "params": config.model.n_params(),
                     "one_ms": 1e3 * one, "many_ms": 1e3 * many})  # fmt: skip
    return rows


# ================================================================ two processes


TWO_PROCESS_CONFIG = TrainConfig(MLP(40, (32,), 10), steps=200, batch_size=100, n_logs=2, lr=2e-3)
TWO_PROCESS_SIZES = [250, 1000]


def distributed_grid(key: jax.Array, devices: Any = None) -> SweepResult:
    """The sweep both the one-process and the two-process runs compute (2 seeds × 2 sizes).

    ``devices``: the sweep's devices (default: all of them, in every process).
    """
    return sweep(TWO_PROCESS_CONFIG, dataset(), key=key, seeds=2, n_trains=TWO_PROCESS_SIZES,
                 devices=devices, progress=False)  # fmt: skip


@on_disk(ignore=("timeout",))
def two_process_sweep(*, seed: int = 0, processes: int = 2, timeout: float = 120.0) -> dict:
    """Run :func:`distributed_grid` as ``processes`` processes joined by ``jax.distributed``.

    Each process has one CPU device and CPU collectives (gloo); the coordinator listens on
    a free loopback port (:func:`course.engine.distributed.launch`).  The sweep's mesh spans
    every process's device, each process computes its shard of the runs, and the results
    are gathered into every process.  Kept on disk like the studies (the claim test reads
    the notebook's run back).

    Returns:
        ``{"test_acc": (seed, n_train) from the processes, "devices": global device count,
        "processes": ...}``.
    """
    processes = check_int("processes", processes, 2, 8)
    target = f"{__name__}:{distributed_grid.__name__}"
    return distributed.launch(target, processes=processes, seed=seed, timeout=timeout)


# ============================================================================== claims

TOL_PARALLEL = 1e-5  # float32 sums in another order: far below one test example (1e-3)


@dataclasses.dataclass
class Claims:
    """The chapter's claims, each a verdict on the studies it reads (None: not checked)."""

    augmentation: AugmentationStudy | None = None
    distillation: DistillationStudy | None = None
    compression: CompressionStudy | None = None
    parallel: dict | None = None

    @property
    def augmentation_is_worth_twice_the_data(self) -> bool:
        """At every n ≤ 1000, shift and noise augmentation matches at least 2n real examples."""
        a = self.augmentation
        small = [i for i, n in enumerate(a.sizes) if n <= 1000]
        return bool(np.all(a.worth()[small] >= 2 * np.asarray(a.sizes)[small]))

    @property
    def shifts_carry_the_gain(self) -> bool:
        """Shifts alone are worth ≥ 80 % of shifts and noise up to n = 2000.

        And more than the pool at n = 4000, where noise alone is worth less than the pool.
        """
        a = self.augmentation
        shifts, both, noise = a.worth(SHIFT, 0.0), a.worth(SHIFT, NOISE), a.worth(0.0, NOISE)
        upto = [i for i, n in enumerate(a.sizes) if n <= 2000]
        return bool(np.all(shifts[upto] >= 0.8 * both[upto]) and np.isinf(shifts[-1])
                    and noise[-1] < N_POOL)  # fmt: skip

    @property
    def noise_alone_is_worth_little(self) -> bool:
        """Noise without shifts is worth less than 1.5n real examples at every n."""
        a = self.augmentation
        return bool(np.all(a.worth(0.0, NOISE) < 1.5 * np.asarray(a.sizes)))

    @property
    def distillation_helps_at_small_n(self) -> bool:
        """Teacher 128×128 at T = 4: at each small n the paired gain is significant at 95 %.

        That is, mean > t₀.₉₇₅ · SE, with t for seeds − 1 degrees of freedom.
        """
        g = self.distillation.gain(128, 4.0)
        return bool(np.all((g["mean"] > g["t95"] * g["se"])[:SMALL]))

    @property
    def distillation_is_worse_on_average_with_all_the_data_at_t4(self) -> bool:
        """At n = 4000 and T = 4, every teacher's student is worse than the labels-only one.

        On average over seeds: a direction, not a significance test.
        """
        d = self.distillation
        return all(d.gain(w, 4.0)["mean"][-1] < 0 for w in d.distilled)

    @property
    def most_accurate_teacher_is_not_the_best(self) -> bool:
        """At every temperature and small n, the 32-unit teacher's student beats the 512-unit one's.

        (The 32-unit teacher has the higher test error of the two.)
        """
        d = self.distillation
        worse_teacher = d.teacher_errors[32] > d.teacher_errors[512]
        better = [d.errors(32, t).mean(0)[:SMALL] < d.errors(512, t).mean(0)[:SMALL]
                  for t in TEMPERATURES]  # fmt: skip
        return bool(worse_teacher and np.all(better))

    @property
    def larger_teacher_is_more_confident(self) -> bool:
        """The 512-unit teacher is surer of the small-n examples than the 32-unit teacher.

        Its mean top-class probability there is higher: its soft targets are closer to the
        labels.
        """
        c = self.distillation.confidence
        return c[512] > c[32]

    @property
    def fine_tuning_rescues_pruning(self) -> bool:
        """Fine-tuned, keeping 50 % holds within a point; not fine-tuned, it costs over 3."""
        c = self.compression
        half = KEEPS.index(0.5)
        held = c.holds(c.fine_tuned, c.fine_tuned[:, KEEPS.index(1.0)], 0.01)[half]
        return bool(held and c.pruned[:, half].mean() > c.base.mean() + 0.03)

    @property
    def eight_bits_cost_under_half_a_point(self) -> bool:
        """8-bit weights, per tensor and per channel: within 0.005 of the float network's error."""
        c = self.compression
        i = BITS.index(8)
        return all(c.quantized[s][:, i].mean() <= c.base.mean() + 0.005 for s in compress.SCALES)

    @property
    def per_channel_beats_per_tensor(self) -> bool:
        """At 4 and 3 bits, a scale per channel costs under half what one per tensor costs.

        Each cost is the quantized error minus the float network's error.
        """
        c = self.compression
        q, base = c.quantized, c.base.mean()
        cost = {s: q[s].mean(0) - base for s in q}  # (bits,)
        return all(cost["channel"][BITS.index(b)] < 0.5 * cost["tensor"][BITS.index(b)]
                   for b in (3, 4))  # fmt: skip

    @property
    def two_bits_break(self) -> bool:
        """At 2 bits both scalings lose the network: test error above 0.6."""
        q = self.compression.quantized
        return all(q[s][:, BITS.index(2)].mean() > 0.6 for s in compress.SCALES)

    @property
    def data_parallel_equals_one_device(self) -> bool:
        """The data-parallel run is the one-device run, within TOL_PARALLEL.

        Every logged metric, and the first gradient relative to its largest entry.
        """
        p = self.parallel
        return (p["devices"] >= 2 and max(p["max_diff"].values()) < TOL_PARALLEL
                and p["grad_diff"] < TOL_PARALLEL)  # fmt: skip


# ============================================================================ figures


def augmentation_figure(aug: AugmentationStudy) -> Figure:
    """Test error against n with and without augmentation; each one's worth in real examples."""
    sizes = np.asarray(aug.sizes, float)
    kinds = {"no augmentation": (0.0, 0.0), "shifts and noise": (SHIFT, NOISE),
             "shifts only": (SHIFT, 0.0), "noise only": (0.0, NOISE)}  # fmt: skip
    colors = [GREY, BLUE, BLUE, RED]
    errors = Lines(
        [Series(sizes, aug.errors(*sn).mean(0), name, err=aug.errors(*sn).std(0), color=c,
                markers=True, dashed=name in ("shifts only", "noise only"))
         for (name, sn), c in zip(kinds.items(), colors, strict=True)],
        title="test error against data (± std over seeds)", xlabel="training examples n",
        ylabel="test error", xlog=True, xlim=(100, 5000), ylim=(0.35, 0.8),
    )  # fmt: skip
    worth = Lines(
        [Series(sizes, np.minimum(aug.worth(*sn), N_POOL) / sizes, name, color=c, markers=True,
                dashed=name != "shifts and noise")
         for (name, sn), c in list(zip(kinds.items(), colors, strict=True))[1:]]
        + [Series(sizes, N_POOL / sizes, f"the pool's limit, {N_POOL}/n", color=GREY, dashed=True)],
        title="worth: matching real examples ÷ n", xlabel="training examples n",
        ylabel="worth (× n)", xlog=True, ylog=True, xlim=(100, 5000), hline=1.0,
    )  # fmt: skip
    return Figure([errors, worth], title="What an augmentation is worth, in real examples",
                  width=11.5, height=4)  # fmt: skip


def bytes_figure(comp: CompressionStudy) -> Figure:
    """Test error against the bytes a compressed network takes: quantized, and pruned."""
    kb = lambda b: np.asarray(b, float) / 1024  # noqa: E731
    series = [
        Series(kb([comp.sizes[(b, s)] for b in BITS]), comp.quantized[s].mean(0),
               f"quantized per {s} ({BITS[0]}–{BITS[-1]} bits)", err=comp.quantized[s].std(0),
               markers=True, dashed=s == "tensor")
        for s in compress.SCALES
    ] + [
        Series(kb([comp.pruned_bytes[k] for k in KEEPS]), comp.fine_tuned.mean(0),
               "pruned + fine-tuned, sparse (32-bit indices)", err=comp.fine_tuned.std(0),
               color=RED, markers=True),
        Series(kb([comp.float_bytes]), [comp.base.mean()], "float32", color="#000000",
               markers=True, line=False),
    ]  # fmt: skip
    return Figure(
        [Lines(series, title="test error against size", xlabel="KB of weights, biases, scales",
               ylabel="test error", xlog=True, ylim=(0.0, 0.95))],
        title=f"Compressing one network ({BIG_CONFIG.model.n_params()} parameters)",
        width=7.5, height=4,
    )  # fmt: skip


def allreduce_ms(n_floats: int, *, repeat: int = 20) -> float:
    """Median milliseconds of one all-reduce (mean) of ``n_floats`` float32 over two devices."""
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from course.engine.parallel import AXIS, data_mesh
    from course.engine.runtime import timeit

    n_floats = check_int("n_floats", n_floats, 1, 10**9)
    mesh = data_mesh(parallel_devices())
    devices = mesh.devices.size
    reduce = jax.jit(jax.shard_map(lambda g: jax.lax.pmean(g, AXIS), mesh=mesh,
                                   in_specs=P(AXIS), out_specs=P(AXIS)))  # fmt: skip
    grads = jax.device_put(jnp.ones((devices * n_floats,)), NamedSharding(mesh, P(AXIS)))
    return 1e3 * float(np.median(timeit(lambda: reduce(grads), repeat=repeat)))


# =========================================================================== explorers


def distillation_figure(
    study: DistillationStudy, values: dict[str, Any], runs: SweepResult
) -> Figure:
    """Student error against n (labels only, distilled) and against temperature."""
    teacher, temp, n = int(values["teacher"]), float(values["temperature"]), int(values["n_train"])
    labels, dist = study.errors(), study.errors(teacher, temp)
    by_n = Lines(
        [Series(study.sizes, labels.mean(0), "labels only", err=labels.std(0), color=GREY,
                markers=True, dashed=True),
         Series(study.sizes, dist.mean(0), f"distilled, T = {temp:g}", err=dist.std(0),
                color=BLUE, markers=True)],
        title=f"student (16 units) against data; teacher {teacher}×{teacher}",
        xlabel="training examples n", ylabel="test error", xlog=True, ylim=(0.3, 0.85),
        xlim=(100, 5000), vline=float(n),
    )  # fmt: skip
    i = study.sizes.index(n)
    by_t = Lines(
        [Series(TEMPERATURES, [study.errors(w, t)[:, i].mean() for t in TEMPERATURES],
                f"teacher {w}×{w} (test error {study.teacher_errors[w]:.2f})",
                markers=True, dashed=w != teacher) for w in study.distilled]
        + [Series(TEMPERATURES, [labels[:, i].mean()] * len(TEMPERATURES), "labels only",
                  color=GREY, dashed=True)],
        title=f"student error against temperature, n = {n}", xlabel="temperature T",
        ylabel="test error", xlog=True, ylim=(0.3, 0.85), vline=temp,
    )  # fmt: skip
    err = 1 - runs.final("test_acc")
    title = (
        f"teacher {teacher}×{teacher}, T = {temp:g}, n = {n}: distilled student "
        f"{err.mean():.3f} ± {err.std():.3f}, labels only {labels[:, i].mean():.3f}"
    )
    return Figure([by_n, by_t], title=title, width=11.5, height=4)


def distillation_explorer(study: DistillationStudy, *, key: jax.Array) -> Explorer:
    """Teacher size, temperature and n; "retrain live" trains the students again.

    ``key`` must be the study's key, so that a live retrain repeats its teachers and seeds.
    """
    check_key("key", key)
    k_teacher, k_student = jax.random.split(key)
    teachers: dict[int, datasets.Dataset] = {}

    def live(values: dict[str, Any]) -> SweepResult:
        width = int(values["teacher"])
        if width not in teachers:  # a teacher is trained once per explorer
            teachers[width] = dataset().replace(soft_train=train_teacher(width, key=k_teacher)[0])
        return sweep_point(STUDENT_CONFIG, teachers[width], key=k_student, seeds=SEEDS,
                           n_train=values["n_train"], distill=ALPHA,
                           temperature=values["temperature"])  # fmt: skip

    def lookup(values: dict[str, Any]) -> SweepResult:
        result = study.distilled[int(values["teacher"])]
        return result.sel(n_train=int(values["n_train"]), temperature=float(values["temperature"]))

    return Explorer(
        [dropdown("teacher", {f"{w}×{w}": w for w in study.distilled}, label="teacher",
                  default=TEACHER_WIDTHS[1]),
         slider("temperature", TEMPERATURES, label="temperature T", default=4.0),
         slider("n_train", study.sizes, label="training examples n", default=250)],
        view=lambda values, runs: distillation_figure(study, values, runs),
        lookup=lookup, live=live, title="Distillation: teacher, temperature, data",
        note=(f"Student: 40 → 16 → 10, {STUDENT_CONFIG.steps} Adam steps, α = {ALPHA} on the "
              f"soft targets; teachers: two hidden layers, trained on all {N_POOL} examples; "
              f"{SEEDS} seeds. A live retrain trains the teacher (once) and the students."),
    )  # fmt: skip


def compression_figure(study: CompressionStudy, values: dict[str, Any], errors: dict) -> Figure:
    """Error against the kept fraction (± fine-tuning) and against bits; the chosen point."""
    keep, bits, scale = float(values["keep"]), int(values["bits"]), values["scale"]
    base = study.base.mean()
    prune = Lines(
        [Series(KEEPS, study.pruned.mean(0), "pruned", err=study.pruned.std(0), color=RED,
                markers=True),
         Series(KEEPS, study.fine_tuned.mean(0), "pruned, then fine-tuned",
                err=study.fine_tuned.std(0), color=BLUE, markers=True),
         Series(KEEPS, [base] * len(KEEPS), "trained network", color=GREY, dashed=True)],
        title="magnitude pruning", xlabel="fraction of weights kept", ylabel="test error",
        xlog=True, ylim=(0.0, 0.95), vline=keep,
    )  # fmt: skip
    kb = [study.sizes[(b, "channel")] / 1024 for b in BITS]
    full = study.float_bytes / 1024
    quant = Lines(
        [Series(BITS, study.quantized[s].mean(0), f"per {s}", err=study.quantized[s].std(0),
                markers=True, dashed=s != scale) for s in compress.SCALES]
        + [Series(BITS, [base] * len(BITS), "float32", color=GREY, dashed=True)],
        title=f"quantization ({kb[0]:.0f}–{kb[-1]:.0f} KB; float32 {full:.0f} KB)",
        xlabel="bits per weight", ylabel="test error", ylim=(0.0, 0.95), vline=float(bits),
    )  # fmt: skip
    title = (
        f"keep {keep:.0%}, fine-tuned, then {bits}-bit per {scale}: test error "
        f"{errors['mean']:.3f} ± {errors['std']:.3f} (trained network {base:.3f})"
    )
    return Figure([prune, quant], title=title, width=11.5, height=4)


def quantized_errors(nets: Any, bits: int, scale: str) -> dict:
    """Test error of each network (leading axis: seed) quantized to ``bits`` bits."""
    model, d = BIG_CONFIG.model, dataset()
    seeds = jax.tree.leaves(nets)[0].shape[0]
    errs = [test_error(model, compress.quantize(model, seed_of(nets, s), bits, scale), d)
            for s in range(seeds)]  # fmt: skip
    return {"mean": float(np.mean(errs)), "std": float(np.std(errs)), "per_seed": errs}


def compressed_errors(study: CompressionStudy, values: dict[str, Any]) -> dict:
    """Test error of the fine-tuned networks at ``keep``, quantized to ``bits`` (per seed)."""
    i = KEEPS.index(float(values["keep"]))
    tuned = jax.tree.map(lambda a: a[:, i], study.tuned_params)
    nets = FINE_TUNE_CONFIG.model.effective(tuned)
    return quantized_errors(nets, int(values["bits"]), values["scale"])


def compression_explorer(study: CompressionStudy, *, key: jax.Array) -> Explorer:
    """Fraction kept, bits and scale; "retrain live" fine-tunes the pruned networks again.

    ``key`` must be the study's key, so that a live retrain repeats its fine-tuning runs.
    """
    check_key("key", key)
    _, k_tune = jax.random.split(key)
    seeds = study.base.shape[0]

    def live(values: dict[str, Any]) -> dict:
        i, model = KEEPS.index(float(values["keep"])), BIG_CONFIG.model
        masks = stacked([compress.magnitude_masks(model, seed_of(study.params, s), KEEPS[i])
                         for s in range(seeds)])  # fmt: skip
        tuned = fine_tune(study.params, masks, fine_tune_keys(k_tune, seeds)[:, i]).params
        nets = FINE_TUNE_CONFIG.model.effective(tuned)
        return quantized_errors(nets, int(values["bits"]), values["scale"])

    return Explorer(
        [slider("keep", KEEPS, label="fraction kept", default=0.2, fmt="{:.0%}"),
         slider("bits", BITS, label="bits per weight", default=4),
         dropdown("scale", list(compress.SCALES), label="one scale per", default="channel")],
        view=lambda values, errors: compression_figure(study, values, errors),
        lookup=lambda values: compressed_errors(study, values), live=live,
        title="Compression: prune, fine-tune, quantize",
        note=(f"Network 40 → 256 → 256 → 10 trained {BIG_CONFIG.steps} steps on {N_POOL} "
              f"examples; pruning keeps the largest weights of each matrix; fine-tuning: "
              f"{FINE_TUNE_CONFIG.steps} steps with the mask held. {study.base.shape[0]} seeds."),
    )  # fmt: skip
