"""Data parallelism: one model, its mini-batch split over a device mesh.

A sweep (:mod:`course.engine.sweep`) puts *different runs* on different devices.  Data
parallelism puts *one run* on several: every device holds a copy of the parameters,
computes the gradient on its own shard of the mini-batch, and the shards' gradients are
averaged over the devices (an all-reduce, ``lax.pmean``) before each device applies the
same optimizer update.  Since every shard is equally large, the mean of the shards'
mean gradients is the whole batch's mean gradient: the run is the one-device run, up
to the order of floating-point sums.

This is *synchronous* data parallelism (Goyal et al. 2017): every step waits for every
device.  The all-reduce moves one gradient, as large as the model, per step; that
cost grows with model size while each device's compute shrinks with its shard.

Multi-process runs (:func:`course.engine.sweep.sweep` over the devices of several
processes joined by ``jax.distributed``) need nothing here: a mesh over
``jax.devices()`` spans every process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from course.engine.sweep import mesh_of
from course.engine.train import TrainConfig, Trainer

AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``data`` over ``devices`` (default: every device)."""
    return mesh_of(devices, AXIS)


class DataParallelTrainer(Trainer):
    """A :class:`~course.engine.train.Trainer` whose gradient is computed data-parallel.

    Everything else — batches, augmentation, the optimizer, logging — is the engine's
    own code, so a run here is comparable step for step with ``make_train(config)``.

    Args:
        config: the training configuration; its ``batch_size`` must divide evenly over
            the mesh, and dropout must be off (each shard would draw its own masks).
        mesh: a 1-D mesh from :func:`data_mesh`.
    """

    def __init__(self, config: TrainConfig, mesh: Mesh):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if not isinstance(mesh, Mesh) or mesh.axis_names != (AXIS,):
            raise TypeError(f"mesh must be a 1-D Mesh named {AXIS!r} (use data_mesh), got {mesh}")
        n = mesh.devices.size
        if config.batch_size is None or config.batch_size % n:
            raise ValueError(
                f"batch_size must be a multiple of the {n} devices of the mesh, "
                f"got batch_size={config.batch_size}"
            )
        if config.dropout is not None:
            raise ValueError("dropout must be None: each shard would draw its own dropout masks")
        super().__init__(config)
        self.mesh = mesh

    def gradients(self, params, x, y, weight, width, hp, key, soft=None):
        """Each device: the gradient on its shard; then the mean over devices."""
        local_grad = jax.grad(self._objective, has_aux=True)

        def shard(params, x, y, weight, soft):  # x: (batch / devices, ...)
            # Each device's copy of the parameters is marked as its own ("varying"): the
            # gradient below is then this shard's gradient alone.  Left replicated, JAX's
            # autodiff would already sum the shards' gradients (a replicated value's
            # cotangent is reduced over the devices), and pmean would return that sum.
            params = jax.lax.pcast(params, AXIS, to="varying")
            grads, loss = local_grad(params, x, y, weight, width, hp, key, soft)
            return jax.lax.pmean((grads, loss), AXIS)  # the all-reduce: mean over devices

        split = P(AXIS)
        run = jax.shard_map(
            shard,
            mesh=self.mesh,
            in_specs=(P(), split, split, split, None if soft is None else split),
            out_specs=P(),
        )
        return run(params, x, y, weight, soft)


@functools.lru_cache(maxsize=16)
def make_data_parallel(config: TrainConfig, devices: tuple[jax.Device, ...]) -> Trainer:
    """The data-parallel engine for ``config`` over ``devices`` (cached like ``make_train``).

    Usage: ``train = make_data_parallel(config, tuple(jax.devices()))``, then
    ``run = train(key, data, n_train)``: the same call and result as ``make_train``.
    """
    return DataParallelTrainer(config, data_mesh(devices))


def step_seconds(trainer: Trainer, data: Any, n_train: int, *, key: jax.Array, repeat: int = 3):
    """Median wall time of one optimisation step of ``trainer`` (compile excluded).

    Times whole runs of ``config.steps`` steps (each logs ``n_logs`` times) and divides.
    """
    from course.engine.runtime import block, timeit

    times = timeit(lambda: block(trainer(key, data, n_train)), repeat=repeat)
    return float(np.median(times)) / trainer.config.steps
