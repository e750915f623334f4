"""Chapter 07: convolutional networks — weight sharing as data efficiency.

* :func:`equivariance` — shift a signal, and a convolution's feature map shifts with it
  (equal to float precision away from the edges); after a global max pool the features
  barely move, while a dense layer's change completely.
* :func:`receptive_field` — which input positions one output unit sees, measured with
  ``jax.grad`` and compared with the formula r_l = r_{l−1} + (k − 1)·j_{l−1}.
* :func:`source_networks` — 001 §4.3–4.4's conv-64 and pool and 003 §5's
  conv32-pool-conv64-pool-dense10, counted (parameters, FLOPs per example) on the sources'
  28×28 images and on the 8×8 digits; :func:`digits_duel` trains 003's network on the
  digits beside an MLP of about its size.
* :func:`efficiency_study` — a 1-D CNN against an MLP of about the same parameter count on
  MNIST-1D over training-set sizes, on the signals as they are and with their positions
  shuffled by one fixed permutation (the control: the CNN's advantage is its prior about
  neighbouring positions).
* :func:`explorer` — n_train, channels, kernel size, permuted inputs on/off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import conv
from course.engine import data as datasets
from course.engine.memo import on_disk
from course.engine.models import CNN1D, CNN2D, MLP
from course.engine.runtime import stopwatch
from course.engine.sweep import SweepResult, sweep, sweep_point
from course.engine.train import TrainConfig
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

# ------------------------------------------------------------------- reference check

CHECK_COLUMNS = ["operation", "padding", "stride", "output shape", "max |ours − lax|"]


@on_disk
def reference_check(*, key: jax.Array) -> list[list[Any]]:
    """Our convolution and pooling against ``lax.conv_general_dilated`` / ``reduce_window``.

    Rows of :data:`CHECK_COLUMNS`: 1-D and 2-D convolution for both paddings and strides
    1–3, max and average pooling with windows 2 and 3.
    """
    k1, k2, k3, k4 = jax.random.split(key, 4)
    x1, w1 = jax.random.normal(k1, (8, 40, 3)), jax.random.normal(k2, (5, 3, 4))
    x2, w2 = jax.random.normal(k3, (8, 9, 8, 3)), jax.random.normal(k4, (3, 3, 3, 4))
    rows = []
    for name, x, w, ours, dims in (
        ("conv1d", x1, w1, conv.conv1d, ("NWC", "WIO", "NWC")),
        ("conv2d", x2, w2, conv.conv2d, ("NHWC", "HWIO", "NHWC")),
    ):
        for padding in conv.PADDINGS:
            for stride in (1, 2, 3):
                got = ours(x, w, stride, padding)
                ref = jax.lax.conv_general_dilated(
                    x, w, (stride,) * (x.ndim - 2), padding.upper(), dimension_numbers=dims,
                    precision="highest")  # fmt: skip
                rows.append([name, padding, stride, "×".join(map(str, got.shape)),
                             float(jnp.abs(got - ref).max())])  # fmt: skip
    for kind, (init, op) in (("max", (-jnp.inf, jax.lax.max)), ("avg", (0.0, jax.lax.add))):
        for size, stride in ((2, 2), (3, 2)):
            got = conv.pool2d(x2, size, stride, kind)
            ref = jax.lax.reduce_window(x2, init, op, (1, size, size, 1),
                                        (1, stride, stride, 1), "VALID")  # fmt: skip
            ref = ref if kind == "max" else ref / size**2
            shape = "×".join(map(str, got.shape))
            rows.append([f"{kind} pool {size}×{size}", "valid", stride, shape,
                         float(jnp.abs(got - ref).max())])  # fmt: skip
    return rows


# ------------------------------------------------------------------- equivariance


@dataclasses.dataclass
class Equivariance:
    """How feature maps move when the input shifts by ``shift`` positions.

    Attributes:
        shift: positions the signals were shifted by.
        conv_interior: max |conv(shift(x)) − shift(conv(x))| away from the edges.
        conv_scale: max |conv(x)| (what the difference is small against).
        pooled_change: relative change of the globally max-pooled conv features.
        dense_change: relative change of a dense layer's features of the same size.
    """

    shift: int
    conv_interior: float
    conv_scale: float
    pooled_change: float
    dense_change: float


def shift_signals(x: jax.Array, shift: int) -> jax.Array:
    """Signals (batch, length) moved right by ``shift`` positions, zeros coming in."""
    return jnp.pad(x, ((0, 0), (shift, 0)))[:, : x.shape[1]]


def relative_change(a: jax.Array, b: jax.Array) -> float:
    """‖a − b‖ / ‖a‖ over the whole batch."""
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(a))


@on_disk
def equivariance(x: jax.Array, *, key: jax.Array, shift: int = 3, channels: int = 16,
                 kernel: int = 5) -> Equivariance:  # fmt: skip
    """One random convolution (stride 1) and one random dense layer on the signals ``x``.

    The convolution's output at position i depends on x[i … i+k−1] only, through the same
    kernel everywhere, so moving the input moves the output; a global max pool then forgets
    where a feature was.  A dense layer has a separate weight for every position.
    """
    k_conv, k_dense = jax.random.split(key)
    w = jax.random.normal(k_conv, (kernel, 1, channels)) / np.sqrt(kernel)
    feats = lambda s: jax.nn.relu(conv.conv1d(s[:, :, None], w))  # (batch, L', channels)  # noqa: E731
    moved = shift_signals(x, shift)
    a, b = feats(x), feats(moved)  # b[i + shift] should equal a[i] where no zero came in
    interior = jnp.abs(b[:, shift:] - a[:, : a.shape[1] - shift]).max()
    dense_w = jax.random.normal(k_dense, (x.shape[1], channels)) / np.sqrt(x.shape[1])
    dense = lambda s: jax.nn.relu(s @ dense_w)  # (batch, channels)  # noqa: E731
    return Equivariance(
        shift=shift,
        conv_interior=float(interior),
        conv_scale=float(jnp.abs(a).max()),
        pooled_change=relative_change(a.max(1), b.max(1)),
        dense_change=relative_change(dense(x), dense(moved)),
    )


# ------------------------------------------------------------------- receptive field


def receptive_field_formula(layers: int, kernel: int, stride: int) -> int:
    """Input positions one unit of the last layer sees: r_l = r_{l−1} + (k − 1)·j_{l−1}.

    j_l = s^l is the distance, in input positions, between neighbouring units of layer l.
    """
    r, jump = 1, 1
    for _ in range(layers):
        r, jump = r + (kernel - 1) * jump, jump * stride
    return r


def receptive_field(layers: int, kernel: int, stride: int, length: int = 96) -> np.ndarray:
    """Which input positions reach the middle unit of the last layer: a 0/1 mask (length,).

    Measured, not computed: the gradient of that unit with respect to the input is nonzero
    exactly where the input can change it (positive kernels, no nonlinearity in the way).
    """
    w = jnp.ones((kernel, 1, 1))

    def unit(x: jax.Array) -> jax.Array:
        h = x[None, :, None]  # (1, length, 1)
        for _ in range(layers):
            h = conv.conv1d(h, w, stride)
        return h[0, h.shape[1] // 2, 0]

    grad = jax.grad(unit)(jnp.ones((length,)))
    return np.asarray(grad != 0, dtype=int)


RF_LAYERS = [1, 2, 3, 4]
RF_KERNELS = [3, 5, 7]
RF_STRIDES = [1, 2]


def receptive_field_figure(layers: int, kernel: int, stride: int) -> Figure:
    """The input positions each layer's middle unit sees, for this depth, kernel and stride."""
    series = []
    for depth in range(1, layers + 1):
        mask = receptive_field(depth, kernel, stride)
        pos = np.flatnonzero(mask)
        series.append(Series(pos, np.full(pos.shape, depth), f"layer {depth}: {pos.size}",
                             line=False))  # fmt: skip
    r = receptive_field_formula(layers, kernel, stride)
    return Figure(
        [
            Lines(
                series,
                title="input positions that reach one unit of each layer",
                xlabel="input position",
                ylabel="layer",
                xlim=(0, 95),
                ylim=(0.3, max(RF_LAYERS) + 0.7),
            )
        ],
        title=f"{layers} layers, kernel {kernel}, stride {stride}: the last layer's unit sees "
        f"{r} input positions",
        width=9.0,
        height=3.4,
    )


def receptive_field_explorer() -> Explorer:
    """Depth, kernel size and stride: which inputs one unit sees (no training: all instant)."""
    return Explorer(
        [
            slider("layers", RF_LAYERS, label="convolution layers", default=3),
            slider("kernel", RF_KERNELS, label="kernel size k", default=5),
            slider("stride", RF_STRIDES, label="stride s", default=2),
        ],
        view=lambda values, _: receptive_field_figure(**values),
        lookup=lambda values: None,
        title="Receptive field: depth, kernel size and stride",
    )


# ------------------------------------------------------------------- the sources' networks


@dataclasses.dataclass
class Layer:
    """One row of a network's table: its output shape, parameters and FLOPs per example."""

    name: str
    shape: tuple[int, ...]
    params: int
    flops: int


def conv_net_table(size: int, blocks: Sequence[int], padding: str, n_out: int | None,
                   kernel: int = 3, pool: int = 2) -> list[Layer]:  # fmt: skip
    """Layers of a stack of (k×k conv, ReLU, pool×pool max pool) blocks, then a dense layer.

    FLOPs count a multiply and an add as two; pooling and ReLU are not counted.
    """
    rows, h, c_in = [], size, 1
    for c in blocks:
        h = conv.out_length(h, kernel, 1, padding)
        taps = kernel * kernel * c_in  # inputs of one filter at one position
        rows.append(Layer(f"conv {kernel}×{kernel}, {c} filters ({padding})", (h, h, c),
                          (taps + 1) * c, 2 * taps * c * h * h))  # fmt: skip
        h = h // pool
        rows.append(Layer(f"max pool {pool}×{pool}", (h, h, c), 0, 0))
        c_in = c
        if h < 1:
            break
    if n_out is not None and h >= 1:
        n_in = h * h * c_in
        rows.append(
            Layer(f"dense {n_in} → {n_out}", (n_out,), (n_in + 1) * n_out, 2 * n_in * n_out)
        )
    return rows


SOURCE_NETWORKS = {
    "001 §4.3–4.4: conv 3×3 ×64 (same), max pool 2×2": {
        "blocks": (64,),
        "padding": "same",
        "n_out": None,
    },
    "003 §5: conv32-pool-conv64-pool-dense10 (valid)": {
        "blocks": (32, 64),
        "padding": "valid",
        "n_out": 10,
    },
}


def source_networks() -> dict[str, dict[int, list[Layer]]]:
    """Each source network on the sources' 28×28 images and on our 8×8 digits."""
    return {name: {size: conv_net_table(size, **spec) for size in (28, 8)}
            for name, spec in SOURCE_NETWORKS.items()}  # fmt: skip


# The sources' code (001 §4.3–4.4 in TensorFlow 1, 003 §5 in Keras), verbatim but for
# 003's comments and closing prints.
SOURCE_CODE = {
    "001 §4.3": """import tensorflow as tf

input_tensor = tf.placeholder(tf.float32, shape=[None, 28, 28, 1])
filter_tensor = tf.Variable(tf.random_normal([3, 3, 1, 64]))

conv = tf.nn.conv2d(input_tensor, filter_tensor, strides=[1, 1, 1, 1], padding='SAME')

sess.run(tf.global_variables_initializer())
sess.run(filter_tensor)
""",
    "001 §4.4": """import tensorflow as tf

input_tensor = tf.placeholder(tf.float32, shape=[None, 28, 28, 1])
pool = tf.nn.max_pool(input_tensor, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='SAME')

sess.run(tf.global_variables_initializer())
sess.run(pool)
""",
    "003 §5": """import tensorflow as tf

model = tf.keras.models.Sequential([
    tf.keras.layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)),
    tf.keras.layers.MaxPooling2D((2, 2)),
    tf.keras.layers.Conv2D(64, (3, 3), activation='relu'),
    tf.keras.layers.MaxPooling2D((2, 2)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(10, activation='softmax')
])
optimizer = tf.keras.optimizers.Adam()
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()
model.compile(optimizer=optimizer, loss=loss_fn, metrics=['accuracy'])
model.fit(x_train, y_train, epochs=10)
loss, accuracy = model.evaluate(x_test, y_test)
""",
}
REMOVED_IN_TF2 = ("placeholder",)  # tf.placeholder (and tf.Session) are TensorFlow 1 only


def undefined_names(code: str) -> set[str]:
    """Names a snippet reads but never defines or imports (so it cannot run as written)."""
    import ast
    import builtins

    tree = ast.parse(code)
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - defined


def tf1_calls(code: str) -> set[str]:
    """The ``tf.<name>`` calls of a snippet that TensorFlow 2 no longer has at the top level."""
    import ast

    return {n.attr for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Attribute) and n.attr in REMOVED_IN_TF2}  # fmt: skip


# ------------------------------------------------------------------- the digits duel

DIGITS_CNN = TrainConfig(CNN2D((8, 8), (32, 64), 10), steps=600, batch_size=64, n_logs=1,
                         lr=3e-3)  # fmt: skip
DIGITS_MLP_WIDTH = 285  # 64 → 285 → 10: about the CNN's parameter count
DIGITS_MLP = dataclasses.replace(DIGITS_CNN, model=MLP(64, (DIGITS_MLP_WIDTH,), 10))
DIGITS_SIZES = [150, None]  # None: the whole training pool
DIGITS_SEEDS = 2


@dataclasses.dataclass
class Duel:
    """Test error of two models over training-set sizes (axis order: model, n, seed)."""

    sizes: list[int]
    params: dict[str, int]
    errors: dict[str, np.ndarray]  # model -> (n, seed)
    n_test: int


@on_disk
def digits_duel(*, key: jax.Array) -> Duel:
    """003 §5's network (padded 'same' so it fits 8×8) against an MLP of about its size."""
    d = datasets.digits()
    sizes = [d.n_pool if n is None else n for n in DIGITS_SIZES]
    errors, params = {}, {}
    for name, config in (("CNN", DIGITS_CNN), ("MLP", DIGITS_MLP)):
        r = sweep(config, d, key=key, seeds=DIGITS_SEEDS, n_trains=sizes, progress=False)
        errors[name] = (1 - r.final("test_acc")).T  # (n, seed)
        params[name] = config.model.n_params()
    return Duel(sizes, params, errors, n_test=len(d.y_test))


# ------------------------------------------------------------------- data efficiency

N_TRAINS = [250, 500, 1000, 2000, 4000]
CHANNELS = [8, 24]  # channels of every convolution layer (the width knob)
KERNELS = [3, 5]  # with 3 layers of stride 2, a 40-sample signal fits kernels up to 5
SEEDS = 2
STEPS = 800
MLP_HIDDEN = (64, 64)  # 7434 parameters, about the 24-channel CNN's 6442 (kernel 5)


def cnn_config(kernel: int) -> TrainConfig:
    """Three layers of (kernel-k convolution, stride 2, ReLU), then dense to 10 classes."""
    return TrainConfig(CNN1D(40, (max(CHANNELS),) * 3, 10, kernel, 2), steps=STEPS,
                       batch_size=100, n_logs=10, lr=3e-3)  # fmt: skip


MLP_CONFIG = dataclasses.replace(cnn_config(KERNELS[-1]), model=MLP(40, MLP_HIDDEN, 10))


def permute_positions(d: datasets.Dataset, *, key: jax.Array) -> datasets.Dataset:
    """Every signal's 40 positions shuffled by one fixed permutation (the same for all).

    Nothing is lost — the permutation can be undone — but neighbouring positions are no
    longer neighbours, so a prior about locality no longer fits the data.
    """
    order = np.asarray(jax.random.permutation(key, d.feature_shape[0]))
    return d.replace(x_train=d.x_train[:, order], x_test=d.x_test[:, order])


@dataclasses.dataclass
class Study:
    """The sweeps behind the chapter's claims and its explorer.

    Attributes:
        cnn: (kernel, permuted) -> sweep over seed, n_train, width (channels).
        mlp: permuted -> sweep over seed, n_train.
        pools: permuted -> the data set the runs drew from.
        key: the key every sweep trained with (seed i: ``split(key, SEEDS)[i]``).
        seconds: wall time of all the sweeps, compile included.
    """

    cnn: dict[tuple[int, bool], SweepResult]
    mlp: dict[bool, SweepResult]
    pools: dict[bool, datasets.Dataset]
    key: jax.Array
    seconds: float

    @property
    def runs(self) -> tuple[int, int]:
        """Numbers of CNN and MLP runs."""
        count = lambda results: sum(int(np.prod(r.shape)) for r in results)  # noqa: E731
        return count(self.cnn.values()), count(self.mlp.values())

    def cnn_error(self, kernel: int = KERNELS[-1], permuted: bool = False,
                  channels: int = CHANNELS[-1]) -> np.ndarray:  # fmt: skip
        """Final test error, (seed, n_train)."""
        return 1 - self.cnn[(kernel, permuted)].sel(width=channels).final("test_acc")

    def mlp_error(self, permuted: bool = False) -> np.ndarray:
        """Final test error, (seed, n_train)."""
        return 1 - self.mlp[permuted].final("test_acc")


@on_disk
def efficiency_study(
    *,
    key: jax.Array,
    data: datasets.Dataset | None = None,
    kernels: Sequence[int] = KERNELS,
    channels: Sequence[int] = CHANNELS,
) -> Study:
    """Every (kernel, channels, n_train, seed) CNN and every (n_train, seed) MLP.

    Both on the signals as they are and permuted; the same seeds everywhere, so every
    comparison is paired.  A smaller grid (fewer ``kernels`` or ``channels``) gives the same
    runs at its points: each run depends only on its own seed, n, width and kernel.
    """
    k_perm, k_train = jax.random.split(key)
    plain = datasets.mnist1d() if data is None else data
    pools = {False: plain, True: permute_positions(plain, key=k_perm)}
    with stopwatch() as watch:
        cnn = {
            (k, p): sweep(cnn_config(k), pools[p], key=k_train, seeds=SEEDS,  # same key: paired
                          n_trains=N_TRAINS, widths=list(channels), width_buckets=None,
                          progress=False)
            for k in kernels for p in (False, True)
        }  # fmt: skip
        mlp = {p: sweep(MLP_CONFIG, pools[p], key=k_train, seeds=SEEDS,  # same key: paired
                        n_trains=N_TRAINS, progress=False) for p in (False, True)}  # fmt: skip
    return Study(cnn, mlp, pools, k_train, watch["s"])  # same key: kept for retraining live


@dataclasses.dataclass
class Claims:
    """What the notebook says about the study, as numbers (kernel 5, 24 channels).

    Attributes:
        gap: MLP minus CNN test error per n (mean over seeds), signals as they are.
        worst_gap: the smallest per-seed gap per n.
        n_to_match: training examples the CNN needs to match the MLP's error at the
            largest n (log-interpolated along its curve).
        cnn_penalty: CNN error on permuted minus as-they-are signals per n (mean over seeds).
        mlp_change: the MLP's permuted minus as-they-are error, mean over every n and seed.
        mlp_change_se: its standard error over seeds (with two seeds, a rough one).
        perm_gap: MLP minus CNN error per n, both on permuted signals (mean over seeds).
    """

    gap: np.ndarray
    worst_gap: np.ndarray
    n_to_match: float
    cnn_penalty: np.ndarray
    mlp_change: float
    mlp_change_se: float
    perm_gap: np.ndarray

    CNN_WINS_FROM = 500  # the CNN wins in every seed at every n from here on ...
    MIN_GAP = 0.05  # ... by at least this much test error
    MIN_PENALTY = 0.10  # shuffling costs the CNN at least this much at the largest n
    MLP_TOLERANCE = 0.03  # ... and moves the MLP's mean error by less than this
    SHUFFLED_MARGIN = 0.02  # the shuffled CNN is at most this much better than the MLP

    @property
    def cnn_wins(self) -> bool:
        """In every seed, at every n ≥ CNN_WINS_FROM, the CNN's error is MIN_GAP lower."""
        from_ = np.asarray(N_TRAINS) >= self.CNN_WINS_FROM
        return bool(np.all(self.worst_gap[from_] >= self.MIN_GAP))

    @property
    def permutation_hurts_only_the_cnn(self) -> bool:
        """Shuffling costs the CNN, not the MLP.

        The CNN loses ≥ MIN_PENALTY at the largest n; its lead over the MLP is gone at every
        n (the shuffled CNN is at most SHUFFLED_MARGIN better than the MLP, and worse from
        1000 examples on); and the MLP's mean error moves by less than MLP_TOLERANCE.
        """
        from_1000 = np.asarray(N_TRAINS) >= 1000
        return bool(
            self.cnn_penalty[-1] >= self.MIN_PENALTY
            and np.all(self.perm_gap < self.SHUFFLED_MARGIN)
            and np.all(self.perm_gap[from_1000] < 0)
            and abs(self.mlp_change) < self.MLP_TOLERANCE
        )

    @property
    def lead_grows(self) -> bool:
        """The CNN's mean lead is a few points at the smallest n, over 20 at the two largest."""
        return bool(self.gap[0] < 0.1 and np.all(self.gap[-2:] > 0.2))


def claims(study: Study) -> Claims:
    """The chapter's claims from the study (see :class:`Claims`)."""
    cnn, mlp = study.cnn_error(), study.mlp_error()  # (seed, n)
    cnn_p, mlp_p = study.cnn_error(permuted=True), study.mlp_error(permuted=True)
    gap = (mlp - cnn).mean(0)
    target = mlp.mean(0)[-1]
    curve = cnn.mean(0)  # falls with n; find where it crosses the MLP's best
    logn = np.log(np.asarray(N_TRAINS, float))
    below = np.flatnonzero(curve <= target)
    if below.size == 0:
        n_match = float("inf")
    elif below[0] == 0:
        n_match = float(N_TRAINS[0])
    else:
        i = below[0]
        t = (curve[i - 1] - target) / (curve[i - 1] - curve[i])
        n_match = float(np.exp(logn[i - 1] + t * (logn[i] - logn[i - 1])))
    per_seed = (mlp_p - mlp).mean(1)  # seeds are the independent draws (n shares the init)
    return Claims(
        gap=gap,
        worst_gap=(mlp - cnn).min(0),
        n_to_match=n_match,
        cnn_penalty=(cnn_p - cnn).mean(0),
        mlp_change=float(per_seed.mean()),
        mlp_change_se=float(per_seed.std(ddof=1) / np.sqrt(per_seed.size)),
        perm_gap=(mlp_p - cnn_p).mean(0),
    )


# ------------------------------------------------------------------- the explorer

ORDERS = {"as they are": False, "shuffled (one fixed permutation)": True}


def explorer_figure(study: Study, point: SweepResult, values: dict[str, Any]) -> Figure:
    """Test error against n for this CNN and the MLP (both orders); this point's curves."""
    n, c, k, p = values["n_train"], values["channels"], values["kernel"], values["permuted"]
    # off the grid (set from code, retrained live): the curves of the nearest grid point
    k_grid = min((kk for kk, _ in study.cnn), key=lambda kk: abs(kk - k))
    widths = study.cnn[(k_grid, False)].axes["width"]
    c_grid = int(widths[np.argmin(np.abs(np.log(widths / c)))])
    curves = []
    for permuted, dashed in ((False, False), (True, True)):
        order = "shuffled" if permuted else "in order"
        err = study.cnn_error(k_grid, permuted, c_grid)
        label = f"CNN ({c_grid} ch.), {order}"
        curves.append(band(err.mean(0), err.std(0), N_TRAINS, label, dashed=dashed,
                           color="#1f77b4", markers=not dashed))  # fmt: skip
        err = study.mlp_error(permuted)
        curves.append(band(err.mean(0), err.std(0), N_TRAINS, f"MLP, {order}", dashed=dashed,
                           color="#7f7f7f"))  # fmt: skip
    by_size = Lines(curves, title="test error against data (± std over seeds)",
                    xlabel="training examples n", ylabel="test error", xlog=True,
                    xlim=(N_TRAINS[0] / 1.15, N_TRAINS[-1] * 1.15), ylim=(0, 0.9),
                    vline=float(n))  # fmt: skip
    learning = []
    for split, dashed in (("train", True), ("test", False)):
        err = 1 - point.metrics[f"{split}_acc"]  # (seed, log)
        learning.append(band(err.mean(0), err.std(0), point.steps, f"{split} error",
                             dashed=dashed))  # fmt: skip
    curves_now = Lines(learning, title="this CNN's learning curves", xlabel="step",
                       ylabel="error", xlim=(0, float(point.steps[-1])), ylim=(0, 1))  # fmt: skip
    model = cnn_config(k).model
    test = 1 - point.final("test_acc")
    title = (
        f"CNN, kernel {k}, {c} channels ({model.n_params(c)} parameters), n = {n}, "
        f"positions {'shuffled' if p else 'in order'}: test error {test.mean():.3f}"
    )
    return Figure([by_size, curves_now], title=title, width=10.0, height=3.8)


def live_point(study: Study, values: dict[str, Any]) -> SweepResult:
    """Retrain this CNN for every seed now, through the engine (the study's own keys)."""
    return sweep_point(cnn_config(values["kernel"]), study.pools[values["permuted"]],
                       key=study.key, seeds=SEEDS, n_train=values["n_train"],
                       width=values["channels"])  # fmt: skip


def explorer(study: Study) -> Explorer:
    """n_train, channels, kernel size and input order over the study's grid."""
    return Explorer(
        [
            slider("n_train", N_TRAINS, label="training examples n", default=1000),
            slider("channels", CHANNELS, label="channels per layer", default=CHANNELS[-1]),
            slider("kernel", KERNELS, label="kernel size k", default=5),
            dropdown("permuted", ORDERS, label="input positions", default=False),
        ],
        view=lambda values, point: explorer_figure(study, point, values),
        lookup=lambda values: study.cnn[(values["kernel"], values["permuted"])].sel(
            n_train=values["n_train"], width=values["channels"]
        ),
        live=lambda values: live_point(study, values),
        title="A CNN against an MLP: data size, channels, kernel size, input order",
        note=f"Each point: {SEEDS} seeds × {STEPS} Adam steps (batch 100) on MNIST-1D, "
        "trained in advance; the MLP (grey) has 64-64 hidden units, "
        f"{MLP_CONFIG.model.n_params()} parameters.",
    )
