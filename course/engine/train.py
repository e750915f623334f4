"""The training engine: ``make_train(config) -> train(key, data, n_train, ...)``.

A whole training run is one ``jax.jit``-compiled ``lax.scan``: an outer scan over
the logged evaluation points, an inner scan over the optimisation steps between
them.  Everything a slider can move is a *value*, never a shape:

* ``n_train`` — mini-batches are drawn from the first ``n_train`` examples of the
  full (padded) training pool, and the training metrics are masked means over
  those examples, so changing it never recompiles;
* ``width`` — hidden units beyond ``width`` are masked (see :mod:`course.engine.models`);
* the hyper-parameters in :class:`HParams` (learning rate, L1, L2, dropout,
  augmentation) — traced scalars, so a sweep can ``vmap`` over them.

The step's random numbers come from ``fold_in(key, step)``, so a run is the same
whether it is computed in one call or in segments (as :mod:`course.engine.sweep` does
to show progress), and the same key always gives a bit-identical history.

Regularisers (each off when its config value is ``None``):

* ``l2`` — adds (λ₂/2)·Σw² over weights (not biases);
* ``l1`` — adds λ₁·Σ|w| over weights;
* ``dropout`` — inverted dropout on hidden activations during training;
* ``shift`` / ``noise`` — data augmentation inside the scan: each training signal is
  shifted by a random integer in [−shift, shift] samples (zero fill) and gets
  Gaussian noise of standard deviation ``noise``;
* early stopping — :func:`early_stopping` picks the logged step with the lowest
  validation loss.

Knowledge distillation (Hinton, Vinyals & Dean 2015) is switched on the same way:
``distill`` = α weighs the teacher's soft targets against the labels,
(1 − α)·CE(f, y) + α·T²·KL(softmax(t/T) ‖ softmax(f/T)), where ``t`` are the teacher's
logits for the training pool (``Dataset.soft_train``) and T = ``temperature``.  Both are
traced values, so a sweep can run over them.  With ``shift`` or ``noise`` on as well, the
student sees the augmented example but matches the teacher's logits for the clean one.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from course.engine import losses, models, optim
from course.engine.checks import as_number, check_choice, check_float, check_int, check_key
from course.engine.data import Dataset

Params = Any
# Each is compiled in only when its config value is not None (distill: soft targets).
REGULARIZERS = ("l1", "l2", "dropout", "shift", "noise", "distill")


class HParams(NamedTuple):
    """Traced hyper-parameters of one run (scalars; a sweep gives them a leading axis)."""

    lr: Any
    l1: Any = 0.0
    l2: Any = 0.0
    dropout: Any = 0.0
    shift: Any = 0.0
    noise: Any = 0.0
    distill: Any = 0.0
    temperature: Any = 1.0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static description of a training run; equal configs share one compiled function.

    Attributes:
        model: an architecture from :mod:`course.engine.models` (e.g. ``MLP(40, (100, 100), 10)``).
        loss: a name from :data:`course.engine.losses.LOSSES`.
        optimizer: a name from :data:`course.engine.optim.OPTIMIZERS`.
        steps: optimisation steps, ≥ 1.
        batch_size: examples per step, or None for full-batch gradient descent.
        n_logs: evaluation points, evenly spaced; must divide ``steps``.
        lr: default learning rate.
        l1, l2, dropout, shift, noise: default regulariser strengths; None switches the
            regulariser off entirely (its code is not compiled in, and it cannot be swept).
        distill: default weight α ∈ [0, 1] of the teacher's soft targets (the data set must
            carry the teacher's logits as ``soft_train``); None: no distillation.
        temperature: default softmax temperature T > 0 of the soft targets.
        optimizer_args: extra optimizer hyper-parameters, as a dict ``{"b1": 0.9}`` or as
            pairs ``(("b1", 0.9), ...)`` (stored as sorted pairs, so the config stays hashable).
        eval_chunk: examples per evaluation chunk (bounds memory).
        keep_params: return the final parameters as well as the history.
        log_train: evaluate the training set (its first ``n_train`` examples) at every log,
            as ``train_loss`` and ``train_acc``.  The evaluation runs over the whole pool
            (masked), so with a large pool it can cost as much as the training itself;
            False skips it when only the test (and validation) metrics are read.
        clip_norm: clip the gradient (data loss plus penalties) to this global norm before
            the optimizer sees it (:func:`course.engine.optim.clip_by_global_norm`); None: off.
    """

    model: Any
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    steps: int = 1000
    batch_size: int | None = 100
    n_logs: int = 10
    lr: float = 1e-3
    l1: float | None = None
    l2: float | None = None
    dropout: float | None = None
    shift: float | None = None
    noise: float | None = None
    distill: float | None = None
    temperature: float = 1.0
    optimizer_args: tuple[tuple[str, Any], ...] = ()
    eval_chunk: int = 1000
    keep_params: bool = False
    log_train: bool = True
    clip_norm: float | None = None

    def __post_init__(self) -> None:
        if not hasattr(self.model, "init") or not hasattr(self.model, "apply"):
            raise TypeError(
                f"model must be an architecture from course.engine.models, got {self.model!r}"
            )
        object.__setattr__(self, "optimizer_args", _pairs(self.optimizer_args))
        for flag in ("keep_params", "log_train"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        if self.dropout is not None and not getattr(self.model, "takes_dropout", False):
            raise ValueError(
                f"dropout must be None: {type(self.model).__name__} has no hidden units to drop"
            )
        check_choice("loss", self.loss, losses.LOSSES)
        check_choice("optimizer", self.optimizer, optim.OPTIMIZERS)
        check_int("steps", self.steps, 1, 10_000_000)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1, 1_000_000)
        check_int("n_logs", self.n_logs, 1, self.steps)
        if self.steps % self.n_logs:
            raise ValueError(f"n_logs must divide steps={self.steps}, got n_logs={self.n_logs}")
        check_int("eval_chunk", self.eval_chunk, 1)
        if self.clip_norm is not None:
            check_float("clip_norm", self.clip_norm, 0.0, lo_open=True)
        defaults = self.hparams()
        check_hparams(defaults, self)
        optim.make(self.optimizer, lr=self.lr, **dict(self.optimizer_args))

    def hparams(self, **overrides: Any) -> HParams:
        """The default :class:`HParams` of this config, with some values replaced."""
        values = {n: (getattr(self, n) or 0.0) for n in HParams._fields}
        unknown = sorted(set(overrides) - set(values))
        if unknown:
            raise ValueError(f"unknown hyper-parameter(s) {unknown}; valid: {list(values)}")
        for name, value in overrides.items():
            if name in REGULARIZERS and getattr(self, name) is None:
                raise ValueError(
                    f"{name} is off in this config ({name}=None); "
                    f"set {name}=0.0 in TrainConfig to make it adjustable"
                )
            if name == "temperature" and self.distill is None:
                raise ValueError(
                    "temperature only acts on distillation, which is off in this config "
                    "(distill=None); set distill in TrainConfig"
                )
            values[name] = value
        return HParams(**values)

    @property
    def steps_per_log(self) -> int:
        """Optimisation steps between two logged evaluations."""
        return self.steps // self.n_logs

    @property
    def log_steps(self) -> np.ndarray:
        """The step numbers at which metrics are logged, (n_logs,)."""
        return np.arange(1, self.n_logs + 1) * self.steps_per_log


def _pairs(args: Any) -> tuple[tuple[str, Any], ...]:
    """``optimizer_args`` as sorted (name, value) pairs; a dict is accepted too."""
    if isinstance(args, dict):
        args = tuple(args.items())
    message = (
        "optimizer_args must be a dict of optimizer hyper-parameters or (name, value) pairs, "
        f"e.g. {{'b1': 0.9}}; got {args!r}"
    )
    if not isinstance(args, tuple | list):
        raise TypeError(message)
    for pair in args:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(message)
    return tuple(sorted((name, as_number(value)) for name, value in args))


def check_hparams(hp: HParams, config: TrainConfig, n_features: int | None = None) -> HParams:
    """Validate concrete hyper-parameter values; return them as floats."""
    lr = check_float("lr", hp.lr, 0.0, lo_open=True)
    l1 = check_float("l1", hp.l1, 0.0)
    l2 = check_float("l2", hp.l2, 0.0)
    dropout = check_float("dropout", hp.dropout, 0.0, 1.0, hi_open=True)
    shift = check_float("shift", hp.shift, 0.0, None if n_features is None else n_features)
    noise = check_float("noise", hp.noise, 0.0)
    distill = check_float("distill", hp.distill, 0.0, 1.0)
    temperature = check_float("temperature", hp.temperature, 0.0, 100.0, lo_open=True)
    return HParams(lr, l1, l2, dropout, shift, noise, distill, temperature)


class TrainState(NamedTuple):
    """Everything a run carries from one step to the next."""

    params: Params
    opt_state: Any
    step: jax.Array
    key: jax.Array


class Run(NamedTuple):
    """The result of one run: metrics at the logged steps, and (optionally) final parameters."""

    history: dict[str, jax.Array]
    params: Params | None


def weight_penalty(
    model: Any, params: Params, l1: Any, l2: Any, *, use_l1: bool, use_l2: bool
) -> jax.Array:
    """λ₁·Σ|w| + (λ₂/2)·Σw² over the weights the model declares, not the biases.

    |w| is written as sign(w)·w, whose gradient is sign(w): the subgradient 0 at w = 0
    (``jax.grad(jnp.abs)(0.0)`` is 1).  A weight that is exactly zero — every padded
    weight of a masked width — therefore stays exactly zero under L1.
    """
    total = jnp.zeros(())
    is_weight = jax.tree.leaves(models.weight_mask(model, params))
    for leaf, weight in zip(jax.tree.leaves(params), is_weight, strict=True):
        if weight:
            if use_l1:
                total = total + l1 * jnp.sum(jax.lax.stop_gradient(jnp.sign(leaf)) * leaf)
            if use_l2:
                total = total + 0.5 * l2 * jnp.sum(leaf * leaf)
    return total


def _rows(mask: jax.Array, a: jax.Array) -> jax.Array:
    """``a`` with the rows where ``mask`` is 0 replaced by zeros (NaN and inf included).

    Multiplying by a 0/1 mask is not enough: NaN × 0 is NaN, in the forward pass and in
    the gradient.  Zeroing the *inputs* of masked rows keeps every later value finite,
    so the examples beyond ``n_train`` are inert whatever they hold.
    """
    keep = mask.reshape(mask.shape + (1,) * (a.ndim - 1)) > 0
    return jnp.where(keep, a, jnp.zeros((), a.dtype))


def augment(
    x: jax.Array, shift: Any, noise: Any, key: jax.Array, *, use_shift: bool, use_noise: bool
) -> jax.Array:
    """Random shifts along the last axis (zero fill) and Gaussian noise, per example."""
    k_shift, k_noise = jax.random.split(key)
    if use_shift:
        length = x.shape[-1]
        # integer offset uniform in [-shift, shift]
        u = jax.random.uniform(k_shift, (x.shape[0],))
        offset = jnp.floor(u * (2 * jnp.floor(shift) + 1)).astype(jnp.int32) - jnp.floor(
            shift
        ).astype(jnp.int32)
        src = jnp.arange(length)[None, :] - offset[:, None]  # (batch, length)
        valid = (src >= 0) & (src < length)
        moved = jnp.take_along_axis(x.reshape(x.shape[0], length), jnp.clip(src, 0, length - 1), 1)
        x = jnp.where(valid, moved, 0.0).reshape(x.shape)
    if use_noise:
        x = x + noise * jax.random.normal(k_noise, x.shape)
    return x


class Trainer:
    """The compiled training engine for one :class:`TrainConfig` (see :func:`make_train`).

    Calling it runs one training run.  The pure pieces ``init_state``, ``advance``
    and ``run`` are exposed for :mod:`course.engine.sweep`, which vmaps them.
    """

    def __init__(self, config: TrainConfig):
        self.config = config
        self.model = config.model
        self.loss = losses.get(config.loss)
        self.uses = {name: getattr(config, name) is not None for name in REGULARIZERS}
        self._jit_run = jax.jit(self.run)

    # ---- pure functions (traceable, vmappable) -------------------------------------

    def optimizer(self, hp: HParams) -> optim.Optimizer:
        """The optimizer with the (possibly traced) learning rate of ``hp``."""
        return optim.make(self.config.optimizer, lr=hp.lr, **dict(self.config.optimizer_args))

    def init_state(
        self, key: jax.Array, width: Any, hp: HParams, params: Params = None
    ) -> TrainState:
        """Fresh parameters (unless given) and optimizer state."""
        k_init, k_run = jax.random.split(key)
        if params is None:
            params = self.model.init(key=k_init, width=width)
        return TrainState(params, self.optimizer(hp).init(params), jnp.zeros((), jnp.int32), k_run)

    def _data_loss(
        self,
        params: Params,
        x: jax.Array,
        y: jax.Array,
        weight: jax.Array,
        width: Any,
        hp: HParams,
        key: jax.Array | None,
        soft: jax.Array | None = None,
    ) -> jax.Array:
        x, y = _rows(weight, x), _rows(weight, y)
        out = self.model.apply(params, x, width=width, dropout=hp.dropout, key=key)
        per_example = self.loss(out, y)  # (batch,)
        if soft is not None:  # the teacher's logits for this batch, (batch, classes)
            kl = losses.distillation(out, _rows(weight, soft), hp.temperature)  # (batch,)
            per_example = (1.0 - hp.distill) * per_example + hp.distill * kl
        per_example = jnp.where(weight > 0, per_example, 0.0)
        return jnp.sum(per_example * weight) / jnp.maximum(jnp.sum(weight), 1.0)

    def _objective(self, params, x, y, weight, width, hp, key, soft=None):
        k_drop = key if self.uses["dropout"] else None
        data_loss = self._data_loss(params, x, y, weight, width, hp, k_drop, soft)
        penalty = weight_penalty(
            self.model, params, hp.l1, hp.l2, use_l1=self.uses["l1"], use_l2=self.uses["l2"]
        )
        return data_loss + penalty, data_loss

    def gradients(self, params, x, y, weight, width, hp, key, soft=None):
        """Gradient of the objective on one batch, and the batch's data loss.

        :class:`course.engine.parallel.DataParallelTrainer` replaces this with the same
        gradient computed on shards of the batch and averaged over devices.
        """
        return jax.grad(self._objective, has_aux=True)(params, x, y, weight, width, hp, key, soft)

    def _batch(self, data: Dataset, n_train: Any, key: jax.Array):
        """A mini-batch from the first n_train examples (or the whole masked pool).

        Returns inputs, targets, example weights and the teacher's logits for the batch
        (None without distillation).
        """
        pool = data.x_train.shape[0]
        soft = data.soft_train if self.uses["distill"] else None
        if self.config.batch_size is None:  # full batch: every example, masked
            weight = (jnp.arange(pool) < n_train).astype(jnp.float32)
            return data.x_train, data.y_train, weight, soft
        idx = jax.random.randint(key, (self.config.batch_size,), 0, n_train)  # (batch,)
        soft = None if soft is None else soft[idx]
        return data.x_train[idx], data.y_train[idx], jnp.ones((self.config.batch_size,)), soft

    def step_gradient(
        self, state: TrainState, data: Dataset, n_train: Any, width: Any, hp: HParams
    ) -> tuple[Params, jax.Array]:
        """The gradient a step takes (its batch, augmentation and dropout), before clipping.

        Returns the gradient and the mini-batch data loss.
        """
        k_batch, k_aug, k_drop = jax.random.split(jax.random.fold_in(state.key, state.step), 3)
        x, y, weight, soft = self._batch(data, n_train, k_batch)
        if self.uses["shift"] or self.uses["noise"]:
            x = augment(
                x,
                hp.shift,
                hp.noise,
                k_aug,
                use_shift=self.uses["shift"],
                use_noise=self.uses["noise"],
            )
        return self.gradients(state.params, x, y, weight, width, hp, k_drop, soft)

    def step(
        self, state: TrainState, data: Dataset, n_train: Any, width: Any, hp: HParams
    ) -> tuple[TrainState, jax.Array]:
        """One optimisation step; returns the new state and the mini-batch data loss."""
        grads, data_loss = self.step_gradient(state, data, n_train, width, hp)
        if self.config.clip_norm is not None:
            grads = optim.clip_by_global_norm(grads, self.config.clip_norm)
        updates, opt_state = self.optimizer(hp).update(grads, state.opt_state, state.params)
        params = optim.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1, state.key), data_loss

    def evaluate(
        self, params: Params, x: jax.Array, y: jax.Array, weight: jax.Array, width: Any
    ) -> dict[str, jax.Array]:
        """Weighted mean loss (and accuracy) over a set, in chunks of ``eval_chunk``."""
        n = x.shape[0]
        chunk = min(self.config.eval_chunk, n)
        n_chunks = -(-n // chunk)
        pad = n_chunks * chunk - n

        def padded(a: jax.Array) -> jax.Array:
            a = jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
            return a.reshape(n_chunks, chunk, *a.shape[1:])

        def one(args):
            xc, yc, wc = args
            out = self.model.apply(params, _rows(wc, xc), width=width)
            yc, kept = _rows(wc, yc), wc > 0
            stats = {"loss": jnp.sum(jnp.where(kept, self.loss(out, yc), 0.0) * wc)}
            if self.classifies:
                stats["acc"] = jnp.sum(jnp.where(kept, losses.correct(out, yc), 0.0) * wc)
            return stats

        sums = jax.lax.map(one, (padded(x), padded(y), padded(weight)))
        total = jnp.maximum(jnp.sum(weight), 1.0)
        return {k: jnp.sum(v) / total for k, v in sums.items()}

    @property
    def classifies(self) -> bool:
        """Whether accuracy is logged (every loss but MSE is a classification loss)."""
        return self.config.loss != "mse"

    def log(self, params: Params, data: Dataset, n_train: Any, width: Any) -> dict[str, jax.Array]:
        """Metrics of the current parameters on train (first n_train), test and validation."""
        pool = data.x_train.shape[0]
        sets = {}
        if self.config.log_train:
            mask = (jnp.arange(pool) < n_train).astype(jnp.float32)
            sets["train"] = (data.x_train, data.y_train, mask)
        sets["test"] = (data.x_test, data.y_test, jnp.ones((data.x_test.shape[0],)))
        if data.x_val is not None:
            sets["val"] = (data.x_val, data.y_val, jnp.ones((data.x_val.shape[0],)))
        out = {}
        for name, (x, y, w) in sets.items():
            for metric, value in self.evaluate(params, x, y, w, width).items():
                out[f"{name}_{metric}"] = value
        return out

    def advance(
        self,
        state: TrainState,
        data: Dataset,
        n_train: Any,
        width: Any,
        hp: HParams,
        n_segments: int,
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        """Run ``n_segments`` × ``steps_per_log`` steps, logging after each segment."""

        def segment(state: TrainState, _: None):
            def inner(s: TrainState, _: None):
                return self.step(s, data, n_train, width, hp)

            state, batch_losses = jax.lax.scan(inner, state, None, self.config.steps_per_log)
            logged = self.log(state.params, data, n_train, width)
            logged["batch_loss"] = batch_losses.mean()
            return state, logged

        return jax.lax.scan(segment, state, None, n_segments)

    def run(
        self,
        key: jax.Array,
        data: Dataset,
        n_train: Any,
        width: Any,
        hp: HParams,
        params: Params = None,
    ) -> Run:
        """A whole run: init, then every step, as one traceable function."""
        state = self.init_state(key, width, hp, params)
        state, history = self.advance(state, data, n_train, width, hp, self.config.n_logs)
        return Run(history, state.params if self.config.keep_params else None)

    # ---- the checked, compiled entry point ---------------------------------------

    def check(self, data: Dataset, n_train: Any, width: Any, hp: HParams) -> None:
        """Raise a clear error for data, sizes or hyper-parameters this config cannot take."""
        check_data(self.config, data)
        self.check_run(data, n_train, width, hp)

    def check_run(self, data: Dataset, n_train: Any, width: Any, hp: HParams) -> None:
        """Check one run's size, width and hyper-parameters against already-checked data."""
        pool = data.n_pool
        n_train = check_int("n_train", n_train, 1, pool)
        if self.config.batch_size is not None and self.config.batch_size > n_train:
            raise ValueError(
                f"batch_size={self.config.batch_size} is larger than n_train={n_train}; "
                f"use n_train >= {self.config.batch_size} or a smaller batch_size"
            )
        if width is not None:
            if self.model.max_width is None:
                raise ValueError(
                    f"width must be None: {type(self.model).__name__} has no width knob"
                )
            check_int("width", width, 1, self.model.max_width)
        if self.uses["shift"] and len(data.feature_shape) != 1:
            raise ValueError(
                f"shift augmentation needs 1-D signals (n, length), got inputs of shape "
                f"{data.feature_shape}"
            )
        if self.uses["distill"]:
            check_soft_targets(self.config, data)
        n_features = int(np.prod(data.feature_shape)) if data.feature_shape else 1
        check_hparams(hp, self.config, n_features)

    def __call__(
        self,
        key: jax.Array,
        data: Dataset,
        n_train: int,
        *,
        width: int | None = None,
        hparams: HParams | None = None,
        params: Params = None,
    ) -> Run:
        """Train one model.

        Args:
            key: a ``jax.random`` key (initialisation, batches, dropout, augmentation).
            data: the :class:`~course.engine.data.Dataset`.
            n_train: use the first ``n_train`` examples of the training pool, 1…n_pool.
            width: active hidden width, 1…``model.max_width`` (None: all units).
            hparams: traced hyper-parameters (default: ``config.hparams()``).
            params: start from these parameters instead of a fresh initialisation.

        Returns:
            A :class:`Run` whose history maps metric names to arrays (n_logs,).
        """
        check_key("key", key)
        hp = self.config.hparams() if hparams is None else hparams
        self.check(data, n_train, width, hp)
        hp = HParams(*(jnp.float32(v) for v in hp))
        w = None if width is None else jnp.int32(width)
        return self._jit_run(key, device_data(data), jnp.int32(n_train), w, hp, params)


def check_soft_targets(config: TrainConfig, data: Dataset) -> None:
    """Distillation needs the teacher's logits for every pool example, one per class."""
    soft = data.soft_train
    if soft is None:
        raise ValueError(
            "distill is on but the data set has no soft_train (the teacher's logits for the "
            "training pool); build it with data.replace(soft_train=teacher_logits)"
        )
    if config.loss != "cross_entropy":
        raise ValueError(f"distill needs loss='cross_entropy', got loss={config.loss!r}")
    shape = (data.n_pool, data.n_classes)
    if tuple(soft.shape) != shape:
        raise ValueError(
            f"soft_train must hold one logit per class for each pool example, shape {shape}; "
            f"got {tuple(soft.shape)}"
        )


def check_data(config: TrainConfig, data: Dataset) -> None:
    """Check that ``data`` fits the config's model and loss (types, shapes, label range).

    Classification losses need integer labels in the model's output range
    (``cross_entropy`` and the multi-class ``hinge``: 0…outputs − 1;
    ``binary_cross_entropy`` and the binary ``hinge``: 0 or 1), with one label per
    output position; ``mse`` needs targets of the outputs' shape (a (n,) target fits
    one output).  Every split (train, test, validation) is checked.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a course.engine.data.Dataset, got {type(data).__name__}")
    x = data.x_train
    if data.x_test.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"x_test examples have shape {data.x_test.shape[1:]}, x_train {x.shape[1:]}"
        )
    classifier = config.loss != "mse"
    x_dtype = jnp.int32 if np.dtype(x.dtype).kind in "iu" else jnp.float32
    try:
        out = jax.eval_shape(
            lambda p, xb: config.model.apply(p, xb),
            jax.eval_shape(lambda: config.model.init(key=jax.random.key(0))),
            jax.ShapeDtypeStruct((2, *x.shape[1:]), x_dtype),
        )
    except Exception as err:  # any shape error inside the model is the data's fault here
        raise ValueError(
            f"inputs of shape {tuple(x.shape[1:])} do not fit {config.model}: {err}"
        ) from None
    outputs = out.shape[-1]
    splits = [("y_train", data.y_train), ("y_test", data.y_test)]
    if data.y_val is not None:
        splits.append(("y_val", data.y_val))
    for name, y in splits:
        if classifier:
            _check_labels(name, y, config.loss, out.shape[1:-1], outputs)
        elif tuple(y.shape[1:]) not in (tuple(out.shape[1:]), *([()] if outputs == 1 else [])):
            raise ValueError(
                f"{name} has targets of shape {tuple(y.shape[1:])} per example but the model "
                f"gives {tuple(out.shape[1:])}; mse needs the same shape"
            )
    if config.loss == "cross_entropy" and outputs != data.n_classes:
        raise ValueError(
            f"the model has {outputs} outputs but the data has {data.n_classes} classes"
        )


def _check_labels(name: str, y: Any, loss: str, positions: tuple, outputs: int) -> None:
    """Integer labels, one per output position, in the range the loss can take."""
    if np.dtype(y.dtype).kind not in "iu":
        raise TypeError(f"loss {loss!r} needs integer class labels, got {name} of dtype {y.dtype}")
    if tuple(y.shape[1:]) != tuple(positions):
        raise ValueError(
            f"{name} has labels of shape {tuple(y.shape[1:])} per example but the model gives "
            f"outputs at positions {tuple(positions)}"
        )
    if positions and loss != "cross_entropy":
        raise ValueError(
            f"loss {loss!r} takes one output per example; the model gives outputs at "
            f"positions {tuple(positions)} (a sequence): use loss='cross_entropy'"
        )
    binary = loss == "binary_cross_entropy" or (loss == "hinge" and outputs == 1)
    if binary and outputs != 1:
        raise ValueError(f"loss {loss!r} needs a model with 1 output, got {outputs}")
    hi = 1 if binary else outputs - 1
    values = np.asarray(y)
    if values.size and (values.min() < 0 or values.max() > hi):
        raise ValueError(
            f"{name} must hold class labels in [0, {hi}] for loss {loss!r} with {outputs} "
            f"output(s); got labels from {values.min()} to {values.max()}"
        )


def device_data(data: Dataset) -> Dataset:
    """The data set with float32 inputs and int32 labels as JAX arrays (cached per object)."""
    return _device_data(data)


@functools.lru_cache(maxsize=16)
def _device_data(data: Dataset) -> Dataset:
    def conv(a: Any) -> Any:
        if a is None:
            return None
        a = np.asarray(a)
        return jnp.asarray(a, jnp.int32 if a.dtype.kind in "iu" else jnp.float32)

    return jax.tree.map(conv, data, is_leaf=lambda a: a is None)


@functools.lru_cache(maxsize=64)
def make_train(config: TrainConfig) -> Trainer:
    """Build the training engine for a configuration.

    Usage: ``train = make_train(config)``, then ``run = train(key, data, n_train)``.
    Equal configs return the same :class:`Trainer`, so its compiled code is reused.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    return Trainer(config)


def early_stopping(history: dict[str, Any], metric: str = "val_loss") -> dict[str, Any]:
    """Pick the logged step with the lowest ``metric`` and report every metric there.

    Works on a single run's history (arrays (n_logs,)) or a sweep's (..., n_logs).

    Logged steps where ``metric`` is NaN (a run that diverged on the way) are never
    chosen; a run whose ``metric`` is NaN at every logged step has nothing to stop at
    and raises.

    Returns:
        A dict with ``"index"`` (the chosen log index) and each metric at that index.

    Raises:
        ValueError: ``metric`` is not in the history, or is NaN at every step of a run.
    """
    if not isinstance(metric, str) or metric not in history:
        raise ValueError(f"metric {metric!r} not in history; available: {sorted(history)}")
    values = np.asarray(history[metric], np.float64)
    if values.ndim == 0 or values.shape[-1] == 0:
        raise ValueError(f"history[{metric!r}] must have a log axis, got shape {values.shape}")
    dead = np.all(np.isnan(values), axis=-1)
    if np.any(dead):
        runs = np.argwhere(np.atleast_1d(dead)).tolist() if values.ndim > 1 else "the run"
        raise ValueError(
            f"{metric} is NaN at every logged step (the run diverged) for {runs}; "
            "lower the learning rate, or drop those runs before early stopping"
        )
    best = np.argmin(np.where(np.isnan(values), np.inf, values), axis=-1)
    out: dict[str, Any] = {"index": best}
    for name, arr in history.items():
        arr = np.asarray(arr)
        out[name] = np.take_along_axis(arr, best[..., None], axis=-1)[..., 0]
    return out
