"""The bad-input matrix: every public entry point refuses bad values by name.

Each row calls a public function of ``data``, ``models``, ``train``, ``sweep``,
``compress``, ``parallel`` or ``widgets`` with one bad value and expects a
``ValueError``/``TypeError`` whose message names the argument and what is allowed — never
a raw NumPy/XLA error, an ``AttributeError``, a ``ZeroDivisionError`` or a silently odd
result.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import compress, data, models, parallel, sweep, train
from course.ui import widgets
from course.ui.controls import dropdown, slider
from course.ui.figures import Figure

KEY = jax.random.key(0)
MLP = models.MLP(40, (8,), 10)
CFG = train.TrainConfig(MLP, steps=2, n_logs=1, batch_size=10)


@pytest.fixture(scope="module")
def mnist():
    return data.mnist1d()


def _view(values, point):
    return Figure([])


BAD = [
    # ---- data ----
    (
        "digits empty test set",
        lambda d: data.digits(test_fraction=1e-4),
        ValueError,
        r"test_fraction=0.0001 leaves 0 of 1797 images for testing",
    ),
    (
        "digits no training set",
        lambda d: data.digits(test_fraction=0.9999),
        ValueError,
        r"test_fraction=0.9999 leaves .* for training",
    ),
    (
        "mnist1d n_train too small",
        lambda d: data.mnist1d(n_train=10),
        ValueError,
        r"n_train must be in \[100, 50000\], got 10",
    ),
    (
        "Dataset from lists",
        lambda d: data.Dataset([[0.0]], [0], [[0.0]], [0]),
        TypeError,
        r"x_train must be an array",
    ),
    (
        "Dataset mismatched lengths",
        lambda d: data.Dataset(
            np.zeros((5, 2)), np.zeros(4, np.int32), np.zeros((2, 2)), np.zeros(2, np.int32)
        ),
        ValueError,
        r"x_train and y_train must hold the same number of examples",
    ),
    (
        "Dataset empty pool",
        lambda d: data.Dataset(
            np.zeros((0, 2)), np.zeros(0, np.int32), np.zeros((2, 2)), np.zeros(2, np.int32)
        ),
        ValueError,
        r"x_train must hold at least one example",
    ),
    (
        "Dataset x_val without y_val",
        lambda d: data.Dataset(
            np.zeros((2, 2)), np.zeros(2), np.zeros((2, 2)), np.zeros(2), x_val=np.zeros((2, 2))
        ),
        ValueError,
        r"x_val and y_val must both be given",
    ),
    (
        "two_d unknown kind",
        lambda d: data.two_d("stars", key=KEY),
        ValueError,
        r"unknown kind 'stars'; valid: moons",
    ),
    (
        "two_d noise",
        lambda d: data.two_d("moons", noise=-1.0, key=KEY),
        ValueError,
        r"noise must be in \[0.0, 5.0\]",
    ),
    (
        "two_d key",
        lambda d: data.two_d("moons", key=0),
        TypeError,
        r"key must be a single jax.random key",
    ),
    (
        "flip_labels fraction",
        lambda d: data.flip_labels(d, 1.5, key=KEY),
        ValueError,
        r"fraction must be in \[0.0, 1.0\]",
    ),
    (
        "split_validation too many",
        lambda d: data.split_validation(d, 1000),
        ValueError,
        r"n_val must be in \[1, 999\]",
    ),
    ("text seq_len", lambda d: data.text(seq_len=1), ValueError, r"seq_len must be in \[2, 1024\]"),
    # ---- models ----
    (
        "CNN2D bool channels",
        lambda d: models.CNN2D(channels=(True,)),
        TypeError,
        r"channels\[0\] must be an integer, got True",
    ),
    (
        "CNN2D list channels",
        lambda d: models.CNN2D(channels=[4]),
        TypeError,
        r"channels must be a non-empty tuple of ints",
    ),
    (
        "CNN2D size",
        lambda d: models.CNN2D(size=(8, 0)),
        ValueError,
        r"size\[1\] must be in \[1, inf\)",
    ),
    (
        "CNN1D zero channels",
        lambda d: models.CNN1D(40, (4, 0)),
        ValueError,
        r"channels\[1\] must be in \[1, inf\)",
    ),
    (
        "CNN1D n_out",
        lambda d: models.CNN1D(40, n_out=0),
        ValueError,
        r"n_out must be in \[1, inf\)",
    ),
    ("RNN n_out", lambda d: models.RNN(10, n_out=0), ValueError, r"n_out must be in \[1, inf\)"),
    (
        "RNN cell",
        lambda d: models.RNN(10, cell="lstm"),
        ValueError,
        r"unknown cell 'lstm'; valid: vanilla, gru",
    ),
    (
        "RNN readout",
        lambda d: models.RNN(10, readout="first"),
        ValueError,
        r"unknown readout 'first'; valid: every, last",
    ),
    (
        "RNN inputs",
        lambda d: models.RNN(10, inputs="floats"),
        ValueError,
        r"unknown inputs 'floats'; valid: symbols, values",
    ),
    (
        "RNN one symbol",
        lambda d: models.RNN(1),
        ValueError,
        r"vocab must be in \[2, inf\)",
    ),
    (
        "RNN recurrent_scale",
        lambda d: models.RNN(10, recurrent_scale=0.0),
        ValueError,
        r"recurrent_scale must be in \(0(\.0)?, 10(\.0)?\]",
    ),
    (
        "RNN input_scale",
        lambda d: models.RNN(10, input_scale=-1.0),
        ValueError,
        r"input_scale must be in \(0(\.0)?, 10(\.0)?\]",
    ),
    ("MLP hidden list", lambda d: models.MLP(4, [8], 2), TypeError, r"hidden must be a tuple"),
    ("MLP width", lambda d: MLP.init(key=KEY, width=9), ValueError, r"width must be in \[1, 8\]"),
    (
        "MLP dropout",
        lambda d: MLP.apply(MLP.init(key=KEY), jnp.zeros((1, 40)), dropout=1.0),
        ValueError,
        r"dropout must be in \[0.0, 1.0\)",
    ),
    (
        "gan_pair depth",
        lambda d: models.gan_pair(depth=0),
        ValueError,
        r"depth must be in \[1, 8\]",
    ),
    # ---- train ----
    (
        "TrainConfig loss",
        lambda d: train.TrainConfig(MLP, loss="l2"),
        ValueError,
        r"unknown loss 'l2'; valid: mse",
    ),
    (
        "TrainConfig clip_norm",
        lambda d: train.TrainConfig(MLP, clip_norm=0.0),
        ValueError,
        r"clip_norm must be in \(0(\.0)?, inf\)",
    ),
    (
        "TrainConfig n_logs",
        lambda d: train.TrainConfig(MLP, steps=10, n_logs=3),
        ValueError,
        r"n_logs must divide steps=10",
    ),
    (
        "TrainConfig optimizer_args",
        lambda d: train.TrainConfig(MLP, optimizer_args=0.9),
        TypeError,
        r"optimizer_args must be a dict of optimizer hyper-parameters",
    ),
    (
        "TrainConfig optimizer_args name",
        lambda d: train.TrainConfig(MLP, optimizer_args={"b9": 1}),
        TypeError,
        r"optimizer 'adam' has no hyper-parameter\(s\) \['b9'\]; its hyper-parameters are \['lr'",
    ),
    (
        "TrainConfig lr nan",
        lambda d: train.TrainConfig(MLP, lr=math.nan),
        ValueError,
        r"lr must be finite and in \(0.0, inf\)",
    ),
    (
        "TrainConfig dropout on Linear",
        lambda d: train.TrainConfig(models.Linear(40, 10), dropout=0.1),
        ValueError,
        r"dropout must be None: Linear has no hidden units",
    ),
    (
        "train n_train",
        lambda d: train.make_train(CFG)(KEY, d, 5000),
        ValueError,
        r"n_train must be in \[1, 4000\], got 5000",
    ),
    (
        "train width on Linear",
        lambda d: train.make_train(train.TrainConfig(models.Linear(40, 10), steps=1, n_logs=1))(
            KEY, d, 200, width=3
        ),
        ValueError,
        r"width must be None: Linear has no width knob",
    ),
    (
        "train labels",
        lambda d: train.make_train(CFG)(KEY, d.replace(y_train=d.y_train + 1), 100),
        ValueError,
        r"y_train must hold class labels in \[0, 9\] .* from 1 to 10",
    ),
    (
        "train float labels",
        lambda d: train.make_train(CFG)(KEY, d.replace(y_train=d.y_train.astype(np.float32)), 100),
        TypeError,
        r"needs integer class labels, got y_train of dtype float32",
    ),
    (
        "train hparams lr",
        lambda d: train.make_train(CFG)(KEY, d, 100, hparams=CFG.hparams(lr=-1.0)),
        ValueError,
        r"lr must be in \(0.0, inf\), got -1.0",
    ),
    (
        "early_stopping metric",
        lambda d: train.early_stopping({"val_loss": np.ones(3)}, "val_err"),
        ValueError,
        r"metric 'val_err' not in history; available: \['val_loss'\]",
    ),
    (
        "early_stopping diverged",
        lambda d: train.early_stopping({"val_loss": np.full(3, np.nan)}),
        ValueError,
        r"val_loss is NaN at every logged step \(the run diverged\)",
    ),
    (
        "hinge on a sequence model",
        lambda d: train.make_train(
            train.TrainConfig(models.RNN(12, 4), loss="hinge", steps=1, n_logs=1, batch_size=2)
        )(KEY, data.Dataset(*[np.zeros((4, 3), np.int32)] * 4, n_classes=12), 4),
        ValueError,
        r"loss 'hinge' takes one output per example; .* use loss='cross_entropy'",
    ),
    # ---- sweep ----
    (
        "sweep memory_mb nan",
        lambda d: sweep.sweep(CFG, d, key=KEY, n_trains=[100], memory_mb=math.nan),
        ValueError,
        r"memory_mb must be finite and in \(0.0, inf\)",
    ),
    (
        "sweep memory_mb negative",
        lambda d: sweep.sweep(CFG, d, key=KEY, n_trains=[100], memory_mb=-5),
        ValueError,
        r"memory_mb must be in \(0.0, inf\), got -5.0",
    ),
    (
        "sweep width_buckets",
        lambda d: sweep.sweep(CFG, d, key=KEY, n_trains=[100], widths=[2, 8], width_buckets=1.0),
        ValueError,
        r"width_buckets must be in \(1.0, inf\), got 1.0",
    ),
    (
        "sweep seeds",
        lambda d: sweep.sweep(CFG, d, key=KEY, seeds=0, n_trains=[100]),
        ValueError,
        r"seeds must be in \[1, 4096\], got 0",
    ),
    (
        "sweep n_trains below batch",
        lambda d: sweep.sweep(CFG, d, key=KEY, n_trains=[5]),
        ValueError,
        r"batch_size=10 is larger than n_train=5",
    ),
    (
        "sweep grid name",
        lambda d: sweep.sweep(CFG, d, key=KEY, n_trains=[100], momentum=[0.9]),
        TypeError,
        r"unexpected grid 'momentum'",
    ),
    (
        "sweep progress",
        lambda d: sweep.sweep(CFG, d, key=KEY, n_trains=[100], progress="yes"),
        TypeError,
        r"progress must be True or False",
    ),
    (
        "log_grid reversed",
        lambda d: sweep.log_grid(10, 1, 3),
        ValueError,
        r"hi must be in \[10.0, inf\), got 1.0",
    ),
    (
        "log_grid negative",
        lambda d: sweep.log_grid(-1, 10, 3),
        ValueError,
        r"lo must be in \(0.0, inf\), got -1.0",
    ),
    (
        "log_grid too many ints",
        lambda d: sweep.log_grid(1, 3, 5),
        ValueError,
        r"cannot fit 5 distinct integers between 1.0 and 3.0",
    ),
    (
        "slider named by a reserved word",
        lambda d: slider("lambda", [1, 2]),
        ValueError,
        r"name must be usable as a keyword argument .* got 'lambda'",
    ),
    # ---- widgets ----
    (
        "Explorer no controls",
        lambda d: widgets.Explorer([], _view, lambda v: None),
        ValueError,
        r"controls must hold at least one control",
    ),
    (
        "Explorer a control, not a list",
        lambda d: widgets.Explorer(slider("n", [1, 2]), _view, lambda v: None),
        TypeError,
        r"controls must be a list of slider\(\)/dropdown\(\) controls",
    ),
    (
        "Explorer view",
        lambda d: widgets.Explorer([slider("n", [1, 2])], None, lambda v: None),
        TypeError,
        r"view must be a function of the control values",
    ),
    (
        "Explorer debounce",
        lambda d: widgets.Explorer([slider("n", [1, 2])], _view, lambda v: None, debounce=-1),
        ValueError,
        r"debounce must be in \[0.0, 5.0\], got -1.0",
    ),
    (
        "Explorer live_runs",
        lambda d: widgets.Explorer([slider("n", [1, 2])], _view, lambda v: None, live_runs=3),
        TypeError,
        r"live_runs must be a string, got 3",
    ),
    (
        "slider unsorted",
        lambda d: slider("n", [2, 1]),
        ValueError,
        r"slider 'n' needs increasing values",
    ),
    (
        "slider strings",
        lambda d: slider("n", ["a", "b"]),
        TypeError,
        r"slider 'n' needs finite numbers, got values\[0\] = 'a'",
    ),
    (
        "slider bad name",
        lambda d: slider("n train", [1, 2]),
        ValueError,
        r"name must be usable as a keyword argument",
    ),
    (
        "dropdown default",
        lambda d: dropdown("opt", ["a", "b"], default="c"),
        ValueError,
        r"default 'c' of 'opt' is not one of its values",
    ),
    # ---- compress, parallel ----
    (
        "quantize one bit",
        lambda d: compress.quantize(MLP, MLP.init(key=KEY), 1),
        ValueError,
        r"bits must be in \[2, 16\], got 1",
    ),
    (
        "quantize scale",
        lambda d: compress.quantize(MLP, MLP.init(key=KEY), 4, "row"),
        ValueError,
        r"unknown scale 'row'; valid: tensor, channel",
    ),
    (
        "prune everything",
        lambda d: compress.magnitude_masks(MLP, MLP.init(key=KEY), 0.0),
        ValueError,
        r"keep must be in \(0(\.0)?, 1(\.0)?\], got 0",
    ),
    (
        "data parallel with dropout",
        lambda d: parallel.DataParallelTrainer(
            train.TrainConfig(MLP, batch_size=10, dropout=0.1),
            parallel.data_mesh(jax.devices()[:1]),
        ),
        ValueError,
        r"dropout must be None: each shard would draw its own dropout masks",
    ),
    (
        "distill without soft targets",
        lambda d: train.make_train(
            train.TrainConfig(MLP, steps=2, n_logs=1, batch_size=10, distill=0.5)
        )(KEY, d, 100),
        ValueError,
        r"distill is on but the data set has no soft_train",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_raises_a_clear_error_naming_the_argument(mnist, call, error, message):
    with pytest.raises(error, match=message):
        call(mnist)


GOOD = [
    ("JAX scalar lr", lambda d: train.TrainConfig(MLP, lr=jnp.float32(0.01))),
    (
        "JAX scalar hparams",
        lambda d: train.make_train(CFG)(
            KEY, d, jnp.int32(100), hparams=CFG.hparams(lr=jnp.float32(0.1))
        ),
    ),
    ("NumPy scalar n_train", lambda d: train.make_train(CFG)(KEY, d, np.int64(100))),
    ("optimizer_args as a dict", lambda d: train.TrainConfig(MLP, optimizer_args={"b1": 0.8})),
    (
        "JAX scalar memory_mb",
        lambda d: sweep.sweep(
            CFG, d, key=KEY, seeds=1, n_trains=[100], memory_mb=jnp.float32(512), progress=False
        ),
    ),
]


@pytest.mark.parametrize("call", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_values_a_user_would_expect_to_work_are_accepted(mnist, call):
    call(mnist)


def test_optimizer_args_as_a_dict_equal_the_same_pairs():
    """A dict is stored as sorted pairs: the same config, the same compiled trainer."""
    a = train.TrainConfig(MLP, optimizer_args={"eps": 1e-6, "b1": 0.8})
    b = train.TrainConfig(MLP, optimizer_args=(("b1", 0.8), ("eps", 1e-6)))
    assert a == b and train.make_train(a) is train.make_train(b)


def test_jax_can_rebuild_a_dataset_with_any_leaves(mnist):
    """JAX rebuilds pytrees with shapes, tracers or None as leaves: no user check may run then."""
    shapes = jax.tree.map(lambda a: a.shape, mnist)
    assert shapes.x_train == (4000, 40) and shapes.name == "MNIST-1D"
    halves = jax.tree.map(lambda a: a[:10], mnist)
    assert halves.x_test.shape == (10, 40)
