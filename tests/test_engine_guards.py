"""Silent wrong results the engine must never give (issue 10's list, one test each).

Each test names what it guards; each failed on the engine before the fix (see the
closing note of the engine-hardening issue for the before/after).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import data, models, optim, sweep, train
from course.engine.data import Dataset

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def mnist():
    return data.mnist1d()


def tiny_text(n: int = 64, seq: int = 8, vocab: int = 12) -> Dataset:
    """Random symbol windows: enough to run an RNN, nothing to learn."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (n + 32, seq)).astype(np.int32)
    y = rng.integers(0, vocab, (n + 32, seq)).astype(np.int32)
    return Dataset(x[:n], y[:n], x[n:], y[n:], name="symbols", n_classes=vocab)


def tiny_images(n: int = 64) -> Dataset:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n + 32, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, n + 32).astype(np.int32)
    return Dataset(x[:n], y[:n], x[n:], y[n:], name="images", n_classes=10)


def tiny_points(n: int = 64, out: int = 1) -> Dataset:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n + 32, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:] > 0).astype(np.int32)[:, 0] if out == 1 else None
    if out > 1:  # regression target of `out` dimensions (a generator's output)
        y = rng.normal(size=(n + 32, out)).astype(np.float32)
        return Dataset(x[:n], y[:n], x[n:], y[n:], name="points", task="regression")
    return Dataset(x[:n], y[:n], x[n:], y[n:], name="points", n_classes=2)


def every_model(mnist):
    """(name, model, data, loss) for every architecture in course.engine.models."""
    generator, discriminator = models.gan_pair(latent=2, hidden=8, data_dim=2)
    return [
        ("linear", models.Linear(40, 10), mnist, "cross_entropy"),
        ("mlp", models.MLP(40, (16, 16), 10), mnist, "cross_entropy"),
        ("cnn1d", models.CNN1D(40, (4, 4)), mnist, "cross_entropy"),
        ("cnn2d", models.CNN2D((8, 8), (4, 4)), tiny_images(), "cross_entropy"),
        ("rnn", models.RNN(12, 8), tiny_text(), "cross_entropy"),
        ("gru", models.RNN(12, 8, cell="gru"), tiny_text(), "cross_entropy"),
        # a signal read one sample per step, one label per sequence (chapter 08)
        (
            "gru_sequence",
            models.RNN(1, 8, "gru", n_out=10, readout="last", inputs="values"),
            mnist,
            "cross_entropy",
        ),
        ("generator", generator, tiny_points(out=2), "mse"),
        ("discriminator", discriminator, tiny_points(), "binary_cross_entropy"),
    ]


MODEL_NAMES = ["linear", "mlp", "cnn1d", "cnn2d", "rnn", "gru", "gru_sequence", "generator",
               "discriminator"]  # fmt: skip


def pick(mnist, name):
    return next(m for m in every_model(mnist) if m[0] == name)[1:]


# ---- 1. examples beyond n_train are inert -------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 16])
def test_rows_beyond_n_train_are_inert_even_when_nan_or_inf(mnist, batch_size):
    """Guards: NaN × 0 = NaN — a NaN past n_train used to turn the full-batch loss into NaN."""
    d = mnist.subset(300)
    x = np.array(d.x_train)
    x[200::2] = np.nan
    x[201::2] = np.inf
    poisoned = d.replace(x_train=x)
    cfg = train.TrainConfig(
        models.MLP(40, (16,), 10), steps=20, n_logs=2, batch_size=batch_size, keep_params=True
    )
    trainer = train.make_train(cfg)
    clean, dirty = trainer(KEY, d, 200), trainer(KEY, poisoned, 200)
    for name in clean.history:
        np.testing.assert_array_equal(dirty.history[name], clean.history[name], err_msg=name)
    for a, b in zip(jax.tree.leaves(clean.params), jax.tree.leaves(dirty.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(clean.history["train_loss"]))


def test_nan_regression_targets_past_n_train_are_inert():
    """The same for float targets (mse): a NaN target beyond n_train changes nothing."""
    d = data.regression(n_train=60, n_test=20, key=KEY)
    y = np.array(d.y_train)
    y[40:] = np.nan
    cfg = train.TrainConfig(models.Linear(4), loss="mse", steps=10, n_logs=1, batch_size=None)
    trainer = train.make_train(cfg)
    a, b = trainer(KEY, d, 40), trainer(KEY, d.replace(y_train=y), 40)
    for name in a.history:
        np.testing.assert_array_equal(b.history[name], a.history[name])


# ---- 2. dropout reaches every model that takes it --------------------------------------------


def test_inverted_dropout_zeroes_the_rate_and_scales_the_rest():
    """At rate p: a fraction p of entries (±0.005 over 10⁶) become 0, the rest are x/(1-p)."""
    x = jnp.arange(1, 1_000_001, dtype=jnp.float32)
    out = np.asarray(models.apply_dropout(x, 0.3, jax.random.key(3)))
    dropped = out == 0
    assert abs(dropped.mean() - 0.3) < 0.005
    np.testing.assert_allclose(out[~dropped], np.asarray(x)[~dropped] / 0.7, rtol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "cnn1d", "cnn2d", "rnn", "gru"])
def test_dropout_rate_zero_with_a_key_is_the_plain_model(mnist, name):
    model, d, _ = pick(mnist, name)
    params, x = model.init(key=KEY), jnp.asarray(d.x_train[:8])
    with_key = jax.jit(lambda p, x: model.apply(p, x, dropout=0.0, key=jax.random.key(5)))
    np.testing.assert_array_equal(with_key(params, x), jax.jit(model.apply)(params, x))


def test_a_model_without_hidden_units_refuses_dropout():
    with pytest.raises(ValueError, match="dropout must be None: Linear has no hidden units"):
        train.TrainConfig(models.Linear(40, 10), dropout=0.0)
    with pytest.raises(ValueError, match="dropout must be None: MLP"):
        train.TrainConfig(models.MLP(40, (), 10), dropout=0.0)


# ---- 3. every model sweeps -------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_sweeps_drops_out_and_keeps_its_padding_zero(mnist, name):
    """One small sweep per model (one compile) guards three things at once:

    * item 3 — the memory estimate traced the RNN with float inputs and sweep() crashed;
    * item 2 — CNN1D, CNN2D and the RNN/GRU accepted dropout and ignored it (0.9 trained
      exactly like 0);
    * item 4 — L1 moved padded weights (``grad(abs)(0) == 1``): at width 2, every weight
      that started at exactly 0 (drawn weights never do) must still be exactly 0.
    """
    model, d, loss = pick(mnist, name)
    takes = model.takes_dropout
    cfg = train.TrainConfig(
        model,
        loss=loss,
        steps=6,
        n_logs=2,
        batch_size=16,
        lr=1e-2,
        l1=1e-2,
        dropout=0.0 if takes else None,
        keep_params=True,
    )
    widths = None if model.max_width is None else [2, model.max_width]
    grid = {"dropout": [0.0, 0.9]} if takes else {}
    r = sweep.sweep(  # one model padded to the widest (no width buckets): one compile, and
        cfg, d, key=KEY, seeds=2, n_trains=[32, 64], widths=widths, progress=False,  # width 2
        width_buckets=None, **grid,  # really runs with padding for item 4
    )  # fmt: skip
    assert r.metrics["test_loss"].shape == (
        2,
        2,
        *([2] if widths else []),
        *([2] if takes else []),
        2,
    )
    assert np.all(np.isfinite(r.metrics["test_loss"]))
    if takes:
        loss_by_rate = r.metrics["train_loss"]  # (..., dropout, log)
        assert not np.array_equal(loss_by_rate[..., 0, :], loss_by_rate[..., 1, :]), (
            "dropout ignored"
        )
    if widths:
        narrow = r.isel(seed=0, n_train=0, width=0, **({"dropout": 1} if takes else {})).params
        padded = jax.tree.leaves(jax.tree.map(lambda a: a == 0, model.init(key=KEY, width=2)))
        weights = jax.tree.leaves(models.weight_mask(model, narrow))
        for leaf, zero, is_w in zip(jax.tree.leaves(narrow), padded, weights, strict=True):
            if is_w:
                assert np.count_nonzero(np.asarray(leaf)[np.asarray(zero)]) == 0


# ---- 4. padded parameters stay exactly zero ---------------------------------------------------


@pytest.mark.parametrize("opt", list(optim.OPTIMIZERS))
def test_padded_weights_stay_exactly_zero_under_every_regulariser_and_optimizer(mnist, opt):
    """Guards: grad(|w|) at 0 is 1 in JAX, so L1 used to move every padded weight."""
    model = models.MLP(40, (32,), 10)
    cfg = train.TrainConfig(
        model,
        optimizer=opt,
        steps=30,
        n_logs=1,
        batch_size=32,
        lr=1e-2,
        l1=1e-3,
        l2=1e-3,
        dropout=0.3,
        shift=2.0,
        noise=0.1,
        keep_params=True,
    )
    run = train.make_train(cfg)(KEY, mnist, 500, width=8)
    w0, b0, w1 = (
        np.asarray(a) for a in (run.params[0]["w"], run.params[0]["b"], run.params[1]["w"])
    )
    assert np.count_nonzero(w0[:, 8:]) == 0 and np.count_nonzero(w1[8:]) == 0
    assert np.count_nonzero(b0[8:]) == 0
    start = train.make_train(cfg).init_state(KEY, 8, cfg.hparams()).params[0]["w"]
    assert np.all(w0[:, :8] != np.asarray(start)[:, :8])  # while every active weight moved


# ---- 5. MNIST-1D returns exactly what was asked --------------------------------------------


@pytest.mark.parametrize(
    ("n_train", "n_test"),
    [(108, 100), (105, 200), (118, 500), (169, 1000), (333, 777), (4000, 1000)],
)
def test_mnist1d_returns_exactly_the_sizes_asked(tmp_path, monkeypatch, n_train, n_test):
    """Guards: make_dataset's float split gave 107 of 108 training examples."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    d = data.mnist1d(n_train=n_train, n_test=n_test)
    assert d.x_train.shape == (n_train, 40) and d.y_train.shape == (n_train,)
    assert d.x_test.shape == (n_test, 40) and d.y_test.shape == (n_test,)
    # the same examples as the package's own split, in its order, cut at n_train exactly
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = -(-(n_train + n_test) // 10) * 10
    args.train_split = n_train / args.num_samples
    ref = make_dataset(args)
    ref_x = np.concatenate([ref["x"], ref["x_test"]])[: n_train + n_test]
    np.testing.assert_allclose(np.concatenate([d.x_train, d.x_test]), ref_x, rtol=1e-6)


# ---- 6. labels are checked -------------------------------------------------------------------


def test_labels_outside_the_class_range_are_refused(mnist):
    """Guards: labels ≥ n_classes or < 0 trained silently (NaN or wrapped losses)."""
    cfg = train.TrainConfig(models.MLP(40, (8,), 10), steps=2, n_logs=1, batch_size=10)
    trainer = train.make_train(cfg)
    for bad in (10, -1):
        y = np.array(mnist.y_train)
        y[3] = bad
        with pytest.raises(ValueError, match=r"y_train must hold class labels in \[0, 9\]"):
            trainer(KEY, mnist.replace(y_train=y), 100)
    y = np.array(mnist.y_test)
    y[0] = 12
    with pytest.raises(ValueError, match=r"y_test must hold class labels in \[0, 9\]"):
        trainer(KEY, mnist.replace(y_test=y), 100)


def test_binary_losses_refuse_multi_class_labels(mnist):
    for loss in ("binary_cross_entropy", "hinge"):
        cfg = train.TrainConfig(models.MLP(40, (8,), 1), loss=loss, steps=2, n_logs=1)
        with pytest.raises(ValueError, match=r"y_train must hold class labels in \[0, 1\]"):
            train.make_train(cfg)(KEY, mnist, 200)


def test_mse_refuses_a_target_of_another_shape():
    """Guards: a (n,) target against 3 outputs broadcast to (n, 3) and trained on nonsense."""
    d = data.regression(n_train=50, n_test=20, key=KEY)
    cfg = train.TrainConfig(models.MLP(4, (8,), 3), loss="mse", steps=2, n_logs=1, batch_size=10)
    with pytest.raises(ValueError, match=r"y_train has targets of shape \(\) .* gives \(3,\)"):
        train.make_train(cfg)(KEY, d, 50)
    one = train.TrainConfig(models.MLP(4, (8,), 1), loss="mse", steps=2, n_logs=1, batch_size=10)
    train.make_train(one)(KEY, d, 50)  # (n,) against one output is fine


# ---- 8. the progress bar follows the work ----------------------------------------------------


def test_progress_bar_counts_only_finished_work(mnist, monkeypatch):
    """Guards: the bar counted dispatches and reached 100 % long before the results existed.

    Every logged segment is handed back wrapped as "pending" until something waits for it
    (``block_until_ready``), as JAX's asynchronous arrays are.  At every update the bar may
    count only segments that were waited for — deterministically, however fast the machine.
    """

    class Pending:
        def __init__(self, value):
            self.value, self.waited = value, False

        def block_until_ready(self):
            self.waited = True
            return self

        def __array__(self, dtype=None, copy=None):
            return np.asarray(self.value, dtype)

    segments, seen = [], []
    advance = sweep._Compiled.advance

    def pending_advance(self, *args):
        state, logged = advance(self, *args)
        wrapped = {k: Pending(v) for k, v in logged.items()}
        segments.append(wrapped)
        return state, wrapped

    class Bar:
        n = 0

        def update(self, k):
            self.n += k
            counted = self.n // 2  # 2 runs per segment
            seen.append([all(p.waited for p in seg.values()) for seg in segments[:counted]])

        def close(self):
            pass

    monkeypatch.setattr(sweep._Compiled, "advance", pending_advance)
    monkeypatch.setattr(sweep, "_progress", lambda total, desc, enabled: Bar())
    cfg = train.TrainConfig(models.MLP(40, (16,), 10), steps=30, n_logs=3, batch_size=10)
    r = sweep.sweep(cfg, mnist, key=KEY, seeds=2, n_trains=[100])
    assert r.metrics["test_loss"].shape == (2, 1, 3)
    assert [len(s) for s in seen] == [1, 2, 3], seen  # one update per segment, all counted
    assert all(all(s) for s in seen), seen  # and each only after it was waited for


# ---- 9. forward-mode autodiff works on every model -------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_mode_jacobian_equals_reverse_mode_on_every_model(mnist, name, monkeypatch):
    """Guards: the custom-VJP dense layer made jax.jvp raise on every model.

    Reference check: the Jacobians with respect to the parameters by forward mode
    (``jacfwd``) and by reverse mode (``jacrev``, derived from the same custom rule) both
    equal JAX's own reverse-mode Jacobian of the model with a plain ``x @ w`` in place of
    ``dense``, to float32 rounding — so a wrong rule cannot agree with itself.
    """
    model, d, _ = pick(mnist, name)
    params = model.init(key=KEY)
    x = jnp.asarray(d.x_train[:3])

    def f(p):
        return model.apply(p, x)

    fwd, rev = jax.jit(jax.jacfwd(f))(params), jax.jit(jax.jacrev(f))(params)
    monkeypatch.setattr(models, "dense", lambda a, w: a @ w)
    reference = jax.jit(jax.jacrev(f))(params)
    for a, b, ref in zip(*map(jax.tree.leaves, (fwd, rev, reference)), strict=True):
        np.testing.assert_allclose(a, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b, ref, rtol=1e-5, atol=1e-6)
    out, tangent = jax.jvp(f, (params,), (jax.tree.map(jnp.ones_like, params),))
    assert tangent.shape == out.shape


# ---- 10. every model declares its weights ----------------------------------------------------

DECLARED = {  # written out by hand per model: which leaves L1/L2 must penalise
    "linear": lambda p: [p[0]["w"]],
    "mlp": lambda p: [layer["w"] for layer in p],
    "cnn1d": lambda p: [layer["w"] for layer in p],
    "cnn2d": lambda p: [layer["w"] for layer in p],
    "rnn": lambda p: [p["w_in"], p["w_rec"], p["w_out"]],
    "gru": lambda p: [p["w_in"], p["w_rec"], p["w_out"]],
    "gru_sequence": lambda p: [p["w_in"], p["w_rec"], p["w_out"]],
    "generator": lambda p: [layer["w"] for layer in p],
    "discriminator": lambda p: [layer["w"] for layer in p],
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_penalties_cover_exactly_the_weights_each_model_declares(mnist, name):
    """Guards: weights were guessed from names starting with "w"; biases are never penalised."""
    model, _, _ = pick(mnist, name)
    params = jax.tree.map(lambda a: a + 0.5, model.init(key=KEY))  # biases non-zero too
    weights = [np.asarray(w, np.float64) for w in DECLARED[name](params)]
    l1 = train.weight_penalty(model, params, 1.0, 0.0, use_l1=True, use_l2=False)
    l2 = train.weight_penalty(model, params, 0.0, 2.0, use_l1=False, use_l2=True)
    np.testing.assert_allclose(l1, sum(np.abs(w).sum() for w in weights), rtol=1e-5)
    np.testing.assert_allclose(l2, sum((w * w).sum() for w in weights), rtol=1e-5)


def test_a_model_with_an_undeclared_leaf_is_refused():
    model = models.MLP(4, (3,), 2)
    params = model.init(key=KEY)
    params[0]["gain"] = jnp.ones((3,))
    with pytest.raises(ValueError, match="leaf 'gain' that is neither in its weight_names"):
        models.weight_mask(model, params)


# ---- early stopping on a diverged run --------------------------------------------------------


def test_early_stopping_skips_nan_steps_and_refuses_a_run_that_is_all_nan():
    history = {"val_loss": np.array([[2.0, np.nan, 1.0], [np.nan, 0.5, np.nan]])}
    best = train.early_stopping(history)
    np.testing.assert_array_equal(best["index"], [2, 1])
    with pytest.raises(ValueError, match=r"val_loss is NaN at every logged step .* \[\[1\]\]"):
        train.early_stopping({"val_loss": np.array([[1.0, 2.0], [np.nan, np.nan]])})


def test_active_weights_leave_out_exactly_the_padding():
    """Sparsity counts go over active weights: at width 3 of 6, a 4→6→2 MLP has 12 + 6."""
    active = models.active_weights(models.MLP(4, (6,), 2), 3)
    assert active[0]["w"].sum() == 12 and active[1]["w"].sum() == 6
    assert active[0]["b"] is None  # biases are not weights
