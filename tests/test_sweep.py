"""Sweeps: named axes, equal to single runs, chunking, sharding, no recompiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import data, models, sweep, train
from course.engine.runtime import CompileCounter

ROOT = Path(__file__).resolve().parent.parent
CONFIG = train.TrainConfig(models.MLP(40, (64, 64), 10), steps=60, n_logs=3, batch_size=50, l2=0.0)


@pytest.fixture(scope="module")
def mnist():
    return data.mnist1d()


@pytest.fixture(scope="module")
def result(mnist):
    return sweep.sweep(
        CONFIG,
        mnist,
        key=jax.random.key(0),
        seeds=2,
        n_trains=[100, 1000],
        widths=[8, 64],
        l2=[0.0, 1e-3],
        progress=False,
    )


def test_axes_shapes_and_helpers(result):
    assert result.dims == ("seed", "n_train", "width", "l2")
    assert result.shape == (2, 2, 2, 2)
    assert result.metrics["test_acc"].shape == (2, 2, 2, 2, 3)
    np.testing.assert_array_equal(result.steps, [20, 40, 60])
    mean = result.mean("test_acc")
    assert mean.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(mean, result.metrics["test_acc"].mean(axis=0))
    np.testing.assert_allclose(result.std("test_acc"), result.metrics["test_acc"].std(axis=0))
    sub = result.sel(n_train=1000, width=64)
    assert sub.dims == ("seed", "l2")
    np.testing.assert_array_equal(sub.metrics["test_acc"], result.metrics["test_acc"][:, 1, 1])
    assert result.final("test_acc").shape == (2, 2, 2, 2)
    with pytest.raises(
        ValueError, match=r"n_train=123 is not on the grid; grid values: \[100, 1000\]"
    ):
        result.sel(n_train=123)
    with pytest.raises(ValueError, match="unknown axis 'depth'"):
        result.mean("test_acc", over="depth")


def test_each_grid_point_equals_the_single_run_with_the_same_key(mnist, result):
    trainer = train.make_train(CONFIG)
    seed_keys = jax.random.split(jax.random.key(0), 2)
    for s, n, w, l2 in [(0, 100, 8, 0.0), (1, 1000, 64, 1e-3)]:
        run = trainer(seed_keys[s], mnist, n, width=w, hparams=CONFIG.hparams(l2=l2))
        point = result.sel(seed=s, n_train=n, width=w, l2=l2)
        for k, v in run.history.items():
            np.testing.assert_allclose(point.metrics[k], v, rtol=2e-4, atol=2e-5, err_msg=k)


def test_chunked_sweep_equals_the_whole(mnist, result):
    tiny = sweep.sweep(
        CONFIG,
        mnist,
        key=jax.random.key(0),
        seeds=2,
        n_trains=[100, 1000],
        widths=[8, 64],
        l2=[0.0, 1e-3],
        progress=False,
        memory_mb=1,
    )
    for k in result.metrics:
        np.testing.assert_allclose(tiny.metrics[k], result.metrics[k], rtol=1e-5, atol=1e-6)


def test_same_key_same_sweep_bit_for_bit(mnist, result):
    again = sweep.sweep(
        CONFIG,
        mnist,
        key=jax.random.key(0),
        seeds=2,
        n_trains=[100, 1000],
        widths=[8, 64],
        l2=[0.0, 1e-3],
        progress=False,
    )
    for k in result.metrics:
        np.testing.assert_array_equal(again.metrics[k], result.metrics[k])


def test_new_grid_values_of_the_same_size_do_not_recompile(mnist, result):
    kw = {"seeds": 2, "progress": False, "width_buckets": None}
    flat = sweep.sweep(
        CONFIG,
        mnist,
        key=jax.random.key(0),
        n_trains=[100, 1000],
        widths=[8, 64],
        l2=[0.0, 1e-3],
        **kw,
    )
    for k in result.metrics:  # width buckets change nothing but float rounding
        np.testing.assert_allclose(flat.metrics[k], result.metrics[k], rtol=2e-4, atol=2e-5)
    with CompileCounter() as compiles:
        other = sweep.sweep(
            CONFIG,
            mnist,
            key=jax.random.key(5),
            n_trains=[333, 4000],
            widths=[3, 40],
            l2=[1e-4, 1e-2],
            **kw,
        )
    assert other.compile_seconds == 0.0
    assert compiles.count == 0


def test_width_groups_stay_within_the_factor():
    assert sweep.width_groups([64, 2, 8, 3, 512, 16], 4.0) == [[2, 3, 8], [16, 64], [512]]


def test_widths_in_any_order_come_back_in_that_order(mnist, result):
    rev = sweep.sweep(
        CONFIG,
        mnist,
        key=jax.random.key(0),
        seeds=2,
        n_trains=[100, 1000],
        widths=[64, 8],
        l2=[0.0, 1e-3],
        progress=False,
    )
    np.testing.assert_array_equal(rev.axes["width"], [64, 8])
    np.testing.assert_allclose(
        rev.metrics["test_acc"][:, :, ::-1], result.metrics["test_acc"], rtol=1e-6, atol=1e-6
    )


def test_keep_params_returns_parameters_with_the_grid_axes(mnist):
    cfg = train.TrainConfig(
        models.MLP(40, (16,), 10), steps=20, n_logs=1, batch_size=20, keep_params=True
    )
    res = sweep.sweep(cfg, mnist, key=jax.random.key(0), seeds=3, n_trains=[50, 60], progress=False)
    assert res.params[0]["w"].shape == (3, 2, 40, 16)
    assert res.sel(seed=1, n_train=60).params[0]["w"].shape == (40, 16)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seeds": 0}, ValueError, r"seeds must be in \[1, 4096\], got 0"),
        ({"n_trains": []}, ValueError, "n_trains must not be empty"),
        ({"n_trains": [100, 5000]}, ValueError, r"n_trains\[1\] must be in \[1, 4000\], got 5000"),
        ({"n_trains": [10]}, ValueError, "batch_size=50 is larger than n_train=10"),
        ({"widths": [0]}, ValueError, r"widths\[0\] must be in \[1, 64\], got 0"),
        ({"widths": []}, ValueError, "widths must not be empty"),
        ({"widths": [4, 4]}, ValueError, r"widths must not repeat values, got \[4, 4\]"),
        ({"lr": [0.1, float("nan")]}, ValueError, r"lr\[1\] must be finite"),
        ({"lr": [-0.1]}, ValueError, r"lr must be in \(0.0, inf\), got -0.1"),
        ({"dropout": [0.1]}, ValueError, r"dropout is off in this config"),
        ({"momentum": [0.9]}, TypeError, "unexpected grid 'momentum'"),
        ({"n_trains": "100"}, TypeError, "n_trains must be a sequence of integers"),
        ({"key": 3}, TypeError, "key must be a single jax.random key"),
    ],
)
def test_bad_sweep_arguments_are_named(mnist, kwargs, error, message):
    args = {"key": jax.random.key(0), "seeds": 2, "n_trains": [100], "progress": False, **kwargs}
    with pytest.raises(error, match=message):
        sweep.sweep(CONFIG, mnist, **args)


def test_log_grid():
    assert sweep.log_grid(125, 4000, 8) == [125, 205, 336, 552, 906, 1486, 2438, 4000]
    with pytest.raises(ValueError, match="cannot fit 8 distinct integers"):
        sweep.log_grid(1, 3, 8)


def test_flop_count_agrees_with_xla_cost_analysis(mnist):
    """6·N·D against XLA's own count of one compiled training step (forward, backward, Adam).

    XLA counts slightly less (the first layer needs no input gradient, 2·B·40·100 fewer per
    step) plus the optimizer's elementwise work: measured 0.94 of 6·N·D.  A wrong factor or a
    wrong parameter count moves the ratio far outside [0.9, 1.05].
    """
    cfg = train.TrainConfig(models.MLP(40, (100, 100), 10), steps=1000, batch_size=100)
    trainer = train.make_train(cfg)
    hp = train.HParams(*(jnp.float32(v) for v in cfg.hparams()))
    state = trainer.init_state(jax.random.key(0), None, hp)
    ddata = train.device_data(mnist)
    step = jax.jit(lambda s: trainer.step(s, ddata, jnp.int32(4000), None, hp))
    analysis = step.lower(state).compile().cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    per_step = sweep.gflop(cfg, mnist, 64) * 1e9 / (64 * cfg.steps)
    assert 0.9 < analysis["flops"] / per_step < 1.05, analysis["flops"] / per_step


MESH_SCRIPT = """
import json, jax, numpy as np, course
from course.engine import data, models, sweep, train
cfg = train.TrainConfig(models.MLP(40, (32, 32), 10), steps=40, n_logs=2, batch_size=50)
d = data.mnist1d()
out = {"devices": len(jax.devices())}
for n_dev in (4, 1):
    r = sweep.sweep(cfg, d, key=jax.random.key(0), seeds=3, n_trains=[100, 2000], widths=[4, 32],
                    devices=jax.devices()[:n_dev], progress=False, width_buckets=None)
    out[n_dev] = {k: v.tolist() for k, v in r.metrics.items()}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_four_devices_give_the_same_results_as_one():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    proc = subprocess.run(
        [sys.executable, "-c", MESH_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    for k in out["1"]:
        np.testing.assert_allclose(out["4"][k], out["1"][k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_progress_bar_is_quiet_when_disabled(monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    assert sweep._progress(10, "x", True) is None
    monkeypatch.setenv("COURSE_PROGRESS", "1")
    assert sweep._progress(10, "x", False) is None
    bar = sweep._progress(10, "x", True)
    assert bar is not None and bar.delay == 2.0
    bar.close()


def test_sweep_point_is_the_grid_point_of_a_sweep(mnist):
    """What "retrain live" runs equals the same point of a precomputed grid.

    The same runs, vmapped beside different neighbours: equal to float32 rounding (XLA may
    order a reduction differently for another batch of runs: 1 ulp of a loss seen).  A
    different key, seed or point would differ in the second or third decimal.
    """
    cfg = train.TrainConfig(models.MLP(40, (32,), 10), steps=20, n_logs=2, batch_size=50, l2=0.0)
    key = jax.random.key(3)
    grid = sweep.sweep(
        cfg,
        mnist,
        key=key,
        seeds=2,
        n_trains=[100, 300],
        widths=[8, 32],
        l2=[0.0, 1e-3],
        width_buckets=None,
        progress=False,
    )
    point = sweep.sweep_point(cfg, mnist, key=key, seeds=2, n_train=300, width=8, l2=1e-3)
    assert point.dims == ("seed",)
    expected = grid.sel(n_train=300, width=8, l2=1e-3)
    for name, values in expected.metrics.items():
        np.testing.assert_allclose(point.metrics[name], values, rtol=2e-6, atol=0, err_msg=name)
