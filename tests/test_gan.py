"""The adversarial trainer (course.engine.gan): its losses against trusted formulas, the
order of its updates, what n_train and the widths do, determinism, and its sweeps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from course.engine import gan, models, optim

KEY = jax.random.key(0)


def small_config(**changes):
    g, d = models.gan_pair(latent=2, hidden=16, depth=2)
    base = dict(steps=40, batch_size=32, lr=1e-3, n_logs=4, n_samples=50)
    return gan.GANConfig(g, d, **(base | changes))


def ring(n: int = 256, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * rng.integers(0, 8, n) / 8
    x = 2 * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.1 * rng.normal(size=(n, 2))
    return x.astype(np.float32)


def params(config, key=KEY):
    k_g, k_d = jax.random.split(key)
    return config.generator.init(key=k_g), config.discriminator.init(key=k_d)


# ------------------------------------------------------------------- the losses


def test_discriminator_loss_is_optax_binary_cross_entropy():
    """Real → 1 and generated → 0 under optax's sigmoid cross-entropy (a sign slip fails)."""
    c = small_config()
    _, d = params(c)
    real, fake = jnp.asarray(ring(64)), jnp.asarray(ring(64, seed=1) * 0.3)
    ours = gan.discriminator_loss(c, d, real, fake, None)
    logit = lambda x: c.discriminator.apply(d, x)[:, 0]  # noqa: E731
    theirs = jnp.mean(optax.sigmoid_binary_cross_entropy(logit(real), 1.0)) + jnp.mean(
        optax.sigmoid_binary_cross_entropy(logit(fake), 0.0)
    )
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6)


def test_r1_penalty_is_the_mean_squared_input_gradient_per_example():
    """The batched ∇ of Σ logits equals vmap(grad) of each example's logit (γ/2 · mean ‖∇‖²)."""
    c, c_r1 = small_config(), small_config(r1=3.0)
    _, d = params(c)
    real, fake = jnp.asarray(ring(32)), jnp.asarray(ring(32, seed=2))
    one = lambda x: c.discriminator.apply(d, x[None])[0, 0]  # noqa: E731
    per_example = jax.vmap(jax.grad(one))(real)  # (batch, 2)
    expected = 1.5 * jnp.mean(jnp.sum(per_example**2, 1))
    added = gan.discriminator_loss(c_r1, d, real, fake, None) - gan.discriminator_loss(
        c, d, real, fake, None
    )
    assert float(added) == pytest.approx(float(expected), rel=1e-5)
    assert float(expected) > 1e-4  # the penalty is not trivially zero here


def test_generator_losses_are_the_two_textbook_forms():
    """minimax = E log(1 − D(G(z))), non-saturating = −E log D(G(z)), D = sigmoid(logit)."""
    g_params, d = params(small_config())
    z = jax.random.normal(jax.random.key(1), (64, 2))
    for name, form in (("minimax", lambda p: np.mean(np.log1p(-p))),
                       ("nonsaturating", lambda p: -np.mean(np.log(p)))):  # fmt: skip
        c = small_config(generator_loss=name)
        logit = c.discriminator.apply(d, c.generator.apply(g_params, z))[:, 0]
        p = 1 / (1 + np.exp(-np.asarray(logit, np.float64)))
        ours = gan.generator_loss(c, g_params, d, z, None, None)
        assert float(ours) == pytest.approx(form(p), rel=1e-5)


def test_the_generator_step_sees_the_updated_discriminator():
    """One step by hand (D's Adam step, then G's against the new D) equals Trainer.step."""
    c = small_config()
    trainer = gan.make_train(c)
    knobs = gan.Knobs(jnp.asarray(256), jnp.asarray(16), jnp.asarray(16), jnp.asarray(2.0))
    state = trainer.init(KEY, knobs)
    real_pool = jnp.asarray(ring(256))
    new, _losses = trainer.step(state, jnp.asarray(0), real_pool, knobs)

    k_idx, k_fake, k_gen = jax.random.split(jax.random.fold_in(state.key, 0), 3)
    real = real_pool[jax.random.randint(k_idx, (32,), 0, 256)]
    fake = c.generator.apply(state.generator, jax.random.normal(k_fake, (32, 2)))
    d_grads = jax.grad(gan.discriminator_loss, argnums=1)(c, state.discriminator, real, fake, 16)
    d_opt = optax.adam(2e-3, b1=0.5)  # the discriminator's rate: lr × lr_ratio
    d_upd, _ = d_opt.update(d_grads, d_opt.init(state.discriminator))
    d_new = optax.apply_updates(state.discriminator, d_upd)
    z = jax.random.normal(k_gen, (32, 2))
    g_grads = jax.grad(gan.generator_loss, argnums=1)(c, state.generator, d_new, z, 16, 16)
    g_opt = optax.adam(1e-3, b1=0.5)
    g_upd, _ = g_opt.update(g_grads, g_opt.init(state.generator))
    g_new = optax.apply_updates(state.generator, g_upd)
    for ours, theirs in ((new.discriminator, d_new), (new.generator, g_new)):
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
    stale = jax.grad(gan.generator_loss, argnums=1)(c, state.generator, state.discriminator, z,
                                                    16, 16)  # fmt: skip
    stale_g = optax.apply_updates(
        state.generator, g_opt.update(stale, g_opt.init(state.generator))[0]
    )
    pairs = zip(jax.tree.leaves(new.generator), jax.tree.leaves(stale_g), strict=True)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in pairs)  # a stale D: another step


# ------------------------------------------------------------------- knobs, determinism, sweeps


def test_rows_beyond_n_train_never_enter_a_step():
    """Real rows past n_train are never drawn: inf there leaves every loss finite."""
    c = small_config()
    trainer = gan.make_train(c)
    pool = ring(64)
    pool[8:] = np.inf
    knobs = gan.Knobs(jnp.asarray(8), jnp.asarray(16), jnp.asarray(16), jnp.asarray(1.0))
    state = trainer.init(KEY, knobs)
    for step in range(20):
        state, losses = trainer.step(state, jnp.asarray(step), jnp.asarray(pool), knobs)
        assert np.all(np.isfinite(losses))


def test_a_narrower_width_is_the_masked_network():
    """At width w the masked generator computes what an MLP of w units does."""
    c = small_config()
    run = gan.train(c, ring(), key=KEY, g_width=5, d_width=7)
    assert np.all(np.isfinite(run["history"]["samples"]))
    for layer in run["generator"][:-1]:
        assert np.all(layer["w"][:, 5:] == 0)  # units past the width stay exactly zero
    assert np.all(run["discriminator"][0]["w"][:, 7:] == 0)


def test_the_same_key_gives_the_same_run_and_a_new_key_another():
    c = small_config()
    a = gan.train(c, ring(), key=KEY)
    b = gan.train(c, ring(), key=KEY)
    other = gan.train(c, ring(), key=jax.random.key(1))
    np.testing.assert_array_equal(a["history"]["samples"], b["history"]["samples"])
    assert not np.allclose(a["history"]["samples"], other["history"]["samples"])


def test_a_sweep_holds_the_single_runs_of_its_grid():
    """Seed s of a sweep starts where train(key=split(key)[s]) starts, and stays close for a
    few steps (the vmapped program rounds differently in the last bit; GANs amplify that
    over many steps, so only a short run is compared)."""
    c = small_config(steps=8, n_logs=2)
    swept = gan.sweep(c, ring(), key=KEY, seeds=2, n_train=[16, 256], lr_ratio=[1.0, 5.0],
                      progress=False)  # fmt: skip
    samples = swept.history["samples"]  # (n_train, g_width, d_width, ratio, seed, log, n, 2)
    assert samples.shape == (2, 1, 1, 2, 2, 3, 50, 2)
    seed_key = jax.random.split(KEY, 2)[1]
    single = gan.train(c, ring(), key=seed_key, n_train=16, lr_ratio=5.0)["history"]["samples"]
    np.testing.assert_array_equal(samples[0, 0, 0, 1, 1, 0], single[0])  # step 0: identical
    np.testing.assert_allclose(samples[0, 0, 0, 1, 1], single, atol=1e-4)
    assert not np.allclose(samples[0, 0, 0, 0, 1, -1], single[-1], atol=1e-4)  # ratio matters


def test_sample_steps_start_at_zero_and_end_at_the_last_step():
    c = small_config(steps=40, n_logs=4)
    assert list(c.sample_steps) == [0, 10, 20, 30, 40]
    assert list(c.log_steps) == [10, 20, 30, 40]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: small_config(generator_loss="wasserstein"), ValueError, "generator_loss"),
        (lambda: small_config(steps=30, n_logs=4), ValueError, "n_logs must divide"),
        (lambda: small_config(r1=-1.0), ValueError, "r1"),
        (lambda: small_config(lr=0.0), ValueError, "lr"),
        (
            lambda: gan.GANConfig(*models.gan_pair(data_dim=3)[:1], models.MLP(2, (4,), 1)),
            ValueError,
            "discriminator.n_in",
        ),
        (
            lambda: gan.GANConfig(models.MLP(2, (4,), 2), models.MLP(2, (4,), 2)),
            ValueError,
            "n_out=1",
        ),
        (lambda: gan.GANConfig("G", models.MLP(2, (4,), 1)), TypeError, "generator must be"),
        (lambda: gan.train(small_config(), ring(), key=KEY, n_train=300), ValueError, "n_train"),
        (lambda: gan.train(small_config(), ring(), key=KEY, g_width=17), ValueError, "g_width"),
        (
            lambda: gan.train(small_config(), ring(), key=KEY, lr_ratio=0.0),
            ValueError,
            "lr_ratio",
        ),
        (lambda: gan.train(small_config(), ring()[:, :1], key=KEY), ValueError, "columns"),
        (
            lambda: gan.train(small_config(), np.full((8, 2), np.nan, np.float32), key=KEY),
            ValueError,
            "NaN",
        ),
        (lambda: gan.train(small_config(), ring(), key=0), TypeError, "key"),
        (
            lambda: gan.sweep(small_config(), ring(), key=KEY, width=[4]),
            TypeError,
            "unknown sweep axis",
        ),
    ],
)
def test_bad_input_names_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_adam_of_the_engine_is_what_the_trainer_uses():
    """The trainer's optimizers are the engine's Adam (itself checked against optax)."""
    c = small_config(b1=0.3)
    g_opt, d_opt = gan.make_train(c)._optimizers(4.0)
    grads = {"w": jnp.ones((2, 2))}
    u_g, _ = g_opt.update(grads, g_opt.init(grads))
    u_d, _ = d_opt.update(grads, d_opt.init(grads))
    ref = optim.adam(1e-3, b1=0.3)
    u_ref, _ = ref.update(grads, ref.init(grads))
    np.testing.assert_allclose(u_g["w"], u_ref["w"])
    np.testing.assert_allclose(u_d["w"], 4.0 * u_ref["w"], rtol=1e-6)  # rate × lr_ratio
