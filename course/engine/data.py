"""Offline data sets: every one is generated here or ships with a package.

Nothing is downloaded.  Each loader returns a :class:`Dataset`, a pytree whose
array leaves can be passed straight into jitted code and whose metadata (name,
task, number of classes) is static.

* :func:`mnist1d` — MNIST-1D (Greydanus 2020), generated procedurally by the
  ``mnist1d`` package and cached on disk after the first generation.
* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits.
* :func:`two_d` — 2-D synthetic sets: moons, circles, spirals, Gaussian blobs, a ring or a
  grid of Gaussians (with :func:`mode_centres`, the targets of a GAN).
* :func:`regression` — a linear regression problem in the manner of ``make_regression``.
* :func:`text` — a character-level corpus from Python's own ``pydoc_data.topics``.
* :func:`flip_labels` — label noise: a fraction of training labels replaced by another class.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine.checks import check_choice, check_float, check_int, check_key

TWO_D_KINDS = ("moons", "circles", "spirals", "blobs", "ring", "grid")
DATA_FIELDS = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val", "soft_train")
META_FIELDS = ("name", "task", "n_classes")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test (and optional validation) arrays plus static metadata.

    Attributes:
        x_train: inputs of the training pool, shape (n_pool, *feature_shape).
        y_train: targets of the training pool: int32 class ids, or float32 values.
        x_test: held-out inputs, shape (n_test, *feature_shape).
        y_test: held-out targets.
        x_val: optional validation inputs (used for early stopping), or None.
        y_val: optional validation targets, or None.
        name: a short name for plots and messages.
        task: ``"classification"`` or ``"regression"``.
        n_classes: number of classes (0 for regression).
        soft_train: optional teacher logits for the training pool, (n_pool, n_classes):
            the soft targets of knowledge distillation (``TrainConfig.distill``).
    """

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    x_val: Any = None
    y_val: Any = None
    name: str = "data"
    task: str = "classification"
    n_classes: int = 0
    soft_train: Any = None

    def __post_init__(self) -> None:
        # Only a user's construction gets here: JAX rebuilds a Dataset (with tracers, shapes
        # or placeholders as leaves) without calling __init__ (see the registration below).
        for field in DATA_FIELDS:
            value = getattr(self, field)
            if isinstance(value, list | tuple):
                raise TypeError(
                    f"{field} must be an array (np.asarray(...)), got a {type(value).__name__}"
                )
        for x_name, y_name in (("x_train", "y_train"), ("x_test", "y_test"), ("x_val", "y_val")):
            x, y = getattr(self, x_name), getattr(self, y_name)
            if (x is None) != (y is None):
                raise ValueError(f"{x_name} and {y_name} must both be given or both be None")
            if _is_array(x) and _is_array(y):
                if not x.shape or not y.shape or x.shape[0] != y.shape[0]:
                    raise ValueError(
                        f"{x_name} and {y_name} must hold the same number of examples, got "
                        f"shapes {tuple(x.shape)} and {tuple(y.shape)}"
                    )
                if x_name != "x_val" and x.shape[0] == 0:
                    raise ValueError(f"{x_name} must hold at least one example, got none")
        soft, x = self.soft_train, self.x_train
        if _is_array(soft) and _is_array(x) and (soft.ndim != 2 or soft.shape[0] != x.shape[0]):
            raise ValueError(
                f"soft_train must hold one row of teacher logits per x_train example, "
                f"shape ({x.shape[0]}, classes); got {tuple(soft.shape)}"
            )

    @property
    def n_pool(self) -> int:
        """Number of training examples available (the largest allowed ``n_train``)."""
        return int(self.x_train.shape[0])

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """Shape of one input example."""
        return tuple(self.x_train.shape[1:])

    def replace(self, **changes: Any) -> Dataset:
        """Return a copy with some fields replaced."""
        return dataclasses.replace(self, **changes)

    def subset(self, n_train: int) -> Dataset:
        """Return a copy whose training pool is its first ``n_train`` examples."""
        n_train = check_int("n_train", n_train, 1, self.n_pool)
        soft = None if self.soft_train is None else self.soft_train[:n_train]
        return self.replace(
            x_train=self.x_train[:n_train], y_train=self.y_train[:n_train], soft_train=soft
        )


def _is_array(a: Any) -> bool:
    return isinstance(a, np.ndarray) or (
        isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer)
    )


def _flatten(d: Dataset) -> tuple[tuple, tuple]:
    children = tuple((jax.tree_util.GetAttrKey(f), getattr(d, f)) for f in DATA_FIELDS)
    return children, (d.name, d.task, d.n_classes)


def _unflatten(meta: tuple, children: tuple) -> Dataset:
    d = object.__new__(Dataset)  # no __post_init__: leaves may be anything here
    for field, value in zip(DATA_FIELDS + META_FIELDS, (*children, *meta), strict=True):
        object.__setattr__(d, field, value)
    return d


jax.tree_util.register_pytree_with_keys(Dataset, _flatten, _unflatten)


def cache_dir() -> Path:
    """Directory for generated data: ``$COURSE_CACHE_DIR`` or ``~/.cache/dl-at-scale``."""
    root = os.environ.get("COURSE_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dl-at-scale"


def mnist1d(*, n_train: int = 4000, n_test: int = 1000, seed: int = 42) -> Dataset:
    """MNIST-1D: 10 classes of 40-sample 1-D signals (Greydanus, 2020), generated offline.

    The ``mnist1d`` package builds each example from one of ten 1-D templates by
    padding, shearing, translating and adding correlated and i.i.d. noise.  The
    default (4000 train / 1000 test, seed 42) matches the package's own defaults.
    The result is cached in :func:`cache_dir` after the first generation.

    Args:
        n_train: training examples, 100…50000.
        n_test: test examples, 100…50000.
        seed: the generator's seed.

    Returns:
        A classification :class:`Dataset` with x of shape (n, 40), float32.
    """
    n_train = check_int("n_train", n_train, 100, 50_000)
    n_test = check_int("n_test", n_test, 100, 50_000)
    seed = check_int("seed", seed, 0, 2**31 - 1)
    path = cache_dir() / f"mnist1d-v2-{n_train}-{n_test}-{seed}.npz"
    arrays = _load(path, n_train, n_test)
    if arrays is None:
        _atomic_savez(path, **_generate_mnist1d(n_train, n_test, seed))
        arrays = _load(path, n_train, n_test)
    return Dataset(
        x_train=arrays["x"].astype(np.float32),
        y_train=arrays["y"].astype(np.int32),
        x_test=arrays["x_test"].astype(np.float32),
        y_test=arrays["y_test"].astype(np.int32),
        name="MNIST-1D",
        task="classification",
        n_classes=10,
    )


def _load(path: Path, n_train: int, n_test: int) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing or holds other sizes."""
    if not path.exists():
        return None
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    if len(arrays.get("y", ())) != n_train or len(arrays.get("y_test", ())) != n_test:
        return None
    return arrays


def _generate_mnist1d(n_train: int, n_test: int, seed: int) -> dict[str, np.ndarray]:
    # mnist1d imports matplotlib.pyplot; keep it from choosing a GUI backend.
    import matplotlib

    matplotlib.use(matplotlib.get_backend())
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    total = n_train + n_test
    # make_dataset draws samples_per_class = num_samples // 10 examples per class, shuffles
    # them and splits at int(num_samples * train_split), which float rounding can put one
    # example early (108 / 1110 * 1110 = 107.999…).  Split here instead, at n_train exactly;
    # where the package's split is exact (e.g. 4000 / 1000) the arrays are the same.
    args.num_samples = -(-total // 10) * 10
    args.train_split = n_train / args.num_samples
    args.seed = seed
    state = np.random.get_state()  # noqa: NPY002  (make_dataset reseeds the global RNG)
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    x = np.concatenate([d["x"], d["x_test"]])  # (num_samples, 40), in the package's order
    y = np.concatenate([d["y"], d["y_test"]])
    return {
        "x": x[:n_train],
        "y": y[:n_train],
        "x_test": x[n_train:total],
        "y_test": y[n_train:total],
    }


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def digits(*, test_fraction: float = 0.25, flatten: bool = False, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1797 images, bundled; no download).

    Args:
        test_fraction: share of the images held out, in (0, 1).
        flatten: return x as (n, 64) instead of (n, 8, 8).
        seed: seed of the shuffle before the split.

    Returns:
        A classification :class:`Dataset`, pixel values scaled to [0, 1].
    """
    from sklearn.datasets import load_digits

    test_fraction = check_float(
        "test_fraction", test_fraction, 0.0, 1.0, lo_open=True, hi_open=True
    )
    seed = check_int("seed", seed, 0, 2**31 - 1)
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    y = bunch.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    if flatten:
        x = x.reshape(len(x), -1)
    n_test = round(len(y) * test_fraction)
    if not 1 <= n_test <= len(y) - 1:
        raise ValueError(
            f"test_fraction={test_fraction} leaves {n_test} of {len(y)} images for testing and "
            f"{len(y) - n_test} for training; both need at least one, so round({len(y)} × "
            f"test_fraction) must be in [1, {len(y) - 1}] (e.g. test_fraction in "
            f"[{1 / len(y):.5f}, {1 - 1 / len(y):.5f}])"
        )
    return Dataset(
        x_train=x[n_test:],
        y_train=y[n_test:],
        x_test=x[:n_test],
        y_test=y[:n_test],
        name="digits 8×8",
        task="classification",
        n_classes=10,
    )


def two_d(
    kind: str,
    *,
    n_train: int = 200,
    n_test: int = 1000,
    noise: float = 0.1,
    n_classes: int = 2,
    key: jax.Array,
) -> Dataset:
    """A 2-D synthetic classification set, drawn with ``key``.

    Args:
        kind: ``"moons"``, ``"circles"``, ``"spirals"``, ``"blobs"`` (``n_classes`` Gaussian
            clusters), ``"ring"`` (``n_classes`` Gaussians on a circle of radius 2) or
            ``"grid"`` (``n_classes`` Gaussians on a square grid of spacing 2) — the last two
            are GAN targets, their centres given by :func:`mode_centres`.
        n_train: training examples, 1…100000.
        n_test: test examples, 1…100000.
        noise: standard deviation of the Gaussian noise added to each point, in [0, 5].
        n_classes: classes for ``blobs``, arms for ``spirals``, modes for ``ring`` and ``grid``
            (2…16);
            moons and circles always have 2.
        key: a ``jax.random`` key.

    Returns:
        A classification :class:`Dataset` with x of shape (n, 2), float32.
    """
    kind = check_choice("kind", kind, TWO_D_KINDS)
    n_train = check_int("n_train", n_train, 1, 100_000)
    n_test = check_int("n_test", n_test, 1, 100_000)
    noise = check_float("noise", noise, 0.0, 5.0)
    n_classes = check_int("n_classes", n_classes, 2, 16)
    key = check_key("key", key)
    if kind in ("moons", "circles"):
        n_classes = 2
    k_train, k_test = jax.random.split(key)
    x, y = _draw_two_d(kind, n_train, noise, n_classes, k_train)
    xt, yt = _draw_two_d(kind, n_test, noise, n_classes, k_test)
    return Dataset(x, y, xt, yt, name=kind, task="classification", n_classes=n_classes)


def _draw_two_d(
    kind: str, n: int, noise: float, n_classes: int, key: jax.Array
) -> tuple[np.ndarray, np.ndarray]:
    k_label, k_pos, k_noise = jax.random.split(key, 3)
    y = jax.random.randint(k_label, (n,), 0, n_classes)  # (n,)
    u = jax.random.uniform(k_pos, (n,))  # (n,) position along each class's curve
    if kind == "moons":
        angle = jnp.pi * u
        upper = jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
        lower = jnp.stack([1 - jnp.cos(angle), 0.5 - jnp.sin(angle)], -1)
        x = jnp.where(y[:, None] == 0, upper, lower)
    elif kind == "circles":
        angle = 2 * jnp.pi * u
        radius = jnp.where(y == 0, 1.0, 0.5)
        x = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
    elif kind == "spirals":
        radius = 0.2 + u
        angle = 3 * jnp.pi * u + 2 * jnp.pi * y / n_classes
        x = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
    else:  # blobs, ring and grid: one Gaussian per class around its centre
        x = jnp.asarray(mode_centres(kind, n_classes))[y]
    x = x + noise * jax.random.normal(k_noise, x.shape)
    return np.asarray(x, np.float32), np.asarray(y, np.int32)


def mode_centres(kind: str, n_classes: int) -> np.ndarray:
    """The class centres of ``two_d``'s ``"blobs"``, ``"ring"`` and ``"grid"``, (n_classes, 2).

    Blobs and ring: evenly spaced on a circle of radius 1.5 (blobs) or 2 (ring), the first at
    (r, 0).  Grid: row by row on a square grid of spacing 2 and ⌈√n_classes⌉ columns, centred
    on the origin (9 modes: every point of {−2, 0, 2}²).
    """
    kind = check_choice("kind", kind, ("blobs", "ring", "grid"))
    n_classes = check_int("n_classes", n_classes, 2, 16)
    i = np.arange(n_classes)
    if kind == "grid":
        side = int(np.ceil(np.sqrt(n_classes)))
        rows = -(-n_classes // side)
        return np.stack([2.0 * (i % side - (side - 1) / 2), 2.0 * ((rows - 1) / 2 - i // side)], -1)
    radius = 2.0 if kind == "ring" else 1.5
    angle = 2 * np.pi * i / n_classes
    return radius * np.stack([np.cos(angle), np.sin(angle)], -1)


def regression(
    *,
    n_train: int = 100,
    n_test: int = 1000,
    n_features: int = 4,
    noise: float = 0.1,
    bias: float = 0.0,
    key: jax.Array,
) -> Dataset:
    """A linear regression problem like scikit-learn's ``make_regression``.

    Inputs are standard normal; the true coefficients are drawn uniformly from
    [0, 100) (as ``make_regression`` does for informative features); targets are
    ``x @ coef + bias + noise * N(0, 1)``.

    Args:
        n_train: training examples, 1…1000000.
        n_test: test examples, 1…1000000.
        n_features: input features, 1…10000.
        noise: standard deviation of the target noise, in [0, 1e6].
        bias: the intercept.
        key: a ``jax.random`` key.

    Returns:
        A regression :class:`Dataset`; y has shape (n,), float32.
    """
    n_train = check_int("n_train", n_train, 1, 1_000_000)
    n_test = check_int("n_test", n_test, 1, 1_000_000)
    n_features = check_int("n_features", n_features, 1, 10_000)
    noise = check_float("noise", noise, 0.0, 1e6)
    bias = check_float("bias", bias)
    key = check_key("key", key)
    k_coef, k_x, k_noise = jax.random.split(key, 3)
    coef = 100.0 * jax.random.uniform(k_coef, (n_features,))
    x = jax.random.normal(k_x, (n_train + n_test, n_features))  # (n, d)
    y = x @ coef + bias + noise * jax.random.normal(k_noise, (n_train + n_test,))
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return Dataset(
        x[:n_train], y[:n_train], x[n_train:], y[n_train:], name="regression", task="regression"
    )


def uniform_regression(
    *,
    n_train: int = 100,
    n_test: int = 1000,
    n_features: int = 10,
    target: str = "random",
    noise: float = 0.1,
    key: jax.Array,
) -> Dataset:
    """Inputs uniform in [0, 1)^d, as in source 000 §4, with a random or a learnable target.

    Args:
        n_train: training examples, 1…1000000.
        n_test: held-out examples from the same distribution, 1…1000000.
        n_features: input features, 1…10000.
        target: ``"random"`` — y uniform in [0, 1), independent of x (nothing to learn);
            ``"learnable"`` — y = sin(2π·mean(x₁…x₃)) … a smooth function of x, plus noise.
        noise: standard deviation of the noise added to the learnable target, in [0, 10].
        key: a ``jax.random`` key.

    Returns:
        A regression :class:`Dataset` with y of shape (n, 1), float32.
    """
    n_train = check_int("n_train", n_train, 1, 1_000_000)
    n_test = check_int("n_test", n_test, 1, 1_000_000)
    n_features = check_int("n_features", n_features, 1, 10_000)
    target = check_choice("target", target, ("random", "learnable"))
    noise = check_float("noise", noise, 0.0, 10.0)
    key = check_key("key", key)
    k_x, k_y = jax.random.split(key)
    n = n_train + n_test
    x = jax.random.uniform(k_x, (n, n_features))
    if target == "random":
        y = jax.random.uniform(k_y, (n, 1))
    else:
        signal = jnp.sin(2 * jnp.pi * x[:, : min(3, n_features)].mean(axis=1, keepdims=True))
        y = 0.5 + 0.4 * signal + noise * jax.random.normal(k_y, (n, 1))
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return Dataset(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        name=f"uniform ({target})",
        task="regression",
    )


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A character-level corpus: integer ids and the vocabulary that maps them back."""

    ids: np.ndarray  # (n_chars,) int32
    vocab: str  # vocab[i] is the character with id i

    def decode(self, ids: Any) -> str:
        """Turn a sequence of ids back into text."""
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).ravel())

    def encode(self, text: str) -> np.ndarray:
        """Turn text into ids; characters outside the vocabulary raise ValueError."""
        index = {c: i for i, c in enumerate(self.vocab)}
        missing = sorted(set(text) - set(index))
        if missing:
            raise ValueError(f"text contains characters outside the vocabulary: {missing!r}")
        return np.array([index[c] for c in text], np.int32)


def corpus(*, n_chars: int = 200_000) -> Corpus:
    """English text that ships with Python: the help topics of ``pydoc_data.topics``.

    Characters outside printable ASCII are dropped, so the vocabulary is small (≤ 96).

    Args:
        n_chars: number of characters to keep, 1000…2000000.
    """
    from pydoc_data.topics import topics

    n_chars = check_int("n_chars", n_chars, 1000, 2_000_000)
    raw = "\n".join(topics[k] for k in sorted(topics))
    clean = "".join(c for c in raw if c == "\n" or 32 <= ord(c) < 127)[:n_chars]
    vocab = "".join(sorted(set(clean)))
    index = {c: i for i, c in enumerate(vocab)}
    return Corpus(ids=np.array([index[c] for c in clean], np.int32), vocab=vocab)


def text(
    *, seq_len: int = 32, n_train: int = 4000, n_test: int = 500, n_chars: int = 200_000
) -> tuple[Dataset, Corpus]:
    """Next-character prediction windows cut from :func:`corpus`.

    Training windows come from the first 90 % of the text, test windows from the
    last 10 %, so no test character is ever seen in training.

    Args:
        seq_len: characters per window, 2…1024.
        n_train: training windows, 1…100000.
        n_test: test windows, 1…100000.
        n_chars: size of the corpus used.

    Returns:
        ``(dataset, corpus)``: x and y are int32 (n, seq_len); y is x shifted by one character.
    """
    seq_len = check_int("seq_len", seq_len, 2, 1024)
    n_train = check_int("n_train", n_train, 1, 100_000)
    n_test = check_int("n_test", n_test, 1, 100_000)
    c = corpus(n_chars=n_chars)
    split = int(0.9 * len(c.ids))

    def windows(ids: np.ndarray, n: int, name: str) -> tuple[np.ndarray, np.ndarray]:
        stride = (len(ids) - seq_len - 1) // n
        if stride < 1:
            raise ValueError(f"{name}={n} windows of {seq_len} characters do not fit the corpus")
        starts = np.arange(n) * stride
        idx = starts[:, None] + np.arange(seq_len + 1)[None, :]  # (n, seq_len + 1)
        w = ids[idx]
        return w[:, :-1], w[:, 1:]

    x, y = windows(c.ids[:split], n_train, "n_train")
    xt, yt = windows(c.ids[split:], n_test, "n_test")
    data = Dataset(x, y, xt, yt, name="pydoc text", task="classification", n_classes=len(c.vocab))
    return data, c


def flip_labels(data: Dataset, fraction: float, *, key: jax.Array) -> Dataset:
    """Label noise: replace a ``fraction`` of *training* labels by a different class.

    Each flipped label is drawn uniformly from the other ``n_classes - 1`` classes;
    test labels stay clean, so test error measures what was learned of the truth.

    Args:
        data: a classification data set.
        fraction: share of training labels flipped, in [0, 1].
        key: a ``jax.random`` key.
    """
    if data.task != "classification" or data.n_classes < 2:
        raise ValueError(f"flip_labels needs a classification data set, got task={data.task!r}")
    fraction = check_float("fraction", fraction, 0.0, 1.0)
    key = check_key("key", key)
    y = np.asarray(data.y_train)
    k_which, k_shift = jax.random.split(key)
    n = y.shape[0]
    n_flip = round(fraction * n)
    which = np.asarray(jax.random.permutation(k_which, n))[:n_flip]
    shift = np.asarray(jax.random.randint(k_shift, (n_flip,), 1, data.n_classes))
    y_noisy = y.copy()
    y_noisy[which] = (y[which] + shift) % data.n_classes
    return data.replace(
        y_train=y_noisy.astype(np.int32), name=f"{data.name} ({fraction:.0%} noise)"
    )


def split_validation(data: Dataset, n_val: int) -> Dataset:
    """Move the last ``n_val`` examples of the test set into a validation set.

    Early stopping then chooses its step on the validation set and reports the
    untouched test set, so the test error stays an honest estimate.
    """
    n_val = check_int("n_val", n_val, 1, int(data.x_test.shape[0]) - 1)
    cut = int(data.x_test.shape[0]) - n_val
    return data.replace(
        x_test=data.x_test[:cut],
        y_test=data.y_test[:cut],
        x_val=data.x_test[cut:],
        y_val=data.y_test[cut:],
    )
