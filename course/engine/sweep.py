"""Sweeps: many training runs as one vmapped, sharded computation.

``sweep(config, data, key=..., seeds=4, n_trains=[...], widths=[...], lr=[...])``
trains one model for every combination of seed × training-set size × width ×
hyper-parameter values.  All runs go through the same compiled code
(:class:`course.engine.train.Trainer`, vmapped over runs), so every grid point costs the
same compile, once.  The runs are

* **sharded** over a ``jax.sharding.Mesh`` of all devices (one per CPU core here;
  see :mod:`course.engine.runtime`), padded to a multiple of the device count;
* **chunked** when the grid would not fit the memory budget (``memory_mb``);
* **segmented** in time at each logged step, which lets a progress bar advance
  (shown only when the sweep takes longer than 2 s).

The result, :class:`SweepResult`, keeps the metrics as arrays with named axes.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from course.engine.checks import check_float, check_float_list, check_int, check_int_list, check_key
from course.engine.data import Dataset
from course.engine.train import HParams, TrainConfig, Trainer, check_data, device_data, make_train

DEFAULT_MEMORY_MB = 2048


@dataclasses.dataclass
class SweepResult:
    """Metrics of a sweep as arrays with named axes.

    Attributes:
        axes: ordered mapping axis name → coordinate values (``seed``, ``n_train``,
            ``width`` and any swept hyper-parameters).
        metrics: metric name → array of shape ``(*axis sizes, n_logs)``.
        steps: the logged step numbers, (n_logs,).
        params: final parameters with leading axes ``(*axis sizes)`` (if kept), else None.
        compile_seconds: time spent compiling for this sweep (0 when cached).
        run_seconds: time spent running, compile excluded.
    """

    axes: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    steps: np.ndarray
    params: Any = None
    compile_seconds: float = 0.0
    run_seconds: float = 0.0

    @property
    def dims(self) -> tuple[str, ...]:
        """Axis names in order (the log axis, last, is not named here)."""
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Sizes of the named axes."""
        return tuple(len(v) for v in self.axes.values())

    def _axis(self, name: str) -> int:
        if name not in self.axes:
            raise ValueError(f"unknown axis {name!r}; axes: {list(self.axes)}")
        return self.dims.index(name)

    def index(self, axis: str, value: Any) -> int:
        """Position of ``value`` on ``axis`` (exact match; floats to 1e-9 relative)."""
        self._axis(axis)
        coords = np.asarray(self.axes[axis])
        if coords.dtype.kind in "iuf":
            hits = np.flatnonzero(np.isclose(coords, value, rtol=1e-9, atol=0))
        else:  # labels (e.g. strings)
            hits = np.flatnonzero(coords == value)
        if hits.size == 0:
            raise ValueError(f"{axis}={value!r} is not on the grid; grid values: {coords.tolist()}")
        return int(hits[0])

    def sel(self, **coords: Any) -> SweepResult:
        """The sub-result at the given coordinate values; the selected axes are dropped."""
        result = self
        for name, value in coords.items():
            result = result.isel(**{name: result.index(name, value)})
        return result

    def isel(self, **indices: int) -> SweepResult:
        """The sub-result at the given positions; the selected axes are dropped."""
        metrics, axes, params = dict(self.metrics), dict(self.axes), self.params
        for name, i in indices.items():
            ax = list(axes).index(name) if name in axes else self._axis(name)
            metrics = {k: np.take(v, i, axis=ax) for k, v in metrics.items()}
            if params is not None:
                params = jax.tree.map(lambda a, ax=ax, i=i: np.take(a, i, axis=ax), params)
            axes.pop(name)
        return dataclasses.replace(self, axes=axes, metrics=metrics, params=params)

    def mean(self, metric: str, over: str | Sequence[str] = "seed") -> np.ndarray:
        """Mean of ``metric`` over one or more axes (default: seeds)."""
        return np.mean(self.metrics[metric], axis=self._axes(over))

    def std(self, metric: str, over: str | Sequence[str] = "seed") -> np.ndarray:
        """Standard deviation of ``metric`` over axes (default: seeds; ddof=0)."""
        return np.std(self.metrics[metric], axis=self._axes(over))

    def final(self, metric: str) -> np.ndarray:
        """``metric`` at the last logged step (the log axis removed)."""
        return self.metrics[metric][..., -1]

    def _axes(self, over: str | Sequence[str]) -> tuple[int, ...]:
        names = [over] if isinstance(over, str) else list(over)
        return tuple(self._axis(n) for n in names)


def _run_arrays(
    key: jax.Array, seeds: int, axes: dict[str, list], defaults: HParams
) -> tuple[jax.Array, np.ndarray, np.ndarray | None, HParams]:
    """Flatten the grid into per-run arrays (runs in C order of the axes)."""
    grids = np.meshgrid(*[np.arange(len(v)) for v in axes.values()], indexing="ij")
    flat = {name: g.ravel() for name, g in zip(axes, grids, strict=True)}
    keys = jax.random.split(key, seeds)[jnp.asarray(flat["seed"])]
    n = np.asarray(axes["n_train"], np.int32)[flat["n_train"]]
    width = np.asarray(axes["width"], np.int32)[flat["width"]] if "width" in axes else None
    hp = {}
    for field in HParams._fields:
        if field in axes:
            hp[field] = np.asarray(axes[field], np.float32)[flat[field]]
        else:
            hp[field] = np.full(n.shape, getattr(defaults, field), np.float32)
    return keys, n, width, HParams(**hp)


def _activation_elements(trainer: Trainer, data: Dataset) -> int:
    """Elements of every intermediate value of one example's forward pass (memory estimate)."""
    model = trainer.model
    params = jax.eval_shape(lambda: model.init(key=jax.random.key(0)))
    x_dtype = jnp.int32 if np.dtype(data.x_train.dtype).kind in "iu" else jnp.float32
    x = jax.ShapeDtypeStruct((1, *data.feature_shape), x_dtype)  # token ids stay integers
    jaxpr = jax.make_jaxpr(lambda p, xb: model.apply(p, xb))(params, x)
    total = 0
    for eqn in jaxpr.jaxpr.eqns:
        for var in eqn.outvars:
            total += int(np.prod(getattr(var.aval, "shape", ())))
    return max(total, 1)


def runs_per_chunk(
    trainer: Trainer, data: Dataset, n_runs: int, n_devices: int, memory_mb: float
) -> int:
    """How many runs fit the memory budget at once (a multiple of the device count)."""
    n_params = sum(
        int(np.prod(leaf.shape))
        for leaf in jax.tree.leaves(
            jax.eval_shape(lambda: trainer.model.init(key=jax.random.key(0)))
        )
    )
    cfg = trainer.config
    batch = data.n_pool if cfg.batch_size is None else cfg.batch_size
    examples = max(batch, min(cfg.eval_chunk, max(data.n_pool, data.x_test.shape[0])))
    per_run = 4 * (6 * n_params + 3 * examples * _activation_elements(trainer, data))
    fit = max(1, int(memory_mb * 2**20 // per_run))
    fit = max(n_devices, fit // n_devices * n_devices)
    padded_runs = -(-n_runs // n_devices) * n_devices
    return min(fit, padded_runs)


class _Compiled:
    """Ahead-of-time compiled, vmapped init and advance functions, cached by signature."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.cache: dict[Any, Any] = {}
        self.compile_seconds = 0.0

    def _get(self, name: str, fn, args: tuple) -> Any:
        sig = (
            name,
            jax.tree.structure(args),
            tuple(
                (a.shape, str(a.dtype), getattr(a, "sharding", None)) for a in jax.tree.leaves(args)
            ),
        )
        if sig not in self.cache:
            start = time.perf_counter()
            self.cache[sig] = jax.jit(fn).lower(*args).compile()
            self.compile_seconds += time.perf_counter() - start
        return self.cache[sig]

    def init(self, keys, width, hp):
        fn = jax.vmap(lambda k, w, h: self.trainer.init_state(k, w, h))
        return self._get("init", fn, (keys, width, hp))(keys, width, hp)

    def advance(self, state, data, n, width, hp):
        fn = jax.vmap(
            functools.partial(self.trainer.advance, n_segments=1),
            in_axes=(0, None, 0, 0, 0),
        )
        return self._get("advance", fn, (state, data, n, width, hp))(state, data, n, width, hp)


@functools.lru_cache(maxsize=64)
def _compiled_for(trainer: Trainer) -> _Compiled:
    return _Compiled(trainer)


def mesh_of(devices: Sequence[jax.Device] | None = None, axis: str = "runs") -> Mesh:
    """A 1-D mesh named ``axis`` over ``devices`` (default: every device)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must not be empty")
    return Mesh(np.array(devices), (axis,))


def _progress(total: int, desc: str, enabled: bool):
    if not enabled or os.environ.get("COURSE_PROGRESS", "1") == "0":
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="log", delay=2.0, leave=False)


def sweep(
    config: TrainConfig,
    data: Dataset,
    *,
    key: jax.Array,
    seeds: int = 4,
    n_trains: Sequence[int],
    widths: Sequence[int] | None = None,
    devices: Sequence[jax.Device] | None = None,
    memory_mb: float | None = None,
    progress: bool = True,
    width_buckets: float | None = 4.0,
    **grids: Sequence[float],
) -> SweepResult:
    """Train every combination of seeds × sizes (× widths × hyper-parameter values).

    Args:
        config: the static training configuration.
        data: the data set; each run uses the first ``n_train`` examples of its pool.
        key: a ``jax.random`` key; seed ``i`` uses ``split(key, seeds)[i]`` for every
            size and width, so curves over sizes share their random numbers.
        seeds: number of seeds, 1…4096.
        n_trains: training-set sizes, each in [batch_size, n_pool].
        widths: hidden widths, each in [1, model.max_width]; None: the full model.
        devices: devices to shard the runs over (default: all).
        memory_mb: memory budget for one chunk of runs (default 2048 MB or
            ``$COURSE_MEMORY_MB``).
        progress: show a progress bar when the sweep takes over 2 s.
        width_buckets: train widths within this factor of each other with one model capped
            at the group's largest width (one compile per group, less padding); None: every
            width padded to the model's maximum (one compile).  Results do not depend on it
            beyond float rounding: capped models draw the same initial weights.
        **grids: values of hyper-parameters (``lr``, ``l1``, ``l2``, ``dropout``,
            ``shift``, ``noise``) to sweep as further axes.

    Returns:
        A :class:`SweepResult` with axes ``seed``, ``n_train``, [``width``], then ``grids``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    trainer = make_train(config)
    check_key("key", key)
    seeds = check_int("seeds", seeds, 1, 4096)
    check_data(config, data)
    n_trains = _unique("n_trains", check_int_list("n_trains", n_trains, 1, data.n_pool))
    axes: dict[str, list] = {"seed": list(range(seeds)), "n_train": n_trains}
    if widths is not None:
        if trainer.model.max_width is None:
            raise ValueError(
                f"widths must be None: {type(trainer.model).__name__} has no width knob"
            )
        axes["width"] = _unique(
            "widths", check_int_list("widths", widths, 1, trainer.model.max_width)
        )
    for name, values in grids.items():
        if name not in HParams._fields:
            raise TypeError(f"sweep() got an unexpected grid {name!r}; valid: {HParams._fields}")
        axes[name] = _unique(name, check_float_list(name, values))
    defaults = config.hparams(**{n: v[0] for n, v in grids.items()})
    for n, combo in itertools.product(n_trains, itertools.product(*[axes[g] for g in grids])):
        # validate every grid value before any compile
        hp = defaults._replace(**dict(zip(grids, combo, strict=True)))
        trainer.check_run(data, n, (axes.get("width") or [None])[-1], hp)
    if memory_mb is None:
        memory_mb = float(os.environ.get("COURSE_MEMORY_MB", DEFAULT_MEMORY_MB))
    memory_mb = check_float("memory_mb", memory_mb, 0.0, lo_open=True)
    if width_buckets is not None:
        width_buckets = check_float("width_buckets", width_buckets, 1.0, lo_open=True)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    mesh = mesh_of(devices)

    groups = [None]
    capped = "width" in axes and width_buckets and hasattr(config.model, "capped")
    if capped and not config.keep_params:  # kept parameters must share one padded shape
        groups = width_groups(axes["width"], width_buckets)
    n_runs = math.prod(len(v) for v in axes.values())
    bar = _progress(n_runs * config.n_logs, f"sweep of {n_runs} runs", progress)
    parts, compile_s, run_s = [], 0.0, 0.0
    for group in groups:
        sub_axes, sub_config = dict(axes), config
        if group is not None:
            sub_axes["width"] = group
            sub_config = dataclasses.replace(config, model=config.model.capped(max(group)))
        metrics, params, c_s, r_s = _run_grid(
            make_train(sub_config), data, key, seeds, sub_axes, defaults, mesh, memory_mb, bar
        )
        parts.append((group, metrics, params))
        compile_s, run_s = compile_s + c_s, run_s + r_s
    if bar is not None:
        bar.close()
    if groups == [None]:
        metrics, params = parts[0][1], parts[0][2]
    else:  # put the width groups (sorted widths) back in the order asked for
        ax = list(axes).index("width")
        perm = np.searchsorted(np.concatenate([g for g, _, _ in parts]), axes["width"])
        metrics = {
            k: np.take(np.concatenate([m[k] for _, m, _ in parts], axis=ax), perm, axis=ax)
            for k in parts[0][1]
        }
        params = None
    return SweepResult(
        axes={k: np.asarray(v) for k, v in axes.items()},
        metrics=metrics,
        steps=config.log_steps,
        params=params,
        compile_seconds=compile_s,
        run_seconds=run_s,
    )


def sweep_point(
    config: TrainConfig,
    data: Dataset,
    *,
    key: jax.Array,
    seeds: int,
    n_train: int,
    width: int | None = None,
    **hparams: float,
) -> SweepResult:
    """Every seed at one grid point, now — what an explorer's "retrain live" runs.

    The same runs a :func:`sweep` over a grid through this point gives (same key, same
    seeds), without a progress bar and without width buckets.

    Returns:
        A :class:`SweepResult` with the single axis ``seed``.
    """
    result = sweep(
        config,
        data,
        key=key,
        seeds=seeds,
        n_trains=[int(n_train)],
        widths=None if width is None else [int(width)],
        width_buckets=None,
        progress=False,
        **{name: [value] for name, value in hparams.items()},
    )
    single = {"n_train": 0, **({"width": 0} if width is not None else {})}
    return result.isel(**single, **dict.fromkeys(hparams, 0))


def _unique(name: str, values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat values, got {values}")
    return values


def width_groups(widths: Sequence[int], factor: float) -> list[list[int]]:
    """Split widths into groups whose largest is at most ``factor`` times their smallest.

    Each group is trained with the model capped at its largest width, so a narrow
    network is not padded to the widest one; each group compiles once.
    """
    groups: list[list[int]] = []
    for w in sorted(set(widths)):
        if groups and w <= groups[-1][0] * factor:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _run_grid(
    trainer: Trainer,
    data: Dataset,
    key: jax.Array,
    seeds: int,
    axes: dict[str, list],
    defaults: HParams,
    mesh: Mesh,
    memory_mb: float,
    bar: Any,
) -> tuple[dict[str, np.ndarray], Any, float, float]:
    """Run every grid point with one compiled trainer; return metrics, params and timings."""
    config = trainer.config
    keys, n, width, hp = _run_arrays(key, seeds, axes, defaults)
    n_runs = n.shape[0]
    chunk = runs_per_chunk(trainer, data, n_runs, mesh.devices.size, memory_mb)
    compiled = _compiled_for(trainer)
    compile_before = compiled.compile_seconds
    runs_sharding, replicated = NamedSharding(mesh, P("runs")), NamedSharding(mesh, P())
    ddata = jax.tree.map(lambda a: to_devices(a, replicated), device_data(data))

    histories, params_chunks = [], []
    start = time.perf_counter()
    for c in range(-(-n_runs // chunk)):
        idx = np.minimum(np.arange(c * chunk, (c + 1) * chunk), n_runs - 1)  # pad: repeat last

        def put(a: Any, idx: np.ndarray = idx) -> Any:
            return None if a is None else to_devices(a[idx], runs_sharding)

        c_keys, c_n, c_w = put(keys), put(n), put(width)
        c_hp = HParams(*(put(a) for a in hp))
        state = compiled.init(c_keys, c_w, c_hp)
        logs: list[dict[str, jax.Array]] = []
        done = functools.partial(_finished, bar, min(chunk, n_runs - c * chunk))
        for _ in range(config.n_logs):
            state, logged = compiled.advance(state, ddata, c_n, c_w, c_hp)
            if logs:  # segment i+1 is queued: wait for segment i, then count it
                done(logs[-1])
            logs.append(logged)
        done(logs[-1])
        logs = [jax.tree.map(to_host, logged) for logged in logs]
        histories.append(jax.tree.map(lambda *a: np.concatenate(a, axis=1), *logs))
        if config.keep_params:
            params_chunks.append(jax.tree.map(to_host, state.params))
    compile_s = compiled.compile_seconds - compile_before
    run_s = time.perf_counter() - start - compile_s

    shape = tuple(len(v) for v in axes.values())
    metrics = {
        k: np.concatenate([h[k] for h in histories])[:n_runs].reshape(*shape, config.n_logs)
        for k in histories[0]
    }
    params = None
    if config.keep_params:
        params = jax.tree.map(
            lambda *a: np.concatenate(a)[:n_runs].reshape(*shape, *a[0].shape[1:]), *params_chunks
        )
    return metrics, params, compile_s, run_s


def to_devices(a: Any, sharding: NamedSharding) -> jax.Array:
    """``a`` (the same value in every process) placed on ``sharding``'s devices.

    On a mesh that spans several processes (``jax.distributed``), each process can place
    only its own shards; it cuts them out of its copy of the whole value.
    """
    if sharding.is_fully_addressable:
        return jax.device_put(a, sharding)
    host = np.asarray(a) if not jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def to_host(a: jax.Array) -> np.ndarray:
    """A (possibly sharded) array as one NumPy array on this host.

    On a mesh that spans several processes (``jax.distributed``), each process holds only
    its own devices' shards; they are gathered from every process first.
    """
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def _finished(bar: Any, runs: int, logged: dict[str, jax.Array]) -> None:
    """Count one logged segment of ``runs`` runs on the bar once it has been computed.

    JAX dispatches asynchronously: ``advance`` returns long before its result exists, so
    counting at dispatch would fill the bar early.  Waiting here for the previous segment
    while the next one is already queued keeps the device busy and the bar honest.
    """
    if bar is not None:
        jax.block_until_ready(logged)
        bar.update(runs)


def stack(results: Sequence[SweepResult], name: str, values: Sequence[Any]) -> SweepResult:
    """Join results of the same grid along a new leading axis ``name`` (e.g. data sets).

    Sweeps over things that are not values inside the compiled run — a data set's
    noise level, say — are Python loops over :func:`sweep`; this puts them back into
    one result with named axes.
    """
    if len(results) != len(values) or not results:
        raise ValueError(
            f"need one result per value of {name!r}, got {len(results)} results "
            f"for {len(values)} values"
        )
    first = results[0]
    for r in results[1:]:
        if r.dims != first.dims or r.shape != first.shape:
            raise ValueError(
                f"results to stack must share axes; got {r.dims} {r.shape} and "
                f"{first.dims} {first.shape}"
            )
    params = None
    if all(r.params is not None for r in results):
        params = jax.tree.map(lambda *a: np.stack(a), *[r.params for r in results])
    return SweepResult(
        axes={name: np.asarray(values), **first.axes},
        metrics={k: np.stack([r.metrics[k] for r in results]) for k in first.metrics},
        steps=first.steps,
        params=params,
        compile_seconds=sum(r.compile_seconds for r in results),
        run_seconds=sum(r.run_seconds for r in results),
    )


def log_grid(lo: float, hi: float, num: int, *, integer: bool = True) -> list:
    """``num`` log-spaced values from ``lo`` to ``hi`` (rounded to distinct ints if ``integer``)."""
    check_int("num", num, 1)
    lo = check_float("lo", lo, 0.0, lo_open=True)
    hi = check_float("hi", hi, lo)
    values = np.geomspace(lo, hi, num)
    if not integer:
        return [float(v) for v in values]
    out = sorted({round(float(v)) for v in values})
    if len(out) < num:
        raise ValueError(f"cannot fit {num} distinct integers between {lo} and {hi}")
    return out


def gflop(config: TrainConfig, data: Dataset, n_runs: int, width: int | None = None) -> float:
    """Training FLOPs of ``n_runs`` runs, 6 × active parameters × examples seen, in GFLOP.

    The 6 counts a multiply-add (2 FLOPs) in the forward pass and two in the backward
    pass (Kaplan et al. 2020's C ≈ 6·N·D); evaluation passes are not included.
    """
    batch = data.n_pool if config.batch_size is None else config.batch_size
    return 6.0 * config.model.n_params(width) * batch * config.steps * n_runs / 1e9
