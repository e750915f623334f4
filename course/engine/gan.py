"""Adversarial training: a generator and a discriminator updated in turn, one ``lax.scan``.

``make_train(config) -> train(real, n_train, *, key, ...)`` follows the engine's pattern
(:mod:`course.engine.train`): a whole run is an outer scan over logged points and an inner
scan over steps, and everything a slider moves is a *value* — the number of real examples
``n_train``, the generator's and the discriminator's widths (masked units, see
:mod:`course.engine.models`) and the learning-rate ratio — so :func:`sweep` ``vmap``s one
compiled program over a grid and shards the runs over every device.

Each step (Goodfellow et al. 2014, Algorithm 1, with one discriminator step per generator
step):

1. the discriminator D (a logit) takes one Adam step on the binary cross-entropy of a
   batch of real examples (label 1) and a batch of generated ones (label 0), plus, when
   ``r1 > 0``, the penalty (γ/2)·E‖∇ₓD(x)‖² on the real batch (Mescheder et al. 2018);
2. the generator G takes one Adam step on fresh noise z ~ N(0, I), against the updated D:

   * ``"minimax"``: minimise E log(1 − D(G(z))) — the game's own value;
   * ``"nonsaturating"``: minimise −E log D(G(z)) — the same fixed point, but a gradient
     that does not vanish while D confidently rejects the samples.

The discriminator's learning rate is ``lr × lr_ratio``.  At every log the run keeps the
generator's output for one fixed batch of noise (the same z at every log, so the frames of
a replay show the same points moving) and the mean losses of the segment.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from course.engine import optim
from course.engine.checks import check_array, check_choice, check_float, check_int, check_key
from course.engine.models import MLP
from course.engine.sweep import _finished, _progress, mesh_of

Params = Any
GENERATOR_LOSSES = ("minimax", "nonsaturating")


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """What one adversarial run is (everything that fixes the compiled program's shapes).

    Attributes:
        generator: an :class:`MLP` from latent noise to a data point.
        discriminator: an :class:`MLP` from a data point to one logit.
        steps: discriminator-and-generator step pairs, 1…1 000 000.
        batch_size: real examples (and generated ones) per step, 1…65 536.
        lr: the generator's Adam learning rate η > 0; the discriminator's is ``lr × lr_ratio``.
        b1: Adam's first-moment decay (0.5 is the usual choice for GANs, Radford et al. 2016).
        generator_loss: ``"nonsaturating"`` or ``"minimax"`` (see the module docstring).
        r1: weight γ ≥ 0 of the gradient penalty on real data (0: off).
        n_logs: logged points, evenly spaced; must divide ``steps``.
        n_samples: generated points kept at every log, 1…10 000.
    """

    generator: MLP
    discriminator: MLP
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    b1: float = 0.5
    generator_loss: str = "nonsaturating"
    r1: float = 0.0
    n_logs: int = 10
    n_samples: int = 500

    def __post_init__(self) -> None:
        for name in ("generator", "discriminator"):
            if not isinstance(getattr(self, name), MLP):
                raise TypeError(f"{name} must be a course.engine.models.MLP, "
                                f"got {type(getattr(self, name)).__name__}")  # fmt: skip
        if self.discriminator.n_out != 1:
            raise ValueError(
                f"discriminator must have n_out=1 (one logit), got {self.discriminator.n_out}"
            )
        if self.discriminator.n_in != self.generator.n_out:
            raise ValueError(
                f"discriminator.n_in ({self.discriminator.n_in}) must equal generator.n_out "
                f"({self.generator.n_out}), the dimension of a data point"
            )
        check_int("steps", self.steps, 1, 1_000_000)
        check_int("batch_size", self.batch_size, 1, 65_536)
        check_float("lr", self.lr, 0.0, lo_open=True)
        check_float("b1", self.b1, 0.0, 1.0, hi_open=True)
        check_choice("generator_loss", self.generator_loss, GENERATOR_LOSSES)
        check_float("r1", self.r1, 0.0)
        check_int("n_logs", self.n_logs, 1, self.steps)
        if self.steps % self.n_logs:
            raise ValueError(f"n_logs must divide steps={self.steps}, got n_logs={self.n_logs}")
        check_int("n_samples", self.n_samples, 1, 10_000)

    @property
    def log_steps(self) -> np.ndarray:
        """The step numbers at which the losses are logged (segment ends), (n_logs,)."""
        return np.arange(1, self.n_logs + 1) * (self.steps // self.n_logs)

    @property
    def sample_steps(self) -> np.ndarray:
        """The step numbers at which samples are kept: the start, then every log, (n_logs + 1,)."""
        return np.arange(self.n_logs + 1) * (self.steps // self.n_logs)


class Knobs(NamedTuple):
    """The traced values of one run (a sweep gives each a leading axis)."""

    n_train: Any
    g_width: Any
    d_width: Any
    lr_ratio: Any


class GANState(NamedTuple):
    """Both networks, their optimizer states, the run's key and the logged noise."""

    generator: Params
    discriminator: Params
    g_opt: Any
    d_opt: Any
    key: jax.Array
    z_fixed: jax.Array  # (n_samples, latent): the noise whose image is logged


def discriminator_loss(
    config: GANConfig, d: Params, real: jax.Array, fake: jax.Array, d_width: Any
) -> jax.Array:
    """Binary cross-entropy (real → 1, generated → 0) plus the R1 penalty on the real batch."""
    model = config.discriminator

    def logits(x: jax.Array) -> jax.Array:
        return model.apply(d, x, width=d_width)[:, 0]  # (batch,)

    loss = jnp.mean(jax.nn.softplus(-logits(real))) + jnp.mean(jax.nn.softplus(logits(fake)))
    if config.r1:
        grad_x = jax.grad(lambda x: jnp.sum(logits(x)))(real)  # (batch, dim): row i is ∇D(x_i)
        loss = loss + 0.5 * config.r1 * jnp.mean(jnp.sum(grad_x**2, axis=1))
    return loss


def generator_loss(
    config: GANConfig, g: Params, d: Params, z: jax.Array, g_width: Any, d_width: Any
) -> jax.Array:
    """The generator's loss on noise ``z`` (batch, latent) against discriminator ``d``."""
    fake = config.generator.apply(g, z, width=g_width)  # (batch, dim)
    logit = config.discriminator.apply(d, fake, width=d_width)[:, 0]  # (batch,)
    if config.generator_loss == "minimax":
        return -jnp.mean(jax.nn.softplus(logit))  # E log(1 − σ(logit))
    return jnp.mean(jax.nn.softplus(-logit))  # −E log σ(logit)


class Trainer:
    """The compiled pieces of adversarial runs for one :class:`GANConfig`."""

    def __init__(self, config: GANConfig):
        self.config = config

    def _optimizers(self, lr_ratio: Any) -> tuple[optim.Optimizer, optim.Optimizer]:
        c = self.config
        return optim.adam(c.lr, b1=c.b1), optim.adam(c.lr * lr_ratio, b1=c.b1)

    def init(self, key: jax.Array, knobs: Knobs) -> GANState:
        """Both networks drawn from ``key`` (split four ways: G, D, the logged noise, steps)."""
        c = self.config
        k_g, k_d, k_z, k_run = jax.random.split(key, 4)
        g = c.generator.init(key=k_g, width=knobs.g_width)
        d = c.discriminator.init(key=k_d, width=knobs.d_width)
        g_opt, d_opt = self._optimizers(knobs.lr_ratio)
        z = jax.random.normal(k_z, (c.n_samples, c.generator.n_in))
        return GANState(g, d, g_opt.init(g), d_opt.init(d), k_run, z)

    def step(
        self, state: GANState, step: jax.Array, real_pool: jax.Array, knobs: Knobs
    ) -> tuple[GANState, jax.Array]:
        """One discriminator step, then one generator step; returns the two losses."""
        c = self.config
        g_opt, d_opt = self._optimizers(knobs.lr_ratio)
        k_idx, k_fake, k_gen = jax.random.split(jax.random.fold_in(state.key, step), 3)
        idx = jax.random.randint(k_idx, (c.batch_size,), 0, knobs.n_train)  # with replacement
        real = real_pool[idx]  # (batch, dim)
        latent = (c.batch_size, c.generator.n_in)
        fake = c.generator.apply(state.generator, jax.random.normal(k_fake, latent),
                                 width=knobs.g_width)  # fmt: skip
        fake = jax.lax.stop_gradient(fake)  # (batch, dim)
        d_loss, d_grads = jax.value_and_grad(discriminator_loss, argnums=1)(
            c, state.discriminator, real, fake, knobs.d_width
        )
        d_updates, d_state = d_opt.update(d_grads, state.d_opt, state.discriminator)
        d = optim.apply_updates(state.discriminator, d_updates)
        g_loss, g_grads = jax.value_and_grad(generator_loss, argnums=1)(
            c, state.generator, d, jax.random.normal(k_gen, latent), knobs.g_width, knobs.d_width
        )
        g_updates, g_state = g_opt.update(g_grads, state.g_opt, state.generator)
        g = optim.apply_updates(state.generator, g_updates)
        new = GANState(g, d, g_state, d_state, state.key, state.z_fixed)
        return new, jnp.stack([d_loss, g_loss])

    def advance(
        self, state: GANState, start: jax.Array, real_pool: jax.Array, knobs: Knobs
    ) -> tuple[GANState, dict[str, jax.Array]]:
        """The steps of one logged segment (from step ``start``), then the log."""
        c = self.config
        per_log = c.steps // c.n_logs

        def body(s: GANState, i: jax.Array) -> tuple[GANState, jax.Array]:
            return self.step(s, start + i, real_pool, knobs)

        state, losses = jax.lax.scan(body, state, jnp.arange(per_log))  # losses (per_log, 2)
        mean = jnp.mean(losses, axis=0)
        return state, {"samples": self.samples(state, knobs), "d_loss": mean[0], "g_loss": mean[1]}

    def samples(self, state: GANState, knobs: Knobs) -> jax.Array:
        """The generator's image of the fixed noise, (n_samples, dim)."""
        return self.config.generator.apply(state.generator, state.z_fixed, width=knobs.g_width)

    def run(self, key: jax.Array, real_pool: jax.Array, knobs: Knobs) -> dict[str, Any]:
        """A whole run: one scan over the logs; history arrays have a leading (n_logs,) axis."""
        c = self.config
        per_log = c.steps // c.n_logs

        def segment(s: GANState, start: jax.Array) -> tuple[GANState, dict]:
            return self.advance(s, start, real_pool, knobs)

        state = self.init(key, knobs)
        first = self.samples(state, knobs)
        state, history = jax.lax.scan(segment, state, jnp.arange(c.n_logs) * per_log)
        history["samples"] = jnp.concatenate([first[None], history["samples"]])
        return {"history": history, "generator": state.generator,
                "discriminator": state.discriminator}  # fmt: skip


def check_real(config: GANConfig, real: Any) -> jax.Array:
    """The real examples as a float array (n, dim), finite, with the generator's columns."""
    real = check_array("real", real, ndim=2, kind="f")
    if real.shape[1] != config.generator.n_out:
        raise ValueError(f"real must have {config.generator.n_out} columns (the generator's "
                         f"n_out), got shape {tuple(real.shape)}")  # fmt: skip
    if not bool(np.all(np.isfinite(np.asarray(real)))):
        raise ValueError("real holds NaN or infinite values")
    return jnp.asarray(real, jnp.float32)


def _check_knobs(config: GANConfig, knobs: Knobs, n_real: int) -> None:
    for name, values, hi in (
        ("n_train", knobs.n_train, n_real),
        ("g_width", knobs.g_width, config.generator.max_width or 1),
        ("d_width", knobs.d_width, config.discriminator.max_width or 1),
    ):
        for i, v in enumerate(np.atleast_1d(values)):
            check_int(f"{name}[{i}]", v, 1, hi)
    for i, v in enumerate(np.atleast_1d(knobs.lr_ratio)):
        check_float(f"lr_ratio[{i}]", v, 0.0, lo_open=True)


@functools.lru_cache(maxsize=16)
def make_train(config: GANConfig) -> Trainer:
    """The trainer of ``config`` (cached: the same config reuses its compiled programs)."""
    return Trainer(config)


def train(
    config: GANConfig,
    real: Any,
    *,
    key: jax.Array,
    n_train: int | None = None,
    g_width: int | None = None,
    d_width: int | None = None,
    lr_ratio: float = 1.0,
) -> dict[str, Any]:
    """One adversarial run on the first ``n_train`` rows of ``real`` (all rows by default)."""
    key = check_key("key", key)
    real = check_real(config, real)
    knobs = Knobs(
        real.shape[0] if n_train is None else n_train,
        g_width or config.generator.max_width or 1,
        d_width or config.discriminator.max_width or 1,
        lr_ratio,
    )
    _check_knobs(config, knobs, real.shape[0])
    knobs = Knobs(*(jnp.asarray(v) for v in knobs))
    out = _run(make_train(config), key, real, knobs)
    return jax.tree.map(np.asarray, out)


@functools.partial(jax.jit, static_argnums=0)
def _run(trainer: Trainer, key: jax.Array, real: jax.Array, knobs: Knobs) -> dict[str, Any]:
    return trainer.run(key, real, knobs)


@dataclasses.dataclass
class GANSweep:
    """Runs over a grid, with the grid's values in ``axes``.

    ``history[name]`` is (*grid, seed, n_logs, ...); samples have n_logs + 1 entries, the
    first at step 0.
    """

    config: GANConfig
    axes: dict[str, list]
    history: dict[str, np.ndarray]
    generator: Params  # final generator parameters, leaves (*grid, seed, ...)
    seconds: float

    def sel(self, **values: Any) -> dict[str, np.ndarray]:
        """The history at one value of every axis: arrays (seed, n_logs, ...)."""
        idx = tuple(self.axes[name].index(values[name]) for name in self.axes)
        return {k: v[idx] for k, v in self.history.items()}

    def generator_at(self, seed: int = 0, **values: Any) -> Params:
        """The final generator parameters of one run."""
        idx = (*tuple(self.axes[name].index(values[name]) for name in self.axes), seed)
        return jax.tree.map(lambda a: jnp.asarray(a[idx]), self.generator)


AXES = ("n_train", "g_width", "d_width", "lr_ratio")


def sweep(
    config: GANConfig,
    real: Any,
    *,
    key: jax.Array,
    seeds: int = 1,
    progress: bool = True,
    **axes: Any,
) -> GANSweep:
    """Every combination of the given axes, ``seeds`` runs each, as one vmapped program.

    The axes are ``n_train``, ``g_width``, ``d_width`` and ``lr_ratio``, each a value or a
    list (default: every real example, full widths, ratio 1).

    Runs are sharded over every device; seeds use ``jax.random.split(key, seeds)``, the
    same for every grid point (common random numbers: grid points differ only in the knob).
    """
    key = check_key("key", key)
    real = check_real(config, real)
    seeds = check_int("seeds", seeds, 1, 10_000)
    unknown = sorted(set(axes) - set(AXES))
    if unknown:
        raise TypeError(f"unknown sweep axis {unknown}; axes are {list(AXES)}")
    defaults = {"n_train": real.shape[0], "g_width": config.generator.max_width or 1,
                "d_width": config.discriminator.max_width or 1, "lr_ratio": 1.0}  # fmt: skip
    grid = {name: axes.get(name, defaults[name]) for name in AXES}
    grid = {name: list(v) if isinstance(v, list | tuple | np.ndarray) else [v]
            for name, v in grid.items()}  # fmt: skip
    _check_knobs(config, Knobs(*grid.values()), real.shape[0])
    shape = (*tuple(len(v) for v in grid.values()), seeds)
    index = np.indices(shape).reshape(len(shape), -1)  # (axes + 1, runs)
    knobs = Knobs(*(np.asarray(grid[name], float if name == "lr_ratio" else np.int32)[index[i]]
                    for i, name in enumerate(AXES)))  # fmt: skip
    keys = jax.random.split(key, seeds)[index[-1]]
    n_runs = index.shape[1]
    mesh = mesh_of()
    n_dev = mesh.devices.size
    padded = -(-n_runs // n_dev) * n_dev
    pad = np.minimum(np.arange(padded), n_runs - 1)  # repeat the last run to fill the devices
    runs = NamedSharding(mesh, P("runs"))
    keys = jax.device_put(keys[pad], runs)
    knobs = Knobs(*(jax.device_put(jnp.asarray(np.asarray(v)[pad]), runs) for v in knobs))
    real = jax.device_put(real, NamedSharding(mesh, P()))
    trainer = make_train(config)
    init, advance, first_samples = _sweep_programs(trainer)
    bar = _progress(config.n_logs, "adversarial runs", progress)
    start = time.perf_counter()
    state = init(keys, knobs)
    per_log = config.steps // config.n_logs
    first = np.asarray(first_samples(state, knobs))[:n_runs]  # (runs, n_samples, dim)
    logs = []
    for i in range(config.n_logs):
        state, logged = advance(state, jnp.asarray(i * per_log), real, knobs)
        logs.append(logged)
        _finished(bar, 1, logged)
    if bar is not None:
        bar.close()
    history = {k: np.stack([np.asarray(log[k])[:n_runs] for log in logs], axis=1)
               for k in logs[0]}  # fmt: skip
    history["samples"] = np.concatenate([first[:, None], history["samples"]], axis=1)
    history = {k: v.reshape(*shape, *v.shape[1:]) for k, v in history.items()}
    generator = jax.tree.map(lambda a: np.asarray(a)[:n_runs].reshape(*shape, *a.shape[1:]),
                             state.generator)  # fmt: skip
    seconds = time.perf_counter() - start
    return GANSweep(config, grid, history, generator, seconds)


@functools.lru_cache(maxsize=16)
def _sweep_programs(trainer: Trainer) -> tuple[Any, Any]:
    init = jax.jit(jax.vmap(trainer.init))
    advance = jax.jit(jax.vmap(trainer.advance, in_axes=(0, None, None, 0)))
    return init, advance, jax.jit(jax.vmap(trainer.samples))
