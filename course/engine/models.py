"""Models as pure functions over pytrees of parameters.

Every model is a small frozen dataclass describing its *architecture* (hashable,
so it can be part of a static training configuration) with two methods:

* ``init(*, key, width=None) -> params`` — a pytree (lists of dicts of arrays);
* ``apply(params, x, *, width=None, dropout=0.0, key=None) -> outputs`` for one batch.

**Masked width.**  The hidden sizes given to a model are *maxima*.  Passing
``width=w`` (a Python int or a traced JAX integer) switches on only the first
``min(w, h)`` units of every hidden layer of size ``h``: their parameters are
initialised as usual (with the fan-in of the active units), the rest are zero,
and the forward pass multiplies hidden activations by the unit mask.  The masked
network computes exactly what the smaller network computes, its padded
parameters get zero gradient, so they stay zero during training; and since
``width`` is a value, not a shape, changing it never recompiles.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine.checks import check_choice, check_float, check_int, check_key
from course.engine.conv import conv1d, conv2d, pool2d

Params = Any  # a pytree of arrays

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
    "linear": lambda z: z,
}

INITS = ("glorot", "he", "lecun")


def init_std(scheme: str, fan_in: Any, fan_out: Any) -> Any:
    """Standard deviation of initial weights (fans may be traced for masked widths).

    ``glorot`` — √(2 / (fan_in + fan_out)), Glorot & Bengio (2010); the default of Keras
    (the sources' framework) and of scikit-learn's MLP.  ``he`` — √(2 / fan_in), He et al.
    (2015), for ReLU nets.  ``lecun`` — √(1 / fan_in), LeCun et al. (1998).
    """
    if scheme == "glorot":
        return jnp.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "he":
        return jnp.sqrt(2.0 / fan_in)
    return jnp.sqrt(1.0 / fan_in)


def count_params(params: Params) -> int:
    """Number of scalars in a parameter pytree (padded entries included)."""
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(params)))


def unit_mask(size: int, width: Any) -> jax.Array:
    """Float mask (size,) whose first ``min(width, size)`` entries are 1.

    ``width=None`` means all units.
    """
    if width is None:
        return jnp.ones((size,), jnp.float32)
    return (jnp.arange(size) < width).astype(jnp.float32)


def apply_dropout(x: jax.Array, rate: Any, key: jax.Array | None) -> jax.Array:
    """Inverted dropout: zero each entry with probability ``rate``, scale the rest by 1/(1-rate).

    ``rate`` may be traced; at ``rate == 0`` it returns ``x`` exactly.
    """
    if key is None:
        return x
    keep = jax.random.uniform(key, x.shape) >= rate
    return jnp.where(keep, x / (1.0 - rate), 0.0)


@jax.custom_jvp
def dense(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` for x (batch, n_in) and w (n_in, n_out).

    Mathematically plain ``x @ w``, with a custom JVP rule from which JAX derives the
    backward pass by transposition, so forward mode (``jax.jvp``, ``jax.jacfwd``) and
    reverse mode (``jax.grad``) both work.  The rule writes the weight tangent's term
    through an explicitly transposed copy of ``x`` (``(xᵀ)ᵀ·dw``); its transpose, the
    weight gradient, is then ``xᵀ·δ`` with ``xᵀ`` already laid out as a matrix, instead
    of a contraction over the batch dimension of two batch-major operands.  Measured
    on the 64-run benchmark grid the two forms run within noise of each other on
    today's XLA-CPU (see ``benchmarks/sweep.py``); the rule stays because it gives
    bit-identical results to earlier releases of this course.
    """
    return x @ w


@dense.defjvp
def _dense_jvp(
    primals: tuple[jax.Array, jax.Array], tangents: tuple[jax.Array, jax.Array]
) -> tuple[jax.Array, jax.Array]:
    x, w = primals
    dx, dw = tangents
    x_t = jax.lax.optimization_barrier(x.T)  # (n_in, batch), kept as a real transpose
    return x @ w, dx @ w + x_t.T @ dw  # (batch, n_out) each


def _leaf_name(path: tuple) -> str:
    last = path[-1]
    return str(getattr(last, "key", getattr(last, "name", last)))


def weight_mask(model: Any, params: Params) -> Params:
    """A pytree shaped like ``params``: True for weights, False for biases.

    L1 and L2 penalise the weights only.  Every model declares which of its leaves are
    weights (``weight_names``) and which are biases (``bias_names``); a leaf named in
    neither raises, so a new model cannot silently escape its penalty.
    """
    weights, biases = getattr(model, "weight_names", None), getattr(model, "bias_names", None)
    if weights is None or biases is None:
        raise TypeError(
            f"{type(model).__name__} must declare weight_names and bias_names "
            "(which parameter leaves L1/L2 penalise)"
        )

    def classify(path: tuple, leaf: Any) -> bool:
        name = _leaf_name(path)
        if name in weights:
            return True
        if name in biases:
            return False
        raise ValueError(
            f"{type(model).__name__} has a parameter leaf {name!r} that is neither in its "
            f"weight_names {weights} nor in its bias_names {biases}"
        )

    return jax.tree_util.tree_map_with_path(classify, params)


def active_weights(model: Any, width: Any = None) -> Params:
    """A pytree shaped like the model's parameters: True where a weight is active at ``width``.

    Padded weights (those of masked units) start at exactly 0 and stay there; counts such as
    "the fraction of weights near zero" must leave them out or they flatter any sparsity.
    Drawn weights are never exactly 0, so a weight is padding when the full model draws it
    and the model at ``width`` sets it to 0 (a model that starts at zero, like ``Linear``,
    has no padding).
    """
    key = jax.random.key(0)
    full = model.init(key=key)  # same key: the same draw, to compare
    narrow = model.init(key=key, width=width)  # same key: the same draw, to compare
    is_weight = weight_mask(model, full)
    return jax.tree.map(
        lambda f, n, w: np.asarray((n != 0) | (f == 0)) if w else None, full, narrow, is_weight
    )


def _dropout_keys(key: jax.Array | None, n: int) -> list[jax.Array | None]:
    """One dropout key per layer (None everywhere when dropout is off)."""
    return [None] * n if key is None else list(jax.random.split(key, n))


def _dense_init(key: jax.Array, n_in: int, n_out: int, std: Any) -> dict:
    w = jax.random.normal(key, (n_in, n_out)) * std
    return {"w": w, "b": jnp.zeros((n_out,))}


def _check_width(width: Any, max_width: int) -> Any:
    if width is None or isinstance(width, jax.Array | jax.core.Tracer):
        return width
    return check_int("width", width, 1, max_width)


def _check_dropout(rate: Any) -> Any:
    if isinstance(rate, jax.Array | jax.core.Tracer):
        return rate
    return check_float("dropout", rate, 0.0, 1.0, hi_open=True)


@dataclasses.dataclass(frozen=True)
class Linear:
    """Linear model ``x @ w + b``: linear regression, logistic or softmax regression.

    Attributes:
        n_in: input features.
        n_out: outputs (1 for regression or binary logistic regression, k for softmax).
    """

    n_in: int
    n_out: int = 1

    weight_names = ("w",)
    bias_names = ("b",)
    max_width = None
    takes_dropout = False

    def __post_init__(self) -> None:
        check_int("n_in", self.n_in, 1)
        check_int("n_out", self.n_out, 1)

    def init(self, *, key: jax.Array, width: Any = None) -> Params:
        """Zero-initialised weights (the loss is convex; any start works)."""
        check_key("key", key)
        return [{"w": jnp.zeros((self.n_in, self.n_out)), "b": jnp.zeros((self.n_out,))}]

    def apply(
        self, params: Params, x: jax.Array, *, width: Any = None, dropout: Any = 0.0, key=None
    ) -> jax.Array:
        """Outputs (batch, n_out) for inputs (batch, n_in)."""
        if key is not None:
            raise ValueError(
                "dropout needs hidden units; Linear has none (train it with dropout=None)"
            )
        x = x.reshape(x.shape[0], -1)
        return dense(x, params[0]["w"]) + params[0]["b"][None, :]

    def n_params(self, width: Any = None) -> int:
        """Number of active parameters."""
        return (self.n_in + 1) * self.n_out


@dataclasses.dataclass(frozen=True)
class MLP:
    """Multilayer perceptron ``n_in → hidden[0] → … → n_out``.

    Attributes:
        n_in: input features (inputs are flattened).
        hidden: maximum units of each hidden layer; ``width`` masks them all.
        n_out: outputs.
        activation: one of ``ACTIVATIONS``.
        init_scheme: weight initialisation, one of ``INITS`` (biases start at zero).
        draw_hidden: hidden sizes at which initial weights are *drawn* (then cut to
            ``hidden``); :meth:`capped` sets it so that a capped copy starts from exactly
            the weights the full model gives its first units.
    """

    n_in: int
    hidden: tuple[int, ...]
    n_out: int
    activation: str = "relu"
    init_scheme: str = "glorot"
    draw_hidden: tuple[int, ...] | None = None

    weight_names = ("w",)
    bias_names = ("b",)

    def __post_init__(self) -> None:
        check_int("n_in", self.n_in, 1)
        check_int("n_out", self.n_out, 1)
        if not isinstance(self.hidden, tuple):
            raise TypeError(f"hidden must be a tuple of ints, got {self.hidden!r}")
        for i, h in enumerate(self.hidden):
            check_int(f"hidden[{i}]", h, 1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("init_scheme", self.init_scheme, INITS)
        if self.draw_hidden is not None and (
            len(self.draw_hidden) != len(self.hidden)
            or any(d < h for d, h in zip(self.draw_hidden, self.hidden, strict=True))
        ):
            raise ValueError(f"draw_hidden {self.draw_hidden} must cover hidden {self.hidden}")

    @property
    def max_width(self) -> int | None:
        """Largest hidden layer (the ``width`` knob's maximum), None without hidden layers."""
        return max(self.hidden) if self.hidden else None

    @property
    def takes_dropout(self) -> bool:
        """Whether dropout has hidden units to drop."""
        return bool(self.hidden)

    def capped(self, max_width: int) -> MLP:
        """The same network with every hidden layer capped at ``max_width`` units.

        At any width up to ``max_width`` it computes what the full model computes, from the
        same initial weights, with less padding (see :func:`course.engine.sweep.sweep`).
        """
        return dataclasses.replace(
            self,
            hidden=tuple(min(h, max_width) for h in self.hidden),
            draw_hidden=self.draw_hidden or self.hidden,
        )

    @property
    def sizes(self) -> tuple[int, ...]:
        """All layer sizes including input and output."""
        return (self.n_in, *self.hidden, self.n_out)

    def masks(self, width: Any) -> list[jax.Array]:
        """Unit masks of the input, every hidden layer and the output."""
        return [
            unit_mask(s, None if i in (0, len(self.sizes) - 1) else width)
            for i, s in enumerate(self.sizes)
        ]

    def active_sizes(self, width: Any) -> list[Any]:
        """Active units per layer (traced-friendly)."""
        return [
            s if (i in (0, len(self.sizes) - 1) or width is None) else jnp.minimum(width, s)
            for i, s in enumerate(self.sizes)
        ]

    def init(self, *, key: jax.Array, width: Any = None) -> Params:
        """Weights drawn as ``init_scheme`` says, zero biases; padded units are zero."""
        check_key("key", key)
        width = _check_width(width, self.max_width or 1)
        masks, active = self.masks(width), self.active_sizes(width)
        params = []
        keys = jax.random.split(key, len(self.sizes) - 1)
        drawn = (self.n_in, *(self.draw_hidden or self.hidden), self.n_out)
        for i, k in enumerate(keys):
            std = init_std(self.init_scheme, active[i], active[i + 1])
            w = jax.random.normal(k, (drawn[i], drawn[i + 1]))[: self.sizes[i], : self.sizes[i + 1]]
            w = w * std * masks[i][:, None] * masks[i + 1][None, :]
            params.append({"w": w, "b": jnp.zeros((self.sizes[i + 1],))})
        return params

    def apply(
        self, params: Params, x: jax.Array, *, width: Any = None, dropout: Any = 0.0, key=None
    ) -> jax.Array:
        """Outputs (batch, n_out) for inputs (batch, n_in) (or (batch, ...) flattened)."""
        width = _check_width(width, self.max_width or 1)
        dropout_rate = _check_dropout(dropout)
        act = ACTIVATIONS[self.activation]
        h = x.reshape(x.shape[0], -1)  # (batch, n_in)
        masks = self.masks(width)
        keys = _dropout_keys(key, len(params))
        for i, layer in enumerate(params[:-1]):
            h = (
                act(dense(h, layer["w"]) + layer["b"][None, :]) * masks[i + 1][None, :]
            )  # (batch, hidden[i])
            h = apply_dropout(h, dropout_rate, keys[i])
        return dense(h, params[-1]["w"]) + params[-1]["b"][None, :]  # (batch, n_out)

    def n_params(self, width: Any = None) -> int:
        """Number of active weights and biases at ``width``."""
        sizes = [
            s if (i in (0, len(self.sizes) - 1) or width is None) else min(int(width), s)
            for i, s in enumerate(self.sizes)
        ]
        return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def _check_channels(channels: Any) -> None:
    if not isinstance(channels, tuple) or not channels:
        raise TypeError(f"channels must be a non-empty tuple of ints, got {channels!r}")
    for i, c in enumerate(channels):
        check_int(f"channels[{i}]", c, 1)


def _conv_stack_init(
    key: jax.Array,
    channels: tuple[int, ...],
    window: tuple[int, ...],
    positions: int,
    n_out: int,
    width: Any,
) -> Params:
    """Kernels (*window, c_in, c) for each layer and a dense read-out of ``positions`` × c.

    Glorot scales with fans counted over the active channels; masked channels are zero.
    """
    keys = jax.random.split(key, len(channels) + 1)
    taps = int(np.prod(window))
    lead = (1,) * len(window)
    params, c_in, m_in, fan_c = [], 1, jnp.ones((1,)), 1
    for k, c in zip(keys[:-1], channels, strict=True):
        m = unit_mask(c, width)
        fan_out = c if width is None else jnp.minimum(width, c)
        w = jax.random.normal(k, (*window, c_in, c)) * init_std(
            "glorot", taps * fan_c, taps * fan_out
        )
        w = w * m_in.reshape(*lead, -1, 1) * m.reshape(*lead, 1, -1)
        params.append({"w": w, "b": jnp.zeros((c,))})
        c_in, m_in, fan_c = c, m, fan_out
    std = init_std("glorot", positions * fan_c, n_out)
    dense_layer = _dense_init(keys[-1], positions * c_in, n_out, std)
    dense_layer["w"] = dense_layer["w"] * jnp.tile(m_in, positions)[:, None]
    params.append(dense_layer)
    return params


@dataclasses.dataclass(frozen=True)
class CNN1D:
    """1-D convolutional network for MNIST-1D-like signals.

    ``len(channels)`` layers of (kernel-``kernel`` cross-correlation, stride ``stride``,
    ReLU), then a dense layer to ``n_out``.  ``width`` masks every layer's channels.

    Attributes:
        length: input length (40 for MNIST-1D).
        channels: maximum channels of each convolutional layer.
        n_out: outputs.
        kernel: kernel size.
        stride: stride of each convolution.
    """

    length: int
    channels: tuple[int, ...] = (25, 25, 25)
    n_out: int = 10
    kernel: int = 5
    stride: int = 2

    weight_names = ("w",)
    bias_names = ("b",)
    takes_dropout = True

    def __post_init__(self) -> None:
        check_int("length", self.length, 2)
        check_int("kernel", self.kernel, 1, self.length)
        check_int("stride", self.stride, 1)
        check_int("n_out", self.n_out, 1)
        _check_channels(self.channels)
        if self.out_lengths[-1] < 1:
            raise ValueError(
                f"{len(self.channels)} layers of kernel {self.kernel}, stride {self.stride} "
                f"do not fit an input of length {self.length}"
            )

    @property
    def out_lengths(self) -> list[int]:
        """Length of the signal after each convolution."""
        lengths, n = [], self.length
        for _ in self.channels:
            n = (n - self.kernel) // self.stride + 1
            lengths.append(n)
        return lengths

    @property
    def max_width(self) -> int:
        """The width knob's maximum: the most channels of any layer."""
        return max(self.channels)

    def init(self, *, key: jax.Array, width: Any = None) -> Params:
        """Glorot-initialised kernels, zero biases; masked channels are zero."""
        check_key("key", key)
        width = _check_width(width, self.max_width)
        return _conv_stack_init(
            key, self.channels, (self.kernel,), self.out_lengths[-1], self.n_out, width
        )

    def apply(
        self, params: Params, x: jax.Array, *, width: Any = None, dropout: Any = 0.0, key=None
    ) -> jax.Array:
        """Logits (batch, n_out) for signals (batch, length); dropout after each layer."""
        width = _check_width(width, self.max_width)
        rate = _check_dropout(dropout)
        keys = _dropout_keys(key, len(self.channels))
        h = x[:, :, None]  # (batch, length, 1)
        for layer, c, k in zip(params[:-1], self.channels, keys, strict=True):
            h = jax.nn.relu(conv1d(h, layer["w"], self.stride) + layer["b"][None, None, :])
            h = h * unit_mask(c, width)[None, None, :]  # (batch, L', c)
            h = apply_dropout(h, rate, k)
        h = h.reshape(h.shape[0], -1)  # (batch, L' * c)
        return dense(h, params[-1]["w"]) + params[-1]["b"][None, :]

    def n_params(self, width: Any = None) -> int:
        """Number of active parameters at ``width``."""
        cs = [c if width is None else min(int(width), c) for c in self.channels]
        total, c_in = 0, 1
        for c in cs:
            total += self.kernel * c_in * c + c
            c_in = c
        return total + (self.out_lengths[-1] * c_in + 1) * self.n_out


@dataclasses.dataclass(frozen=True)
class CNN2D:
    """2-D convolutional network for small images (e.g. 8×8 digits).

    Each block: 3×3 cross-correlation with zero padding 1 (same size), ReLU, 2×2 max
    pool; then a dense layer to ``n_out``.  ``width`` masks every block's channels.

    Attributes:
        size: (height, width) of the input images.
        channels: maximum channels of each block.
        n_out: outputs.
    """

    size: tuple[int, int] = (8, 8)
    channels: tuple[int, ...] = (16, 32)
    n_out: int = 10

    weight_names = ("w",)
    bias_names = ("b",)
    takes_dropout = True

    def __post_init__(self) -> None:
        if not isinstance(self.size, tuple) or len(self.size) != 2:
            raise TypeError(f"size must be a (height, width) tuple, got {self.size!r}")
        check_int("size[0]", self.size[0], 1)
        check_int("size[1]", self.size[1], 1)
        check_int("n_out", self.n_out, 1)
        _check_channels(self.channels)
        h, w = self.out_size
        if h < 1 or w < 1:
            raise ValueError(
                f"{len(self.channels)} pooling blocks do not fit images of {self.size}"
            )

    @property
    def out_size(self) -> tuple[int, int]:
        """Spatial size after all blocks."""
        h, w = self.size
        for _ in self.channels:
            h, w = h // 2, w // 2
        return h, w

    @property
    def max_width(self) -> int:
        """The width knob's maximum: the most channels of any block."""
        return max(self.channels)

    def init(self, *, key: jax.Array, width: Any = None) -> Params:
        """Glorot-initialised kernels, zero biases; masked channels are zero."""
        check_key("key", key)
        width = _check_width(width, self.max_width)
        oh, ow = self.out_size
        return _conv_stack_init(key, self.channels, (3, 3), oh * ow, self.n_out, width)

    def apply(
        self, params: Params, x: jax.Array, *, width: Any = None, dropout: Any = 0.0, key=None
    ) -> jax.Array:
        """Logits (batch, n_out) for images (batch, height, width); dropout after each block."""
        width = _check_width(width, self.max_width)
        rate = _check_dropout(dropout)
        keys = _dropout_keys(key, len(self.channels))
        h = x.reshape(x.shape[0], *self.size)[..., None]  # (batch, H, W, 1)
        for layer, c, k in zip(params[:-1], self.channels, keys, strict=True):
            z = conv2d(h, layer["w"], padding="same") + layer["b"][None, None, None, :]
            h = jax.nn.relu(z) * unit_mask(c, width)[None, None, None, :]
            h = pool2d(h, 2)  # (batch, H/2, W/2, c)
            h = apply_dropout(h, rate, k)
        h = h.reshape(h.shape[0], -1)
        return dense(h, params[-1]["w"]) + params[-1]["b"][None, :]

    def n_params(self, width: Any = None) -> int:
        """Number of active parameters at ``width``."""
        cs = [c if width is None else min(int(width), c) for c in self.channels]
        total, c_in = 0, 1
        for c in cs:
            total += 9 * c_in * c + c
            c_in = c
        oh, ow = self.out_size
        return total + (oh * ow * c_in + 1) * self.n_out


RNN_CELLS = ("vanilla", "gru")
RNN_READOUTS = ("every", "last")
RNN_INPUTS = ("symbols", "values")


@dataclasses.dataclass(frozen=True)
class RNN:
    """Recurrent network: input projection, one recurrent layer, a readout.

    ``vanilla`` (Elman 1990): h_t = tanh(x_t W + h_{t-1} U + b).
    ``gru`` (Cho et al. 2014): update gate z, reset gate r, candidate
    n = tanh(x_t W + b + r * (h_{t-1} U)) — the reset gate after the product, as cuDNN and
    PyTorch do it (without their second bias inside); Cho et al. apply it before;
    h_t = (1 - z) * n + z * h_{t-1}.  Both start from h_0 = 0 and run as one ``lax.scan``
    over time, so ``jax.grad`` of a loss through them is backpropagation through time.

    Attributes:
        vocab: input symbols (``inputs="symbols"``: x holds ids, row v of ``w_in`` is the
            embedding of symbol v) or input features per step (``inputs="values"``: x is
            (batch, time) for one feature or (batch, time, vocab)).
        hidden: maximum hidden units; ``width`` masks them.
        cell: ``"vanilla"`` or ``"gru"``.
        n_out: outputs (defaults to ``vocab``: next-symbol prediction).
        readout: ``"every"`` step (logits (batch, time, n_out): a language model) or the
            ``"last"`` step only (logits (batch, n_out): one label per sequence).
        inputs: ``"symbols"`` or ``"values"`` (see ``vocab``).
        recurrent_scale: the recurrent weights start as N(0, scale²/width): by the circular
            law their spectral radius is about ``scale`` (1 by default).
        input_scale: the input weights start as N(0, scale²) (1 by default); small values
            keep the state near tanh's linear range.
    """

    vocab: int
    hidden: int = 64
    cell: str = "vanilla"
    n_out: int | None = None
    readout: str = "every"
    inputs: str = "symbols"
    recurrent_scale: float = 1.0
    input_scale: float = 1.0

    weight_names = ("w_in", "w_rec", "w_out")
    bias_names = ("b", "b_out")
    takes_dropout = True

    def __post_init__(self) -> None:
        check_choice("inputs", self.inputs, RNN_INPUTS)
        check_int("vocab", self.vocab, 2 if self.inputs == "symbols" else 1)
        check_int("hidden", self.hidden, 1)
        check_choice("cell", self.cell, RNN_CELLS)
        check_choice("readout", self.readout, RNN_READOUTS)
        check_float("recurrent_scale", self.recurrent_scale, 0.0, 10.0, lo_open=True)
        check_float("input_scale", self.input_scale, 0.0, 10.0, lo_open=True)
        if self.n_out is not None:
            check_int("n_out", self.n_out, 1)

    @property
    def max_width(self) -> int:
        """The width knob's maximum: hidden units."""
        return self.hidden

    @property
    def outputs(self) -> int:
        """Outputs per time step."""
        return self.vocab if self.n_out is None else self.n_out

    def init(self, *, key: jax.Array, width: Any = None) -> Params:
        """Input, recurrent and readout weights; masked units are zero."""
        check_key("key", key)
        width = _check_width(width, self.max_width)
        gates = 3 if self.cell == "gru" else 1
        m = unit_mask(self.hidden, width)
        active = self.hidden if width is None else jnp.minimum(width, self.hidden)
        k_in, k_rec, k_out = jax.random.split(key, 3)
        hm = jnp.tile(m, gates)
        w_in = jax.random.normal(k_in, (self.vocab, gates * self.hidden)) * hm[None, :]
        w_in = w_in * self.input_scale
        w_rec = jax.random.normal(k_rec, (self.hidden, gates * self.hidden)) / jnp.sqrt(active)
        w_rec = w_rec * self.recurrent_scale
        w_out = jax.random.normal(k_out, (self.hidden, self.outputs)) / jnp.sqrt(active)
        return {
            "w_in": w_in,  # (vocab, gates*hidden): symbol v's embedding, or feature v's weights
            "w_rec": w_rec * m[:, None] * hm[None, :],
            "b": jnp.zeros((gates * self.hidden,)),
            "w_out": w_out * m[:, None],
            "b_out": jnp.zeros((self.outputs,)),
        }

    def hidden_states(self, params: Params, x: jax.Array, *, width: Any = None) -> jax.Array:
        """Hidden states (batch, time, hidden) for a batch of sequences (see ``vocab``)."""
        m = unit_mask(self.hidden, width)
        inputs = self.project(params, x)  # (batch, time, gates*hidden)
        h0 = jnp.zeros((x.shape[0], self.hidden))

        def step(h: jax.Array, u: jax.Array) -> tuple[jax.Array, jax.Array]:
            h = self.step(params, h, u, mask=m[None, :])
            return h, h

        _, hs = jax.lax.scan(step, h0, jnp.swapaxes(inputs, 0, 1))
        return jnp.swapaxes(hs, 0, 1)

    def project(self, params: Params, x: jax.Array) -> jax.Array:
        """Every step's input term u_t = x_t W + b, (batch, time, gates*hidden)."""
        if self.inputs == "symbols":
            projected = params["w_in"][x]  # row x_t of W: the symbol's embedding
        else:
            values = x[..., None] if x.ndim == 2 else x  # (batch, time, vocab)
            projected = values.astype(params["w_in"].dtype) @ params["w_in"]
        return projected + params["b"][None, None, :]

    def step(self, params: Params, h: jax.Array, u: jax.Array, *, mask: jax.Array) -> jax.Array:
        """One step of the cell: h_{t-1} (batch, hidden) and u_t = x_t W + b → h_t.

        ``mask`` (1, hidden) zeroes the units beyond the width.
        """
        if self.cell == "vanilla":
            return jnp.tanh(u + h @ params["w_rec"]) * mask
        hh = self.hidden
        rec = h @ params["w_rec"]  # (batch, 3*hidden)
        z = jax.nn.sigmoid(u[..., :hh] + rec[..., :hh])  # update gate: how much of h to keep
        r = jax.nn.sigmoid(u[..., hh : 2 * hh] + rec[..., hh : 2 * hh])  # reset gate
        n = jnp.tanh(u[..., 2 * hh :] + r * rec[..., 2 * hh :])  # candidate
        return ((1 - z) * n + z * h) * mask

    def apply(
        self, params: Params, x: jax.Array, *, width: Any = None, dropout: Any = 0.0, key=None
    ) -> jax.Array:
        """Logits (batch, time, n_out), or (batch, n_out) with ``readout="last"``.

        Dropout acts on the hidden states on their way to the readout, not on the
        recurrent connection (Zaremba, Sutskever & Vinyals 2014).
        """
        width = _check_width(width, self.max_width)
        rate = _check_dropout(dropout)
        hs = self.hidden_states(params, x, width=width)  # (batch, time, hidden)
        if self.readout == "last":
            hs = hs[:, -1]  # (batch, hidden)
        hs = apply_dropout(hs, rate, key)
        bias = params["b_out"].reshape((1,) * (hs.ndim - 1) + (-1,))
        return hs @ params["w_out"] + bias

    def n_params(self, width: Any = None) -> int:
        """Number of active parameters at ``width``."""
        h = self.hidden if width is None else min(int(width), self.hidden)
        g = 3 if self.cell == "gru" else 1
        return self.vocab * g * h + h * g * h + g * h + h * self.outputs + self.outputs


def gan_pair(
    *, latent: int = 2, hidden: int = 64, data_dim: int = 2, depth: int = 2
) -> tuple[MLP, MLP]:
    """A small generator (latent → data) and discriminator (data → 1 logit), both MLPs."""
    check_int("latent", latent, 1)
    check_int("hidden", hidden, 1)
    check_int("data_dim", data_dim, 1)
    check_int("depth", depth, 1, 8)
    generator = MLP(latent, (hidden,) * depth, data_dim, "relu")
    discriminator = MLP(data_dim, (hidden,) * depth, 1, "relu")
    return generator, discriminator


MODELS = {"linear": Linear, "mlp": MLP, "cnn1d": CNN1D, "cnn2d": CNN2D, "rnn": RNN}
