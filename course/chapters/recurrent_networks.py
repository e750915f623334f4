"""Chapter 08: recurrent networks — backpropagation through time, vanishing gradients, gates.

* :func:`bptt` — backpropagation through time for the vanilla RNN, written by hand in
  NumPy (float64); :func:`reference_check` compares it with ``jax.grad`` of the engine's
  own model (float64) and with finite differences.
* :func:`gradient_flow` — ‖∂h_T/∂h_t‖ against the distance T − t for a vanilla RNN whose
  recurrent matrix is rescaled to several spectral radii, and the fitted rate per step.
* :func:`recall_study` — remember the first symbol for L steps: a vanilla RNN and a GRU
  of about the same parameter count, accuracy against L.
* :func:`clipping_study` — the exploding side: SGD on a vanilla RNN started at radius
  :data:`CLIP_RADIUS`, with and without clipping the gradient's norm.
* :func:`language_study` — a character-level GRU language model on Python's own help
  text: held-out bits per character against hidden size and training characters, one
  vmapped sweep; :func:`sample` draws text from a trained model.
* :func:`sequence_duel` — MNIST-1D read one sample at a time by a GRU, against chapter 07's
  CNN and an MLP on the same split and budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import data as datasets
from course.engine import losses
from course.engine.memo import on_disk
from course.engine.models import RNN, unit_mask
from course.engine.runtime import stopwatch
from course.engine.sweep import SweepResult, sweep, sweep_point
from course.engine.train import TrainConfig
from course.ui.controls import dropdown
from course.ui.figures import Figure, Lines, Series, band
from course.ui.widgets import Explorer, slider

Params = dict[str, Any]

# ------------------------------------------------------------------- BPTT by hand


def forward(params: Params, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vanilla RNN forward pass in NumPy: hidden states (batch, T + 1, H) and logits.

    h_0 = 0; h_t = tanh(W_in[x_t] + b + h_{t−1} U); logits_t = h_t W_out + b_out.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    batch, steps = x.shape
    h = np.zeros((batch, steps + 1, p["w_rec"].shape[0]))  # h[:, 0] = h_0 = 0
    for t in range(steps):
        h[:, t + 1] = np.tanh(p["w_in"][x[:, t]] + p["b"] + h[:, t] @ p["w_rec"])
    logits = h[:, 1:] @ p["w_out"] + p["b_out"]  # (batch, T, vocab)
    return h, logits


def bptt(
    params: Params, x: np.ndarray, y: np.ndarray, *, through_time: bool = True
) -> tuple[float, Params]:
    """Loss and gradients of a vanilla RNN language model, by backpropagation through time.

    The loss 𝓛 is the engine's: cross-entropy averaged over every step of every sequence.
    With a_t the pre-activation (h_t = tanh a_t), the backward pass walks time in reverse:
    δ_t = ∂𝓛/∂a_t = (g_t + δ_{t+1} Uᵀ) ⊙ (1 − h_t²), where g_t = ∂ℓ_t/∂h_t is the direct
    term from step t's own output and δ_{t+1} Uᵀ the path from the future; every weight
    collects its gradient from every step.

    Args:
        params: the engine's RNN parameters (``w_in``, ``w_rec``, ``b``, ``w_out``, ``b_out``).
        x: symbol ids (batch, T).
        y: next-symbol targets (batch, T).
        through_time: False drops the path from the future (δ_{t+1} Uᵀ): the gradient of
            truncated BPTT with a window of one step — no longer the gradient of 𝓛.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    h, logits = forward(params, x)
    batch, steps = x.shape
    z = logits - logits.max(-1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(-1, keepdims=True)  # (batch, T, vocab)
    picked = np.take_along_axis(prob, y[..., None], -1)[..., 0]
    loss = float(-np.log(picked).mean())
    d_logits = prob.copy()
    np.put_along_axis(d_logits, y[..., None], np.take_along_axis(prob, y[..., None], -1) - 1, -1)
    d_logits /= batch * steps  # the mean over batch and time
    g = {k: np.zeros_like(v) for k, v in p.items()}
    g["w_out"] = np.einsum("bth,btv->hv", h[:, 1:], d_logits)
    g["b_out"] = d_logits.sum((0, 1))
    d_h_next = np.zeros((batch, p["w_rec"].shape[0]))  # δ from step t + 1 into h_t
    for t in reversed(range(steps)):
        d_h = d_logits[:, t] @ p["w_out"].T + d_h_next  # (batch, H)
        d_a = d_h * (1 - h[:, t + 1] ** 2)  # through tanh
        g["w_rec"] += h[:, t].T @ d_a
        g["b"] += d_a.sum(0)
        np.add.at(g["w_in"], x[:, t], d_a)  # the rows of the symbols seen at step t
        d_h_next = d_a @ p["w_rec"].T if through_time else np.zeros_like(d_a)
    return loss, g


def engine_loss(model: RNN, params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """The loss the engine trains: mean cross-entropy of ``model.apply``."""
    return jnp.mean(losses.cross_entropy(model.apply(params, x), y))


@dataclasses.dataclass
class ReferenceCheck:
    """Hand-written BPTT against jax.grad (float64) and central finite differences.

    Attributes:
        max_rel_autodiff: per parameter, max |ours − jax.grad| / max |jax.grad|.
        max_rel_numeric: per parameter, the same against finite differences (8 entries each).
        loss_diff: |our loss − the engine's loss|.
    """

    max_rel_autodiff: dict[str, float]
    max_rel_numeric: dict[str, float]
    loss_diff: float

    AUTODIFF_TOLERANCE = 1e-10  # float64 rounding over a few hundred operations
    NUMERIC_TOLERANCE = 1e-6  # central differences with ε = 1e-6: O(ε²) and rounding/ε


@on_disk
def reference_check(
    *,
    key: jax.Array,
    vocab: int = 7,
    hidden: int = 6,
    batch: int = 3,
    steps: int = 12,
    through_time: bool = True,
) -> ReferenceCheck:
    """Compare :func:`bptt` with ``jax.grad`` of the engine's RNN and finite differences.

    ``through_time=False`` checks the truncated backward pass instead (it must fail).
    """
    model = RNN(vocab, hidden)
    k_init, k_x, k_y, k_pick = jax.random.split(key, 4)
    x = np.asarray(jax.random.randint(k_x, (batch, steps), 0, vocab))
    y = np.asarray(jax.random.randint(k_y, (batch, steps), 0, vocab))
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), model.init(key=k_init))
        loss_fn = lambda p: engine_loss(model, p, jnp.asarray(x), jnp.asarray(y))  # noqa: E731
        auto = jax.tree.map(np.asarray, jax.grad(loss_fn)(params))
        engine_value = float(loss_fn(params))
    ours_loss, ours = bptt(params, x, y, through_time=through_time)
    numeric = {}
    eps = 1e-6
    for i, (name, value) in enumerate(sorted(ours.items())):
        flat = np.asarray(params[name], np.float64).ravel()
        k_entries = jax.random.fold_in(k_pick, i)
        n_picks = min(8, flat.size)
        picks = np.asarray(jax.random.choice(k_entries, flat.size, (n_picks,), replace=False))
        errs = []
        for j in picks:
            bumped = []
            for sign in (1, -1):
                q = {k: np.asarray(v, np.float64).copy() for k, v in params.items()}
                q[name].ravel()[j] += sign * eps  # a view: the copy's entry j moves
                bumped.append(bptt_loss_only(q, x, y))
            fd = (bumped[0] - bumped[1]) / (2 * eps)
            errs.append(abs(value.ravel()[j] - fd))
        numeric[name] = float(max(errs) / np.abs(value).max())
    return ReferenceCheck(
        max_rel_autodiff={
            k: float(np.abs(ours[k] - auto[k]).max() / np.abs(auto[k]).max()) for k in ours
        },
        max_rel_numeric=numeric,
        loss_diff=abs(ours_loss - engine_value),
    )


def bptt_loss_only(params: Params, x: np.ndarray, y: np.ndarray) -> float:
    """The loss of :func:`forward` (float64), for finite differences."""
    _, logits = forward(params, x)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, y[..., None], -1).mean())


# ------------------------------------------------------------------- gradient flow


def spectral_radius(w: Any) -> float:
    """The largest |eigenvalue| of a square matrix."""
    return float(np.abs(np.linalg.eigvals(np.asarray(w, np.float64))).max())


def step_jacobians(model: RNN, params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Hidden states (T, H) of one sequence and the Jacobians ∂h_t/∂h_{t−1}, (T, H, H)."""
    hs = model.hidden_states(params, x[None])[0]  # (T, H)
    h_prev = jnp.concatenate([jnp.zeros_like(hs[:1]), hs[:-1]])  # (T, H)
    u = model.project(params, x[None])[0]  # (T, gates*H)
    mask = unit_mask(model.hidden, None)

    def one(h: jax.Array, u_t: jax.Array) -> jax.Array:
        return model.step(params, h, u_t, mask=mask)

    return hs, jax.vmap(jax.jacrev(one))(h_prev, u)


def distance_norms(jacobians: np.ndarray) -> np.ndarray:
    """‖∂h_T/∂h_{T−d}‖₂ for d = 1 … T: the products of the step Jacobians from the end."""
    jac = np.asarray(jacobians, np.float64)
    product = np.eye(jac.shape[-1])
    norms = []
    for j in jac[::-1]:  # J_T, J_{T−1}, …
        product = product @ j  # ∂h_T/∂h_{t−1} = ∂h_T/∂h_t · ∂h_t/∂h_{t−1}
        norms.append(np.linalg.norm(product, 2))
    return np.asarray(norms)


def fitted_rate(norms: np.ndarray, skip: int = 5) -> float:
    """exp(slope) of log‖·‖ against distance, fitted past the first ``skip`` steps."""
    d = np.arange(1, len(norms) + 1)[skip:]
    return float(np.exp(np.polyfit(d, np.log(norms[skip:]), 1)[0]))


RADII = [0.5, 0.8, 0.9, 1.0, 1.25, 1.5]  # spectral radii of the recurrent matrix
INPUT_SCALES = {"small (× 0.1): near tanh's linear range": 0.1, "the default (× 1)": 1.0}
FLOW_HIDDEN = 64
FLOW_STEPS = 60  # T


@dataclasses.dataclass
class Flow:
    """‖∂h_T/∂h_t‖ for every radius and input scale.

    Attributes:
        norms: (input scale, radius) → norms at distances 1 … T, (T,).
        rates: (input scale, radius) → the fitted factor per step (:func:`fitted_rate`).
        mean_abs_h: (input scale, radius) → mean |h_t|: how far tanh is from linear.
    """

    norms: dict[tuple[float, float], np.ndarray]
    rates: dict[tuple[float, float], float]
    mean_abs_h: dict[tuple[float, float], float]


def flow_network(radius: float, input_scale: float, *, key: jax.Array) -> tuple[RNN, Params]:
    """A vanilla RNN whose recurrent matrix has exactly this spectral radius."""
    model = RNN(RECALL_VOCAB, FLOW_HIDDEN)
    params = dict(model.init(key=key))
    params["w_rec"] = params["w_rec"] * (radius / spectral_radius(params["w_rec"]))
    params["w_in"] = params["w_in"] * input_scale
    return model, params


def flow_point(radius: float, input_scale: float, *, key: jax.Array) -> tuple[np.ndarray, float]:
    """Norms at distances 1 … T and mean |h| for one radius and input scale."""
    k_net, k_x = jax.random.split(key)
    model, params = flow_network(radius, input_scale, key=k_net)
    x = jax.random.randint(k_x, (FLOW_STEPS,), 0, RECALL_VOCAB)
    hs, jac = step_jacobians(model, params, x)
    return distance_norms(jac), float(jnp.abs(hs).mean())


@on_disk
def gradient_flow(*, key: jax.Array, radii: Sequence[float] = RADII) -> Flow:
    """:func:`flow_point` for every radius and input scale; one network and sequence."""
    norms, rates, mean_h = {}, {}, {}
    for scale in INPUT_SCALES.values():
        for radius in radii:
            n, h = flow_point(radius, scale, key=key)  # same key: one network, rescaled
            norms[(scale, radius)], mean_h[(scale, radius)] = n, h
            rates[(scale, radius)] = fitted_rate(n)
    return Flow(norms, rates, mean_h)


# ------------------------------------------------------------------- memory over distance

RECALL_SYMBOLS = 8  # the message: one of 8 symbols, shown first
RECALL_DISTRACTORS = 4  # then L symbols drawn from 4 others
PAD = RECALL_SYMBOLS + RECALL_DISTRACTORS  # fills the front so every L has one length
RECALL_VOCAB = PAD + 1
RECALL_MAX = 40  # the longest distance: every sequence is RECALL_MAX + 1 symbols
RECALL_LENGTHS = [10, 20, 30, 40]
RECALL_HIDDEN = {"vanilla": 58, "gru": 32}  # 4648 and 4680 parameters
RECALL_SEEDS = 2
RECALL_TRAIN, RECALL_TEST = 2000, 500
SOLVED = 0.95  # test accuracy that counts as remembering (chance: 1/8)
RECALL_COLORS = {"vanilla": "#d62728", "gru": "#1f77b4"}


def recall_data(distance: int, *, key: jax.Array) -> datasets.Dataset:
    """Sequences ``pad … pad, message, d_1 … d_L``; the label is the message.

    The message is one of :data:`RECALL_SYMBOLS` symbols; the L symbols after it are
    distractors the network must read and not let overwrite what it holds. Padding in
    front gives every distance the same length, so one compiled program serves all.
    """
    if not 1 <= int(distance) <= RECALL_MAX:
        raise ValueError(f"distance must be in [1, {RECALL_MAX}], got {distance}")
    k_train, k_test = jax.random.split(key)

    def make(k: jax.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
        k_msg, k_dis = jax.random.split(k)
        msg = np.asarray(jax.random.randint(k_msg, (n,), 0, RECALL_SYMBOLS))
        dis = np.asarray(jax.random.randint(k_dis, (n, distance), RECALL_SYMBOLS, PAD))
        pad = np.full((n, RECALL_MAX - distance), PAD)
        return np.concatenate([pad, msg[:, None], dis], 1).astype(np.int32), msg.astype(np.int32)

    x, y = make(k_train, RECALL_TRAIN)
    xt, yt = make(k_test, RECALL_TEST)
    return datasets.Dataset(x, y, xt, yt, name=f"recall after {distance}",
                            task="classification", n_classes=RECALL_SYMBOLS)  # fmt: skip


def recall_config(cell: str) -> TrainConfig:
    """The cell at :data:`RECALL_HIDDEN` units, read out once at the end, Adam."""
    model = RNN(RECALL_VOCAB, RECALL_HIDDEN[cell], cell, n_out=RECALL_SYMBOLS, readout="last")
    return TrainConfig(model, steps=1000, batch_size=64, n_logs=10, lr=3e-3, keep_params=True)


@dataclasses.dataclass
class Recall:
    """Test accuracy of each cell at each distance.

    Attributes:
        results: (cell, L) → the sweep (axes seed, n_train; final parameters kept).
        key: the training key (seed i: ``split(key, RECALL_SEEDS)[i]``).
        data_key: the key the data sets were drawn with.
    """

    results: dict[tuple[str, int], SweepResult]
    key: jax.Array
    data_key: jax.Array

    def accuracy(self, cell: str) -> np.ndarray:
        """Final test accuracy, (seed, L)."""
        return np.stack([self.results[(cell, d)].final("test_acc")[:, 0]
                         for d in RECALL_LENGTHS], 1)  # fmt: skip

    def longest_solved(self, cell: str) -> int:
        """The largest L up to which every distance reaches :data:`SOLVED` (seed mean); 0: none."""
        solved = self.accuracy(cell).mean(0) >= SOLVED
        upto = int(np.argmin(solved)) if not solved.all() else len(solved)
        return RECALL_LENGTHS[upto - 1] if upto else 0


@on_disk
def recall_study(*, key: jax.Array) -> Recall:
    """Both cells at every distance, the same seeds and data for both."""
    k_data, k_train = jax.random.split(key)
    results = {}
    for d in RECALL_LENGTHS:
        pool = recall_data(d, key=jax.random.fold_in(k_data, d))
        for cell in RECALL_HIDDEN:
            results[(cell, d)] = sweep(recall_config(cell), pool, key=k_train,  # same key: paired
                                       seeds=RECALL_SEEDS, n_trains=[RECALL_TRAIN],
                                       progress=False)  # fmt: skip
    return Recall(results, k_train, k_data)


# ------------------------------------------------------------------- clipping on the exploding side

CLIP_RADIUS = 1.5  # recurrent weights start at about this spectral radius ...
CLIP_INPUTS = 0.1  # ... with small input weights: the regime where gradients grow
CLIP_DISTANCE = 10
CLIP_SEEDS = 4
CLIP_NORM = 1.0
CLIP_LR = 0.1
CLIP_CONTROL_LR = 0.01  # plain SGD with steps ten times shorter
CHANCE_LOSS = float(np.log(RECALL_SYMBOLS))  # cross-entropy of a uniform guess


def clip_config(clip_norm: float | None, lr: float = CLIP_LR) -> TrainConfig:
    """Plain SGD on a vanilla RNN started on the exploding side, clipped or not."""
    model = RNN(RECALL_VOCAB, RECALL_HIDDEN["vanilla"], n_out=RECALL_SYMBOLS, readout="last",
                recurrent_scale=CLIP_RADIUS, input_scale=CLIP_INPUTS)  # fmt: skip
    return TrainConfig(model, optimizer="sgd", steps=400, batch_size=64, n_logs=8, lr=lr,
                       clip_norm=clip_norm)  # fmt: skip


@dataclasses.dataclass
class Clipping:
    """Training loss curves with and without clipping.

    Attributes:
        results: "plain", "clipped" and "plain, small steps" (lr CLIP_CONTROL_LR) → the
            sweep (axes seed, n_train).
    """

    results: dict[str, SweepResult]

    def final_loss(self, name: str) -> np.ndarray:
        """Final training loss per seed."""
        return self.results[name].final("train_loss")[:, 0]

    def test_accuracy(self, name: str) -> np.ndarray:
        """Final test accuracy per seed."""
        return self.results[name].final("test_acc")[:, 0]


@on_disk
def clipping_study(*, key: jax.Array) -> Clipping:
    """The same SGD runs (same seeds, same batches), three ways.

    Clipped to norm 1, not clipped, and not clipped with ten times shorter steps (the
    control: is clipping just a smaller step?).
    """
    k_data, k_train = jax.random.split(key)
    pool = recall_data(CLIP_DISTANCE, key=k_data)
    variants = {"plain": (None, CLIP_LR), "clipped": (CLIP_NORM, CLIP_LR),
                "plain, small steps": (None, CLIP_CONTROL_LR)}  # fmt: skip
    results = {name: sweep(clip_config(c, lr), pool, key=k_train, seeds=CLIP_SEEDS,  # same key
                           n_trains=[RECALL_TRAIN], progress=False)
               for name, (c, lr) in variants.items()}  # fmt: skip
    return Clipping(results)


# ------------------------------------------------------------------- a character language model

LM_WIDTHS = [16, 32, 64]  # GRU hidden units (the width knob)
LM_WINDOWS = [50, 200, 800, 3200]  # training windows of LM_LENGTH characters
LM_LENGTH = 32
LM_TEST = 500  # held-out windows, from the last 10 % of the text
LM_SEEDS = 2
LM_CONFIG = TrainConfig(RNN(96, max(LM_WIDTHS), "gru"), steps=600, batch_size=32, n_logs=4,
                        lr=3e-3, keep_params=True)  # fmt: skip
BITS = 1 / np.log(2)  # nats → bits


def lm_data() -> tuple[datasets.Dataset, datasets.Corpus]:
    """Windows of Python's help text; the model's vocabulary is the corpus's."""
    d, corpus = datasets.text(seq_len=LM_LENGTH, n_train=max(LM_WINDOWS), n_test=LM_TEST)
    return d, corpus


def lm_config(vocab: int) -> TrainConfig:
    """:data:`LM_CONFIG` with the corpus's vocabulary size."""
    model = dataclasses.replace(LM_CONFIG.model, vocab=vocab)
    return dataclasses.replace(LM_CONFIG, model=model)


@dataclasses.dataclass
class Language:
    """The language-model sweep over hidden size × training characters × seed.

    Attributes:
        result: the sweep (axes seed, n_train in windows, width).
        vocab: the corpus's characters.
        key: the training key.
    """

    result: SweepResult
    vocab: str
    key: jax.Array

    @property
    def chars(self) -> np.ndarray:
        """Training characters at each n_train."""
        return np.asarray(LM_WINDOWS) * LM_LENGTH

    def bits(self, split: str = "test") -> np.ndarray:
        """Final bits per character, (seed, n_train, width)."""
        return self.result.final(f"{split}_loss") * BITS


@on_disk
def language_study(*, key: jax.Array) -> Language:
    """One vmapped sweep: every hidden size × training size × seed."""
    d, corpus = lm_data()
    result = sweep(lm_config(len(corpus.vocab)), d, key=key, seeds=LM_SEEDS, n_trains=LM_WINDOWS,
                   widths=LM_WIDTHS, width_buckets=None, progress=False)  # fmt: skip
    return Language(result, corpus.vocab, key)  # same key: kept for retraining live


# ------------------------------------------------------------------- MNIST-1D as a sequence

DUEL_TRAINS = [1000, 4000]
DUEL_SEEDS = 2
GRU_SEQUENCE = RNN(1, 48, "gru", n_out=10, readout="last", inputs="values")


def duel_configs() -> dict[str, TrainConfig]:
    """The GRU (one sample per step), chapter 07's CNN and MLP: one budget for all three."""
    from course.chapters import convolutional_networks as ch07

    cnn = ch07.cnn_config(max(ch07.KERNELS))
    return {
        "GRU": dataclasses.replace(cnn, model=GRU_SEQUENCE),
        "CNN": cnn,
        "MLP": ch07.MLP_CONFIG,
    }


@dataclasses.dataclass
class SequenceDuel:
    """Test error of the three networks on MNIST-1D.

    Attributes:
        errors: name → final test error, (seed, n_train).
        params: name → parameter count.
        seconds: name → wall time of the sweep (compile included).
    """

    errors: dict[str, np.ndarray]
    params: dict[str, int]
    seconds: dict[str, float]


@on_disk
def sequence_duel(*, key: jax.Array) -> SequenceDuel:
    """Every network on the same split, seeds and step budget."""
    d = datasets.mnist1d()
    errors, params, seconds = {}, {}, {}
    for name, config in duel_configs().items():
        with stopwatch() as watch:
            r = sweep(config, d, key=key, seeds=DUEL_SEEDS, n_trains=DUEL_TRAINS,  # same key
                      progress=False)  # fmt: skip
        errors[name] = 1 - r.final("test_acc")
        params[name] = config.model.n_params()
        seconds[name] = watch["s"]
    return SequenceDuel(errors, params, seconds)


# ------------------------------------------------------------------- the gradient explorer

FLOW_COLORS = {0.1: "#1f77b4", 1.0: "#d62728"}


def flow_figure(flow: Flow, point: tuple[np.ndarray, float], values: dict[str, Any]) -> Figure:
    """‖∂h_T/∂h_t‖ against distance at this radius, and the fitted rate against radius."""
    radius, scale = float(values["radius"]), float(values["inputs"])
    norms, mean_h = point
    d = np.arange(1, len(norms) + 1)
    by_distance = Lines(
        [
            Series(list(d), list(norms), label=f"radius {radius:g}", color=FLOW_COLORS[scale]),
            Series(
                list(d),
                list(radius ** d.astype(float)),
                label="radius^(T − t)",
                dashed=True,
                color="#7f7f7f",
            ),
        ],
        title="how much of the gradient reaches step t",
        xlabel="distance T − t (steps)",
        ylabel="‖∂h_T / ∂h_t‖",
        ylog=True,
        ylim=(1e-20, 1e8),
        hline=1.0,
    )
    radii = sorted({r for _, r in flow.rates})
    by_radius = [Series(radii, radii, label="rate = radius", dashed=True, color="#7f7f7f")]
    for label, s in INPUT_SCALES.items():
        rates = [flow.rates[(s, r)] for r in radii]
        by_radius.append(Series(radii, rates, label=f"inputs {label.split(':')[0]}",
                                color=FLOW_COLORS[s], markers=True))  # fmt: skip
    rates = Lines(by_radius, title="factor per step (fitted)", xlabel="spectral radius of U",
                  ylabel="rate", vline=radius, hline=1.0, ylim=(0.2, 1.6))  # fmt: skip
    rate = fitted_rate(norms)
    title = (
        f"vanilla RNN, {FLOW_HIDDEN} units, radius {radius:g}, inputs × {scale:g} "
        f"(mean |h| {mean_h:.2f}): the gradient is multiplied by {rate:.2f} per step"
    )
    return Figure([by_distance, rates], title=title, width=10.0, height=3.8)


def flow_explorer(flow: Flow, *, key: jax.Array) -> Explorer:
    """Spectral radius and input scale over :func:`gradient_flow`'s grid."""
    return Explorer(
        [
            slider(
                "radius", sorted({r for _, r in flow.rates}), label="spectral radius", default=1.0
            ),
            dropdown("inputs", INPUT_SCALES, label="input weights", default=1.0),
        ],
        view=lambda values, point: flow_figure(flow, point, values),
        lookup=lambda values: (
            flow.norms[(values["inputs"], values["radius"])],
            flow.mean_abs_h[(values["inputs"], values["radius"])],
        ),
        live=lambda values: flow_point(values["radius"], values["inputs"], key=key),
        title="Vanishing and exploding: the spectral radius of the recurrent matrix",
        note=f"One vanilla RNN ({FLOW_HIDDEN} units) and one sequence of {FLOW_STEPS} "
        "symbols; U rescaled to each radius. Live: recompute the Jacobians now.",
    )


# ------------------------------------------------------------------- samples and the LM explorer


def trained_lm(study: Language, width: int, windows: int, seed: int = 0) -> tuple[RNN, Params]:
    """The model and final parameters of one run of the language-model sweep."""
    r = study.result.sel(n_train=windows, width=width)
    params = jax.tree.map(lambda a: jnp.asarray(a[seed]), r.params)
    return lm_config(len(study.vocab)).model, params


def sample(study: Language, width: int, windows: int, *, key: jax.Array, prompt: str = "The ",
           length: int = 160, temperature: float = 0.7) -> str:  # fmt: skip
    """Text drawn from a trained model, one character at a time, after ``prompt``."""
    model, params = trained_lm(study, width, windows)
    corpus = datasets.Corpus(np.zeros(1, np.int32), study.vocab)
    ids = jnp.asarray(corpus.encode(prompt))
    mask = unit_mask(model.hidden, width)[None, :]
    hs = model.hidden_states(params, ids[None], width=width)  # (1, len(prompt), H)

    def step(carry: tuple, k: jax.Array) -> tuple[tuple, jax.Array]:
        h, logits = carry
        c = jax.random.categorical(k, logits / temperature)  # (1,)
        h = model.step(params, h, model.project(params, c[:, None])[:, 0], mask=mask)
        return (h, h @ params["w_out"] + params["b_out"][None, :]), c[0]

    h = hs[:, -1]
    first = h @ params["w_out"] + params["b_out"][None, :]
    _, chars = jax.lax.scan(step, (h, first), jax.random.split(key, length))
    return prompt + corpus.decode(np.asarray(chars))


def lm_figure(study: Language, point: SweepResult, values: dict[str, Any]) -> Figure:
    """Held-out bits per character against training characters (every width); this run."""
    width, windows = values["hidden"], values["windows"]
    test = study.bits()  # (seed, n, width)
    curves = []
    widths = list(study.result.axes["width"])
    for j, w in enumerate(widths):
        curves.append(band(test[:, :, j].mean(0), test[:, :, j].std(0), study.chars,
                           f"{int(w)} units", markers=True, dashed=bool(w != width)))  # fmt: skip
    uniform = float(np.log2(len(study.vocab)))
    by_size = Lines(curves, title="held-out bits per character (± std over seeds)",
                    xlabel="training characters", ylabel="bits / character", xlog=True,
                    ylim=(1.5, 8.5), hline=uniform, vline=float(windows * LM_LENGTH))  # fmt: skip
    learning = []
    for split, dashed in (("train", True), ("test", False)):
        bits = point.metrics[f"{split}_loss"] * BITS  # (seed, log)
        learning.append(band(bits.mean(0), bits.std(0), point.steps, f"{split}", dashed=dashed))
    curves_now = Lines(learning, title="this model's learning curves", xlabel="step",
                       ylabel="bits / character", ylim=(0, 8.5),
                       xlim=(0, float(point.steps[-1])))  # fmt: skip
    final = point.final("test_loss").mean() * BITS
    title = (f"GRU language model, {width} units, {windows * LM_LENGTH:,} training characters: "
             f"{final:.2f} bits per held-out character (uniform guess: {uniform:.2f})")  # fmt: skip
    return Figure([by_size, curves_now], title=title, width=10.0, height=3.8)


def lm_explorer(study: Language) -> Explorer:
    """Hidden size and training characters over the language-model sweep."""
    chars = {f"{w * LM_LENGTH:,}": w for w in LM_WINDOWS}
    return Explorer(
        [
            slider("hidden", LM_WIDTHS, label="hidden units", default=LM_WIDTHS[-1]),
            dropdown("windows", chars, label="training characters", default=LM_WINDOWS[-1]),
        ],
        view=lambda values, point: lm_figure(study, point, values),
        lookup=lambda values: study.result.sel(n_train=values["windows"], width=values["hidden"]),
        live=lambda values: sweep_point(
            lm_config(len(study.vocab)),
            lm_data()[0],
            key=study.key,
            seeds=LM_SEEDS,
            n_train=values["windows"],
            width=values["hidden"],
        ),
        title="A character language model: hidden size against training text",
        note=f"GRU, {LM_SEEDS} seeds × {LM_CONFIG.steps} Adam steps of {LM_CONFIG.batch_size} "
        f"windows of {LM_LENGTH} characters, trained in advance; held out: the last 10 % "
        "of the text.",
    )


# ------------------------------------------------------------------- figures and claims


def flow_overview(flow: Flow) -> Figure:
    """‖∂h_T/∂h_t‖ against distance for every radius, at both input scales."""
    panels = []
    for label, scale in INPUT_SCALES.items():
        curves = []
        for radius in sorted({r for _, r in flow.rates}):
            norms = flow.norms[(scale, radius)]
            curves.append(Series(list(range(1, len(norms) + 1)), list(norms),
                                 label=f"radius {radius:g}"))  # fmt: skip
        panels.append(Lines(curves, title=f"input weights {label}", xlabel="distance T − t",
                            ylabel="‖∂h_T / ∂h_t‖", ylog=True, ylim=(1e-30, 1e6),
                            hline=1.0))  # fmt: skip
    return Figure(panels, title="How much gradient survives the trip back through time",
                  width=10.0, height=3.8)  # fmt: skip


def clipping_figure(study: Clipping) -> Figure:
    """Training loss against step, plain and clipped SGD, every seed."""
    curves = []
    colors = {"plain": "#d62728", "clipped": "#1f77b4", "plain, small steps": "#7f7f7f"}
    for name, color in colors.items():
        r = study.results[name]
        loss = r.metrics["train_loss"][:, 0]  # (seed, log)
        for i, run in enumerate(loss):
            curves.append(Series(list(r.steps), list(run), color=color, markers=True,
                                 label=f"SGD, {name}" if i == 0 else "", dashed=i > 0))  # fmt: skip
    panel = Lines(curves, title=f"vanilla RNN started at radius {CLIP_RADIUS} (exploding side)",
                  xlabel="SGD step", ylabel="training loss", hline=CHANCE_LOSS,
                  ylim=(0, 2.6))  # fmt: skip
    return Figure([panel], title=f"Clipping the gradient to norm {CLIP_NORM:g} (line: chance)",
                  width=6.0, height=3.6)  # fmt: skip


def recall_panel(study: Recall, distance: float | None = None) -> Lines:
    """Test accuracy against the distance L for both cells (± std over seeds)."""
    curves = []
    for cell, color in RECALL_COLORS.items():
        acc = study.accuracy(cell)
        n = recall_config(cell).model.n_params()
        curves.append(band(acc.mean(0), acc.std(0), RECALL_LENGTHS,
                           f"{cell} ({RECALL_HIDDEN[cell]} units, {n:,} parameters)",
                           color=color, markers=True))  # fmt: skip
    return Lines(curves, title="remembering the first symbol for L steps",
                 xlabel="distance L (distractor symbols after the message)",
                 ylabel="test accuracy", ylim=(0, 1.05), hline=1 / RECALL_SYMBOLS,
                 vline=distance)  # fmt: skip


def recall_figure(study: Recall) -> Figure:
    """The accuracy-against-distance panel on its own."""
    return Figure([recall_panel(study)], title="Memory over distance (line: chance)",
                  width=6.0, height=3.6)  # fmt: skip


def recall_point_figure(study: Recall, point: SweepResult, values: dict[str, Any]) -> Figure:
    """Accuracy against L (both cells), and this cell's test accuracy during training."""
    cell, distance = values["cell"], int(values["distance"])
    acc = point.metrics["test_acc"].reshape(RECALL_SEEDS, -1)  # (seed, log)
    curves = [
        Series(
            list(point.steps),
            [float(a) for a in run],
            label=f"seed {i}",
            markers=True,
            color=RECALL_COLORS[cell],
            dashed=i > 0,
        )
        for i, run in enumerate(acc)
    ]
    learning = Lines(curves, title=f"{cell}, L = {distance}: test accuracy while training",
                     xlabel="Adam step", ylabel="test accuracy", ylim=(0, 1.05),
                     hline=1 / RECALL_SYMBOLS)  # fmt: skip
    final = acc[:, -1]
    title = (f"{cell} ({RECALL_HIDDEN[cell]} units), message {distance} steps back: "
             f"test accuracy {', '.join(f'{a:.2f}' for a in final)} (chance 0.12)")  # fmt: skip
    return Figure([recall_panel(study, distance), learning], title=title, width=10.0, height=3.8)


def recall_explorer(study: Recall) -> Explorer:
    """Cell and distance over the recall study; live retrains that cell at that distance."""

    def live(values: dict[str, Any]) -> SweepResult:
        d = int(values["distance"])
        pool = recall_data(d, key=jax.random.fold_in(study.data_key, d))
        return sweep_point(recall_config(values["cell"]), pool, key=study.key,
                           seeds=RECALL_SEEDS, n_train=RECALL_TRAIN)  # fmt: skip

    return Explorer(
        [
            slider("distance", RECALL_LENGTHS, label="distance L", default=RECALL_LENGTHS[-2]),
            dropdown(
                "cell",
                {f"{c} ({h} units)": c for c, h in RECALL_HIDDEN.items()},
                label="cell",
                default="vanilla",
            ),
        ],
        view=lambda values, point: recall_point_figure(study, point, values),
        lookup=lambda values: study.results[(values["cell"], int(values["distance"]))].sel(
            n_train=RECALL_TRAIN
        ),
        live=live,
        title="Memory over distance: a plain RNN against a GRU of its size",
        note=f"{RECALL_SEEDS} seeds × 1000 Adam steps (batch 64) on {RECALL_TRAIN} sequences "
        "per distance, trained in advance; live: train this cell at this distance now.",
    )


@dataclasses.dataclass
class Claims:
    """The chapter's claims as verdicts on its studies (see each property).

    Each verdict reads only its own study, so a notebook cell can judge the studies it has
    computed so far (the others stay None).
    """

    flow: Flow | None = None
    recall: Recall | None = None
    clipping: Clipping | None = None
    language: Language | None = None
    duel: SequenceDuel | None = None

    SMALL, DEFAULT = INPUT_SCALES.values()
    GROWS_FROM = 1.25  # with small inputs, radii from here on grow
    HELD = 0.25  # "at chance": accuracy below this (chance 1/8)
    STALLED = 0.9  # "stays at chance": final loss above this fraction of ln 8

    @property
    def vanishes_below_one(self) -> bool:
        """Below radius 1 the gradient vanishes at both input scales.

        The fitted factor per step is < 1, and less than 1 % of it is left after T steps.
        """
        return all(rate < 1 and self.flow.norms[k][-1] < 1e-2
                   for k, rate in self.flow.rates.items() if k[1] < 1)  # fmt: skip

    @property
    def grows_above_one_with_small_inputs(self) -> bool:
        """With small inputs, from radius GROWS_FROM the factor is > 1: the gradient grows."""
        return all(rate > 1 and self.flow.norms[k][-1] > 1 for k, rate in self.flow.rates.items()
                   if k[0] == self.SMALL and k[1] >= self.GROWS_FROM)  # fmt: skip

    @property
    def saturation_vanishes_it_anyway(self) -> bool:
        """With the default inputs the gradient vanishes at every radius.

        The factor is < 1 at every radius, 1.5 included, and the state sits further from 0
        (where tanh is steepest) than with small inputs.
        """
        f = self.flow
        return all(
            rate < 1 and f.mean_abs_h[k] > f.mean_abs_h[(self.SMALL, k[1])]
            for k, rate in f.rates.items()
            if k[0] == self.DEFAULT
        )

    @property
    def gru_remembers_longer(self) -> bool:
        """The GRU solves a longer distance than the vanilla RNN of its size.

        And the vanilla RNN is at chance (both seeds) at the next distance after its longest.
        """
        v, g = self.recall.longest_solved("vanilla"), self.recall.longest_solved("gru")
        nxt = RECALL_LENGTHS.index(v) + 1 if v else 0
        at_chance = nxt < len(RECALL_LENGTHS) and bool(
            np.all(self.recall.accuracy("vanilla")[:, nxt] < self.HELD)
        )
        return g > v and at_chance

    @property
    def clipping_rescues_sgd(self) -> bool:
        """Clipping rescues plain SGD at its learning rate.

        Plain SGD ends at chance (final loss > STALLED · ln 8) in every seed; the same SGD
        clipped solves the task (test accuracy ≥ SOLVED) in every seed.
        """
        c = self.clipping
        return bool(
            np.all(c.final_loss("plain") > self.STALLED * CHANCE_LOSS)
            and np.all(c.test_accuracy("clipped") >= SOLVED)
        )

    @property
    def smaller_steps_work_in_some_seeds(self) -> bool:
        """The control: ten times shorter plain steps solve the task in some seeds, not all."""
        solved = int(np.sum(self.clipping.test_accuracy("plain, small steps") >= SOLVED))
        return 0 < solved < CLIP_SEEDS

    @property
    def data_lowers_bits_at_every_size(self) -> bool:
        """Held-out bits per character fall with every increase in training text, every width."""
        bits = self.language.bits().mean(0)  # (n, width)
        return bool(np.all(np.diff(bits, axis=0) < 0))

    @property
    def bigger_pays_only_with_data(self) -> bool:
        """A bigger model pays only with enough data.

        At the most text more units give fewer bits; at the least, the largest model is
        the worst of them (it memorises its few windows).
        """
        bits = self.language.bits().mean(0)
        return bool(np.all(np.diff(bits[-1]) < 0) and np.argmax(bits[0]) == len(bits[0]) - 1)

    @property
    def gru_leads_on_mnist1d(self) -> bool:
        """On MNIST-1D the GRU leads at this budget.

        At both sizes the GRU's mean test error is below the CNN's, and the CNN's below the
        MLP's (means over seeds).
        """
        e = {name: err.mean(0) for name, err in self.duel.errors.items()}
        return bool(np.all(e["GRU"] < e["CNN"]) and np.all(e["CNN"] < e["MLP"]))


def claims(**studies: Any) -> Claims:
    """The claims the notebook and the tests assert, over the studies given by name."""
    return Claims(**studies)
