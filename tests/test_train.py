"""The training engine: correctness, masked width, no recompiles, determinism, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.engine import data, models, train
from course.engine.runtime import CompileCounter

MLP = models.MLP(40, (100, 100), 10)


@pytest.fixture(scope="module")
def mnist():
    return data.mnist1d()


def small_config(**kw):
    base = {"model": MLP, "steps": 40, "n_logs": 2, "batch_size": 32}
    return train.TrainConfig(**{**base, **kw})


def test_learns_mnist1d_beyond_chance(mnist):
    cfg = train.TrainConfig(MLP, steps=500, n_logs=5)
    run = train.make_train(cfg)(jax.random.key(0), mnist, 4000)
    acc = np.asarray(run.history["test_acc"])
    assert acc.shape == (5,)
    assert acc[-1] > 0.4, acc  # chance is 0.1
    assert run.history["train_loss"][-1] < run.history["train_loss"][0]


def test_same_key_gives_a_bit_identical_history(mnist):
    trainer = train.make_train(small_config(dropout=0.2, shift=3.0, noise=0.1))
    a = trainer(jax.random.key(7), mnist, 500)
    b = trainer(jax.random.key(7), mnist, 500)
    c = trainer(jax.random.key(8), mnist, 500)
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k])
    assert not np.array_equal(a.history["train_loss"], c.history["train_loss"])


def test_train_metrics_use_only_the_first_n_train_examples(mnist):
    """A model trained on 200 examples: train accuracy is measured on those 200 only."""
    cfg = train.TrainConfig(MLP, steps=300, n_logs=1, batch_size=100, keep_params=True)
    run = train.make_train(cfg)(jax.random.key(0), mnist, 200)
    out = MLP.apply(run.params, jnp.asarray(mnist.x_train[:200]))
    expected = float(np.mean(np.argmax(np.asarray(out), -1) == mnist.y_train[:200]))
    np.testing.assert_allclose(run.history["train_acc"][-1], expected, atol=1e-6)


def test_log_train_false_skips_the_training_set_and_changes_nothing_else(mnist):
    """Logging is read-only: without the training set's evaluation, every other metric of the
    same run is bit-identical, and no train_* metric is reported."""
    on = train.make_train(small_config())(jax.random.key(3), mnist, 500)
    off = train.make_train(small_config(log_train=False))(jax.random.key(3), mnist, 500)
    assert not any(k.startswith("train_") for k in off.history)
    assert {"train_loss", "train_acc"} <= set(on.history)
    for k, v in off.history.items():
        np.testing.assert_array_equal(v, on.history[k])


def embed(small_params, big_params):
    """Put a small network's parameters into the top-left corner of zeroed big ones."""

    def put(s, b):
        z = jnp.zeros_like(b)
        return z.at[tuple(slice(0, n) for n in s.shape)].set(s)

    return jax.tree.map(put, small_params, big_params)


def test_masked_width_computes_exactly_what_the_small_network_computes(mnist):
    small, big = models.MLP(40, (16, 16), 10), models.MLP(40, (64, 64), 10)
    p_small = small.init(key=jax.random.key(1))
    p_big = embed(p_small, big.init(key=jax.random.key(2)))
    x = jnp.asarray(mnist.x_test[:50])
    # equal up to float32 rounding: the big matmul adds exact zeros in another order
    np.testing.assert_allclose(
        big.apply(p_big, x, width=16), small.apply(p_small, x), rtol=1e-5, atol=1e-6
    )

    def loss(p, m, w):
        return jnp.mean(m.apply(p, x, width=w) ** 2)

    g_small = jax.grad(loss)(p_small, small, None)
    g_big = jax.grad(loss)(p_big, big, 16)
    for gs, gb in zip(jax.tree.leaves(g_small), jax.tree.leaves(g_big), strict=True):
        block = tuple(slice(0, n) for n in gs.shape)
        np.testing.assert_allclose(gb[block], gs, rtol=1e-6, atol=1e-7)
        rest = np.asarray(gb).copy()
        rest[block] = 0
        assert not rest.any(), "padded parameters received a gradient"


def test_masked_training_run_matches_the_small_network_run(mnist):
    small, big = models.MLP(40, (16, 16), 10), models.MLP(40, (64, 64), 10)
    p_small = small.init(key=jax.random.key(1))
    p_big = embed(p_small, big.init(key=jax.random.key(2)))
    kw = {"steps": 100, "n_logs": 4, "keep_params": True, "l2": 1e-3}
    run_s = train.make_train(train.TrainConfig(small, **kw))(
        jax.random.key(3), mnist, 1000, params=p_small
    )
    run_b = train.make_train(train.TrainConfig(big, **kw))(
        jax.random.key(3), mnist, 1000, width=16, params=p_big
    )
    for k in run_s.history:
        np.testing.assert_allclose(run_b.history[k], run_s.history[k], rtol=1e-4, atol=1e-5)
    for ps, pb in zip(jax.tree.leaves(run_s.params), jax.tree.leaves(run_b.params), strict=True):
        block = tuple(slice(0, n) for n in ps.shape)
        np.testing.assert_allclose(pb[block], ps, rtol=1e-4, atol=1e-5)
        rest = np.asarray(pb).copy()
        rest[block] = 0
        assert not rest.any(), "padded parameters moved during training"


def test_masked_init_zeroes_padded_units_and_counts_active_parameters():
    p = MLP.init(key=jax.random.key(0), width=7)
    assert not np.asarray(p[0]["w"][:, 7:]).any()
    assert not np.asarray(p[1]["w"][7:, :]).any()
    active = sum(int(np.count_nonzero(np.asarray(leaf))) for leaf in jax.tree.leaves(p))
    biases = 7 + 7 + 10  # zero-initialised biases of the active units
    assert active == MLP.n_params(7) - biases
    assert MLP.n_params() == models.count_params(MLP.init(key=jax.random.key(0)))


def test_moving_n_train_width_and_hyper_parameters_never_recompiles(mnist):
    cfg = small_config(dropout=0.0, l2=0.0)
    trainer = train.make_train(cfg)
    jax.block_until_ready(trainer(jax.random.key(0), mnist, 500, width=50))  # warm-up
    rng = np.random.default_rng(0)
    with CompileCounter() as compiles:
        for i in range(20):
            hp = cfg.hparams(
                lr=float(10 ** rng.uniform(-4, -1)),
                dropout=float(rng.uniform(0, 0.5)),
                l2=float(rng.uniform(0, 1e-3)),
            )
            run = trainer(
                jax.random.key(i),
                mnist,
                int(rng.integers(32, 4001)),
                width=int(rng.integers(1, 101)),
                hparams=hp,
            )
            jax.block_until_ready(run)
    assert compiles.count == 0, f"{compiles.count} recompiles for 20 slider moves"


def test_full_batch_gradient_descent_is_deterministic_given_the_init(mnist):
    cfg = train.TrainConfig(
        models.Linear(40, 10), batch_size=None, steps=20, n_logs=2, lr=0.1, optimizer="sgd"
    )
    trainer = train.make_train(cfg)
    a = trainer(jax.random.key(0), mnist, 300)
    b = trainer(jax.random.key(1), mnist, 300)  # zero init: the key changes nothing
    np.testing.assert_allclose(a.history["train_loss"], b.history["train_loss"], rtol=1e-6)


def test_regularizers_that_are_off_cannot_be_set():
    with pytest.raises(ValueError, match=r"dropout is off in this config \(dropout=None\)"):
        small_config().hparams(dropout=0.3)


def test_early_stopping_picks_the_lowest_validation_loss():
    history = {
        "val_loss": np.array([[3.0, 1.0, 2.0], [5.0, 4.0, 0.5]]),
        "test_acc": np.array([[0.1, 0.7, 0.6], [0.2, 0.3, 0.9]]),
    }
    best = train.early_stopping(history)
    np.testing.assert_array_equal(best["index"], [1, 2])
    np.testing.assert_array_equal(best["test_acc"], [0.7, 0.9])


def test_augmentation_shifts_by_whole_samples_with_zero_fill():
    x = jnp.tile(jnp.arange(1.0, 9.0)[None, :], (500, 1))  # (500, 8)
    out = np.asarray(train.augment(x, 2.0, 0.0, jax.random.key(0), use_shift=True, use_noise=False))
    shifts = set()
    for row in out:
        nz = np.flatnonzero(row)
        shift = int(nz[0]) if nz[0] > 0 else -int(8 - 1 - nz[-1])
        shifts.add(shift)
        np.testing.assert_array_equal(
            row[nz],
            np.arange(1.0, 9.0)[: len(nz)] if shift >= 0 else np.arange(1.0, 9.0)[-len(nz) :],
        )
    assert shifts == {-2, -1, 0, 1, 2}


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_train": 0}, ValueError, r"n_train must be in \[1, 4000\], got 0"),
        ({"n_train": 4001}, ValueError, r"n_train must be in \[1, 4000\], got 4001"),
        ({"n_train": 2.5}, TypeError, "n_train must be an integer"),
        ({"n_train": True}, TypeError, "n_train must be an integer"),
        ({"n_train": 20}, ValueError, "batch_size=32 is larger than n_train=20"),
        ({"width": 0}, ValueError, r"width must be in \[1, 100\], got 0"),
        ({"width": 101}, ValueError, r"width must be in \[1, 100\], got 101"),
        ({"key": 0}, TypeError, "key must be a single jax.random key"),
    ],
)
def test_bad_run_arguments_are_named(mnist, kwargs, error, message):
    args = {"key": jax.random.key(0), "n_train": 500, **kwargs}
    trainer = train.make_train(small_config())
    with pytest.raises(error, match=message):
        trainer(args.pop("key"), mnist, args.pop("n_train"), **args)


@pytest.mark.parametrize(
    ("lr", "message"),
    [
        (float("nan"), "lr must be finite"),
        (0.0, r"lr must be in \(0.0, inf\)"),
        (float("inf"), "lr must be finite"),
        (-0.1, "lr must be in"),
    ],
)
def test_bad_learning_rates_are_named(mnist, lr, message):
    trainer = train.make_train(small_config())
    with pytest.raises(ValueError, match=message):
        trainer(jax.random.key(0), mnist, 500, hparams=trainer.config.hparams(lr=lr))
    with pytest.raises(ValueError, match=message):
        small_config(lr=lr)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "adamx"}, "unknown optimizer 'adamx'; valid: sgd, momentum, nesterov"),
        ({"loss": "l3"}, "unknown loss 'l3'; valid: mse, cross_entropy"),
        ({"model": "mlp"}, "model must be an architecture from course.engine.models"),
        ({"steps": 0}, r"steps must be in \[1, "),
        ({"n_logs": 3}, "n_logs must divide steps=40, got n_logs=3"),
        ({"batch_size": 0}, r"batch_size must be in \[1, "),
        ({"log_train": "no"}, "log_train must be True or False, got 'no'"),
    ],
)
def test_bad_configs_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        small_config(**kwargs)


def test_unknown_model_names_are_listed():
    with pytest.raises(ValueError, match="unknown activation 'swish'; valid: relu, tanh"):
        models.MLP(40, (10,), 10, activation="swish")


def test_mismatched_shapes_and_dtypes_are_named(mnist):
    trainer = train.make_train(small_config())
    narrow = mnist.replace(x_train=mnist.x_train[:, :30], x_test=mnist.x_test[:, :30])
    with pytest.raises(ValueError, match=r"inputs of shape \(30,\) do not fit MLP"):
        trainer(jax.random.key(0), narrow, 500)
    floats = mnist.replace(y_train=mnist.y_train.astype(np.float32))
    with pytest.raises(TypeError, match="needs integer class labels"):
        trainer(jax.random.key(0), floats, 500)
    wrong_classes = mnist.replace(n_classes=3)
    with pytest.raises(ValueError, match="the model has 10 outputs but the data has 3 classes"):
        trainer(jax.random.key(0), wrong_classes, 500)
    with pytest.raises(ValueError, match=r"must hold the same number of examples.*\(100,\)"):
        mnist.replace(y_train=mnist.y_train[:100])
    with pytest.raises(TypeError, match=r"data must be a course\.engine\.data\.Dataset"):
        trainer(jax.random.key(0), (mnist.x_train, mnist.y_train), 500)


def test_linear_model_has_no_width_knob(mnist):
    cfg = train.TrainConfig(models.Linear(40, 10), steps=10, n_logs=1)
    with pytest.raises(ValueError, match="width must be None: Linear has no width knob"):
        train.make_train(cfg)(jax.random.key(0), mnist, 500, width=3)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_train=st.integers(32, 4000),
    width=st.integers(1, 100),
    lr=st.floats(1e-4, 3e-2),
    dropout=st.floats(0.0, 0.9),
    l2=st.floats(0.0, 1e-2),
    shift=st.floats(0.0, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_valid_setting_gives_finite_metrics(
    mnist, n_train, width, lr, dropout, l2, shift, seed
):
    cfg = small_config(dropout=0.0, l2=0.0, shift=0.0, noise=0.0)
    trainer = train.make_train(cfg)
    hp = cfg.hparams(lr=lr, dropout=dropout, l2=l2, shift=shift)
    run = trainer(jax.random.key(seed), mnist, n_train, width=width, hparams=hp)
    for name, values in run.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    assert np.all((run.history["test_acc"] >= 0) & (run.history["test_acc"] <= 1))


def test_clipping_caps_the_step_and_keeps_its_direction(mnist):
    """Guards TrainConfig.clip_norm: one full-batch SGD step moves the weights by lr·g; with
    clipping by lr·c·g/‖g‖ — the same direction (cosine 1 to float precision), length lr·c."""
    base = {"model": models.MLP(40, (16,), 10), "optimizer": "sgd", "lr": 0.5, "steps": 1,
            "n_logs": 1, "batch_size": None, "keep_params": True}  # fmt: skip
    k_init, k_run = jax.random.split(jax.random.key(4))
    start = base["model"].init(key=k_init)

    def step(**kw):
        trainer = train.make_train(train.TrainConfig(**base, **kw))
        run = trainer(k_run, mnist, 500, params=start)  # same key: the same (full) batch
        moved = jax.tree.map(lambda a, b: np.asarray(a, np.float64) - np.asarray(b), run.params,
                             start)  # fmt: skip
        return np.concatenate([np.ravel(a) for a in jax.tree.leaves(moved)])

    plain, clipped = step(), step(clip_norm=0.1)
    assert np.linalg.norm(plain) > 0.5 * 0.2  # the unclipped step is longer than lr·c ...
    assert np.linalg.norm(clipped) == pytest.approx(0.5 * 0.1, rel=1e-4)  # ... and is capped
    cosine = plain @ clipped / (np.linalg.norm(plain) * np.linalg.norm(clipped))
    assert cosine == pytest.approx(1.0, abs=1e-5)
