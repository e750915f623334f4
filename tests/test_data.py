"""Offline data sets: shapes, determinism, caching, label noise, bad input."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from course.engine import data


def test_mnist1d_is_the_packages_default_dataset_and_is_cached(tmp_path, monkeypatch):
    from mnist1d.data import get_dataset_args, make_dataset

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    state = np.random.get_state()  # noqa: NPY002
    d = data.mnist1d()
    assert np.array_equal(np.random.get_state()[1], state[1]), "global NumPy RNG was reseeded"  # noqa: NPY002
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int32
    assert d.n_classes == 10 and set(np.unique(d.y_train)) == set(range(10))
    ref = make_dataset(get_dataset_args())
    np.testing.assert_allclose(d.x_train, ref["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(d.y_test, ref["y_test"])
    assert list(tmp_path.glob("mnist1d-*.npz"))

    def no_generation(*args):
        raise AssertionError(
            "the second call generated the data again instead of reading the cache"
        )

    monkeypatch.setattr(data, "_generate_mnist1d", no_generation)
    again = data.mnist1d()
    np.testing.assert_array_equal(again.x_train, d.x_train)


def test_digits_are_bundled_8x8_images():
    d = data.digits()
    assert d.x_train.shape[1:] == (8, 8)
    assert d.x_train.shape[0] + d.x_test.shape[0] == 1797
    assert d.x_train.min() >= 0.0 and d.x_train.max() <= 1.0
    assert data.digits(flatten=True).x_train.shape[1:] == (64,)


@pytest.mark.parametrize("kind", data.TWO_D_KINDS)
def test_two_d_sets_are_deterministic_in_the_key(kind):
    a = data.two_d(kind, n_train=300, n_test=50, key=jax.random.key(0), n_classes=3)
    b = data.two_d(kind, n_train=300, n_test=50, key=jax.random.key(0), n_classes=3)
    c = data.two_d(kind, n_train=300, n_test=50, key=jax.random.key(1), n_classes=3)
    assert a.x_train.shape == (300, 2) and a.x_test.shape == (50, 2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert set(np.unique(a.y_train)) == set(range(a.n_classes))


def test_noise_free_circles_lie_on_their_circles():
    d = data.two_d("circles", n_train=200, noise=0.0, key=jax.random.key(0))
    radius = np.linalg.norm(d.x_train, axis=1)
    np.testing.assert_allclose(radius, np.where(d.y_train == 0, 1.0, 0.5), rtol=1e-5)


def test_noise_free_regression_is_exactly_linear():
    d = data.regression(n_train=100, n_features=4, noise=0.0, bias=3.0, key=jax.random.key(0))
    x1 = np.c_[d.x_train, np.ones(100)]
    coef, *_ = np.linalg.lstsq(x1, d.y_train, rcond=None)
    np.testing.assert_allclose(x1 @ coef, d.y_train, rtol=1e-4, atol=1e-3)
    assert coef[-1] == pytest.approx(3.0, abs=1e-3)
    assert np.all((coef[:-1] >= 0) & (coef[:-1] < 100))


def test_text_windows_predict_the_next_character():
    d, corpus = data.text(seq_len=16, n_train=100, n_test=20, n_chars=20_000)
    assert d.x_train.shape == (100, 16) and d.y_train.shape == (100, 16)
    np.testing.assert_array_equal(d.x_train[:, 1:], d.y_train[:, :-1])
    assert d.n_classes == len(corpus.vocab) <= 96
    text = corpus.decode(d.x_train[0])
    np.testing.assert_array_equal(corpus.encode(text), d.x_train[0])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        corpus.encode("\u00e9")


def test_flip_labels_changes_exactly_the_fraction_asked_and_only_training_labels():
    d = data.mnist1d()
    noisy = data.flip_labels(d, 0.2, key=jax.random.key(0))
    changed = noisy.y_train != d.y_train
    assert changed.sum() == 800
    np.testing.assert_array_equal(noisy.y_test, d.y_test)
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() <= 9


def test_split_validation_keeps_the_sets_disjoint():
    """Validation and test together are the old test set, and no example is in both."""
    full = data.mnist1d()
    d = data.split_validation(full, 300)
    assert d.x_val.shape == (300, 40) and d.x_test.shape == (700, 40)
    np.testing.assert_array_equal(np.concatenate([d.x_test, d.x_val]), full.x_test)
    np.testing.assert_array_equal(np.concatenate([d.y_test, d.y_val]), full.y_test)
    test_rows = {row.tobytes() for row in np.asarray(d.x_test)}
    assert not any(row.tobytes() in test_rows for row in np.asarray(d.x_val))
    train_rows = {row.tobytes() for row in np.asarray(d.x_train)}
    assert not any(row.tobytes() in train_rows for row in np.asarray(d.x_val))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: data.two_d("stars", key=jax.random.key(0)),
            ValueError,
            "unknown kind 'stars'; valid: moons, circles",
        ),
        (
            lambda: data.two_d("moons", noise=-1.0, key=jax.random.key(0)),
            ValueError,
            r"noise must be in \[0.0, 5.0\], got -1.0",
        ),
        (
            lambda: data.two_d("moons", n_train=0, key=jax.random.key(0)),
            ValueError,
            r"n_train must be in \[1, 100000\], got 0",
        ),
        (lambda: data.two_d("moons", key=42), TypeError, "key must be a single jax.random key"),
        (lambda: data.mnist1d(n_train=10), ValueError, r"n_train must be in \[100, 50000\]"),
        (
            lambda: data.flip_labels(data.mnist1d(), 1.5, key=jax.random.key(0)),
            ValueError,
            r"fraction must be in \[0.0, 1.0\], got 1.5",
        ),
        (
            lambda: data.digits(test_fraction=1.0),
            ValueError,
            r"test_fraction must be in \(0.0, 1.0\)",
        ),
        (
            lambda: data.regression(n_features=0, key=jax.random.key(0)),
            ValueError,
            r"n_features must be in \[1, 10000\], got 0",
        ),
    ],
)
def test_bad_data_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
