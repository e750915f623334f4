"""Chapter 03: backpropagation written by hand, checked, costed, and watched vanish.

For an MLP with pre-activations ``z_l = a_{l-1} W_l + b_l`` and activations
``a_l = σ(z_l)`` (the last layer linear), one scalar loss L and the chain rule give

* the error signal of the output layer, ``δ_L = ∂L/∂z_L`` (softmax − one-hot, over the batch);
* the recursion ``δ_{l-1} = (δ_l W_lᵀ) ⊙ σ'(z_{l-1})``;
* the gradients ``∂L/∂W_l = a_{l-1}ᵀ δ_l`` and ``∂L/∂b_l = Σ_batch δ_l``.

:func:`backward` implements exactly that, without autodiff; the tests and the
chapter compare it with ``jax.grad`` (float64) and with finite differences.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import data as datasets
from course.engine.checks import check_choice, check_int
from course.engine.memo import on_disk
from course.engine.models import MLP, init_std
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

Params = list[dict[str, jax.Array]]

DERIVATIVES = {
    "sigmoid": lambda z: jax.nn.sigmoid(z) * (1 - jax.nn.sigmoid(z)),
    "tanh": lambda z: 1 - jnp.tanh(z) ** 2,
    "relu": lambda z: (z > 0).astype(z.dtype),
}
ACT = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}


def forward(params: Params, x: jax.Array, activation: str) -> tuple[jax.Array, dict]:
    """Logits and the cache the backward pass needs (inputs a_{l-1} and pre-activations z_l)."""
    act = ACT[check_choice("activation", activation, ACT)]
    a, inputs, zs = x, [], []
    for i, layer in enumerate(params):
        inputs.append(a)
        z = a @ layer["w"] + layer["b"][None, :]  # (batch, n_out)
        zs.append(z)
        a = z if i == len(params) - 1 else act(z)
    return a, {"inputs": inputs, "zs": zs}


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy: the one scalar loss of the network."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def backward(
    params: Params, cache: dict, logits: jax.Array, y: jax.Array, activation: str
) -> tuple[Params, list[jax.Array]]:
    """Gradients of the mean cross-entropy by the δ recursion; also returns every δ_l."""
    deriv = DERIVATIVES[activation]
    batch = logits.shape[0]
    delta = (jax.nn.softmax(logits, axis=-1) - jax.nn.one_hot(y, logits.shape[-1])) / batch
    grads: list[dict[str, jax.Array]] = [{} for _ in params]
    deltas = [delta]
    for i in range(len(params) - 1, -1, -1):
        grads[i] = {
            "w": cache["inputs"][i].T @ delta,  # a_{l-1}ᵀ δ_l   (n_in, n_out)
            "b": delta.sum(axis=0),
        }  # Σ_batch δ_l     (n_out,)
        if i > 0:
            delta = (delta @ params[i]["w"].T) * deriv(cache["zs"][i - 1])  # δ_{l-1}
            deltas.insert(0, delta)
    return grads, deltas


def loss_and_grads(
    params: Params, x: jax.Array, y: jax.Array, activation: str
) -> tuple[jax.Array, Params, list[jax.Array]]:
    """Loss, hand-written gradients and error signals in one forward and one backward pass."""
    logits, cache = forward(params, x, activation)
    grads, deltas = backward(params, cache, logits, y, activation)
    return cross_entropy(logits, y), grads, deltas


def autodiff_grads(params: Params, x: jax.Array, y: jax.Array, activation: str) -> Params:
    """The same gradients from ``jax.grad`` (the reference)."""
    return jax.grad(lambda p: cross_entropy(forward(p, x, activation)[0], y))(params)


def deltas_by_autodiff(
    params: Params, x: jax.Array, y: jax.Array, activation: str
) -> list[jax.Array]:
    """∂L/∂z_l for every layer, by jax.grad with respect to a perturbation added to each z_l."""
    act = ACT[activation]

    def loss(shifts: list[jax.Array]) -> jax.Array:
        a = x
        for i, (layer, s) in enumerate(zip(params, shifts, strict=True)):
            z = a @ layer["w"] + layer["b"][None, :] + s
            a = z if i == len(params) - 1 else act(z)
        return cross_entropy(a, y)

    shapes = [jnp.zeros((x.shape[0], layer["w"].shape[1]), x.dtype) for layer in params]
    return jax.grad(loss)(shapes)


def finite_difference(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    activation: str,
    *,
    key: jax.Array,
    eps: float = 1e-5,
) -> tuple[float, float]:
    """(directional derivative by central differences, the same from the hand-written gradient)."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    direction = jax.tree.unflatten(
        tree, [jax.random.normal(k, p.shape, p.dtype) for k, p in zip(keys, leaves, strict=True)]
    )

    def loss_at(t: float) -> float:
        moved = jax.tree.map(lambda p, d: p + t * d, params, direction)
        return float(cross_entropy(forward(moved, x, activation)[0], y))

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    _, grads, _ = loss_and_grads(params, x, y, activation)
    analytic = float(
        sum(
            jnp.sum(g * d)
            for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction), strict=True)
        )
    )
    return numeric, analytic


# ---- cost ------------------------------------------------------------------------------------


def matmul_flops(sizes: tuple[int, ...], batch: int) -> tuple[int, int]:
    """Multiply-add FLOPs (×2) of the forward and backward passes' matrix products.

    Forward: x·W per layer.  Backward: aᵀ·δ per layer (weight gradient) and δ·Wᵀ per layer
    but the first (the input needs no gradient) — hence backward ≈ 2 × forward.
    """
    per_layer = [2 * batch * a * b for a, b in itertools.pairwise(sizes)]
    return sum(per_layer), 2 * sum(per_layer) - per_layer[0]


def _loss_program(
    sizes: tuple[int, ...], batch: int, activation: str = "relu"
) -> tuple[Params, Any, jax.Array]:
    """An MLP's parameters, its mean cross-entropy on a fixed batch, and that batch's inputs."""
    model = MLP(sizes[0], tuple(sizes[1:-1]), sizes[-1], activation)
    params = model.init(key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (batch, sizes[0]))  # (batch, n_in)
    y = jnp.zeros((batch,), jnp.int32)

    def loss(p: Params) -> jax.Array:
        return cross_entropy(forward(p, x, activation)[0], y)

    return params, loss, x


def _compiled(fn: Any, params: Params) -> Any:
    return jax.jit(fn).lower(params).compile()


def xla_flops(sizes: tuple[int, ...], batch: int, activation: str = "relu") -> tuple[float, float]:
    """FLOPs XLA counts (cost analysis) for the forward pass and for loss + gradients."""
    params, loss, _ = _loss_program(sizes, batch, activation)

    def flops(fn: Any) -> float:
        analysis = _compiled(fn, params).cost_analysis()
        analysis = analysis[0] if isinstance(analysis, list) else analysis
        return float(analysis["flops"])

    fwd = flops(loss)
    both = flops(jax.value_and_grad(loss))
    return fwd, both - fwd


def wall_times(sizes: tuple[int, ...], batch: int, repeat: int = 20) -> tuple[float, float]:
    """Median wall time (s) of the jitted forward pass and of loss + gradients, after warm-up."""
    from course.engine.runtime import timeit

    params, loss, _ = _loss_program(sizes, batch)
    f, g = jax.jit(loss), jax.jit(jax.value_and_grad(loss))
    return (
        float(np.median(timeit(lambda: f(params), repeat=repeat))),
        float(np.median(timeit(lambda: g(params), repeat=repeat))),
    )


def working_memory(depths: Sequence[int], width: int = 256, batch: int = 1000) -> dict:
    """Scratch memory XLA allocates (its memory analysis) for loss alone and for its gradient.

    For ReLU MLPs 40 → width × depth → 10 on ``batch`` examples. The gradient program must
    keep what the backward pass reads — every layer's activations — so its scratch memory
    grows with depth; the forward pass can drop each activation once the next is computed.

    Returns the depths, the scratch bytes of both programs per depth, and the bytes of one
    layer's activations (batch × width float32).
    """
    forward_bytes, gradient_bytes = [], []
    for depth in depths:
        params, loss, _ = _loss_program((40, *([width] * depth), 10), batch)
        forward_bytes.append(_compiled(loss, params).memory_analysis().temp_size_in_bytes)
        gradient_bytes.append(
            _compiled(jax.grad(loss), params).memory_analysis().temp_size_in_bytes
        )
    return {
        "depths": list(depths),
        "forward": np.asarray(forward_bytes),
        "gradient": np.asarray(gradient_bytes),
        "activation": batch * width * 4,
    }


def signal_variance(
    depth: int, scheme: str, *, key: jax.Array, width: int = 256, batch: int = 512
) -> np.ndarray:
    """Variance of the pre-activations of each layer of a ReLU stack, input of variance 1.

    Weights are drawn with :func:`course.engine.models.init_std` (``he``, ``glorot`` or
    ``lecun``); the Glorot/He argument predicts how this variance changes from layer to layer.
    """
    k_x, k_w = jax.random.split(key)
    h = jax.random.normal(k_x, (batch, width))  # (batch, width)
    out = []
    for k in jax.random.split(k_w, depth):
        z = h @ (init_std(scheme, width, width) * jax.random.normal(k, (width, width)))
        out.append(float(jnp.var(z)))
        h = jax.nn.relu(z)
    return np.asarray(out)


# ---- vanishing gradients -----------------------------------------------------------------

DEPTHS = [2, 4, 8, 12, 16, 24]
WIDTHS = [16, 64, 256]
ACTIVATIONS = ("sigmoid", "tanh", "relu")
INIT = {"sigmoid": "glorot", "tanh": "glorot", "relu": "he"}
NORM_SEEDS = 4


@functools.lru_cache(maxsize=64)
def _norms_fn(depth: int, width: int, activation: str):
    model = MLP(40, (width,) * depth, 10, activation, init_scheme=INIT[activation])

    def norms(key: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
        params = model.init(key=key)
        _, grads, _ = loss_and_grads(params, x, y, activation)
        return jnp.stack([jnp.linalg.norm(g["w"]) for g in grads])  # (depth + 1,)

    # eager, not jitted: every depth reuses the same per-shape kernels, so nothing big compiles
    return jax.vmap(norms, in_axes=(0, None, None))


def gradient_norms(
    depth: int,
    width: int,
    activation: str,
    *,
    key: jax.Array,
    data: datasets.Dataset | None = None,
    batch: int = 256,
) -> np.ndarray:
    """‖∂L/∂W_l‖ for every layer at initialisation, per seed: (seeds, depth + 1)."""
    check_int("depth", depth, 1, 64)
    check_int("width", width, 1, 4096)
    check_choice("activation", activation, ACTIVATIONS)
    d = datasets.mnist1d() if data is None else data
    x, y = jnp.asarray(d.x_train[:batch]), jnp.asarray(d.y_train[:batch])
    keys = jax.random.split(key, NORM_SEEDS)
    return np.asarray(_norms_fn(depth, width, activation)(keys, x, y))


@dataclasses.dataclass
class NormGrid:
    """Per-layer gradient norms over activation × depth × width (layers padded with NaN)."""

    norms: np.ndarray  # (activation, depth, width, seed, max_depth + 1)

    def ratio(self, activation: str, depth: int, width: int) -> np.ndarray:
        """‖∂L/∂W_1‖ / ‖∂L/∂W_last‖ per seed: below 1 means the first layer learns slower."""
        n = self.norms[ACTIVATIONS.index(activation), DEPTHS.index(depth), WIDTHS.index(width)]
        return n[:, 0] / n[:, depth]


@on_disk
def norm_grid(*, key: jax.Array) -> NormGrid:
    """Gradient norms at initialisation for every activation × depth × width."""
    d = datasets.mnist1d()
    out = np.full((len(ACTIVATIONS), len(DEPTHS), len(WIDTHS), NORM_SEEDS, max(DEPTHS) + 1), np.nan)
    for a, act in enumerate(ACTIVATIONS):
        for i, depth in enumerate(DEPTHS):
            for j, width in enumerate(WIDTHS):
                out[a, i, j, :, : depth + 1] = gradient_norms(depth, width, act, key=key, data=d)
    return NormGrid(out)


def norms_figure(grid: NormGrid, values: dict[str, Any]) -> Figure:
    """Per-layer gradient norms (± seeds) and the first/last ratio against depth."""
    act, depth, width = values["activation"], values["depth"], values["width"]
    n = grid.norms[ACTIVATIONS.index(act), DEPTHS.index(depth), WIDTHS.index(width)]
    layers = np.arange(1, max(DEPTHS) + 2)
    logs = np.log10(n)
    mean_log = np.nanmean(np.where(np.isnan(logs), 0.0, logs), 0) / (~np.isnan(logs)).mean(0).clip(
        1e-9
    )
    mean_log[np.isnan(logs).all(0)] = np.nan
    per_layer = Lines(
        [band(10**mean_log, np.zeros(len(layers)), layers, f"{act}", markers=True)],
        title="gradient norm ‖∂loss/∂W‖ of each layer (at initialisation)",
        xlabel="layer l (1 = next to the input)",
        ylabel="norm",
        ylog=True,
        xlim=(0.5, max(DEPTHS) + 1.5),
        ylim=(1e-16, 1e2),
        legend=False,
    )
    j = WIDTHS.index(width)
    ratios = [
        Series(
            DEPTHS,
            [float(np.exp(np.mean(np.log(grid.ratio(a, dd, width))))) for dd in DEPTHS],
            a,
            markers=a == act,
            dashed=a != act,
        )
        for a in ACTIVATIONS
    ]
    by_depth = Lines(
        ratios,
        title=f"first / last layer, width {WIDTHS[j]}",
        xlabel="hidden layers",
        ylabel="ratio of gradient norms",
        ylog=True,
        xlim=(1, 26),
        ylim=(1e-16, 1e2),
        vline=float(depth),
        hline=1.0,
    )
    ratio = float(np.exp(np.mean(np.log(grid.ratio(act, depth, width)))))
    return Figure(
        [per_layer, by_depth],
        title=f"{act}, {depth} hidden layers of {width}: first/last = {ratio:.1e}",
        width=11,
        height=4,
    )


def norms_explorer(grid: NormGrid) -> Explorer:
    """Depth, width and activation over the precomputed gradient norms."""
    return Explorer(
        [
            dropdown("activation", list(ACTIVATIONS), label="activation", default="sigmoid"),
            slider("depth", DEPTHS, label="hidden layers", default=8),
            slider("width", WIDTHS, label="units per layer", default=64),
        ],
        view=lambda values, _: norms_figure(grid, values),
        lookup=lambda values: None,
        title="Vanishing gradients: depth, width, activation",
        note=f"{NORM_SEEDS} initialisations; a batch of 256 MNIST-1D signals; "
        "Glorot init for sigmoid/tanh, He init for ReLU.",
    )
