"""course.engine.memo: a remembered study is read back only when nothing that made it changed."""

from __future__ import annotations

import dataclasses
import pickle
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.engine import memo
from course.engine.models import MLP

calls: list[dict] = []  # lower case: not one of the constants the fingerprint reads
SCALE = 2.0  # an upper-case module constant the study reads


@memo.on_disk(ignore=("progress",))
def study(*, key: jax.Array, sizes: list[int], model=None, progress: bool = True) -> dict:
    """A stand-in for a chapter study: a pure function of its arguments and SCALE."""
    calls.append({"sizes": sizes, "progress": progress})
    x = jax.random.normal(key, (len(sizes), 3))
    return {"x": x * SCALE, "sizes": np.asarray(sizes)}


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_RESULTS_CACHE", raising=False)
    calls.clear()
    return tmp_path


def test_the_same_call_is_read_back_and_equals_what_was_computed(results):
    first = study(key=jax.random.key(0), sizes=[1, 2])
    again = study(key=jax.random.key(0), sizes=[1, 2], progress=False)  # progress is ignored
    assert len(calls) == 1
    assert len(list(results.glob("*/*.pkl"))) == 1
    np.testing.assert_array_equal(np.asarray(again["x"]), np.asarray(first["x"]))
    assert isinstance(again["x"], jax.Array)  # read back as the type it was computed as


@pytest.mark.parametrize(
    "change",
    [
        {"key": jax.random.key(1)},
        {"sizes": [1, 3]},
        {"sizes": (1, 2)},  # a tuple is not the list
        {"model": MLP(3, (4,), 2)},
    ],
    ids=["key", "values", "type", "dataclass"],
)
def test_any_changed_argument_computes_afresh(change):
    base = {"key": jax.random.key(0), "sizes": [1, 2], "model": MLP(3, (5,), 2)}
    study(**base)
    study(**(base | change))
    assert len(calls) == 2


def test_a_changed_module_constant_computes_afresh(monkeypatch):
    first = study(key=jax.random.key(0), sizes=[1])
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 3.0)  # a student's `chapter.X = ...`
    second = study(key=jax.random.key(0), sizes=[1])
    assert len(calls) == 2
    np.testing.assert_allclose(np.asarray(second["x"]), 1.5 * np.asarray(first["x"]), rtol=1e-6)


def test_changed_source_changes_the_code_fingerprint(tmp_path, monkeypatch):
    package = tmp_path / "course"
    package.mkdir()
    (package / "a.py").write_text("X = 1\n")
    monkeypatch.setattr(memo, "PACKAGE_ROOT", package)
    memo.code_fingerprint.cache_clear()
    try:
        before = memo.code_fingerprint()
        (package / "a.py").write_text("X = 2\n")
        memo.code_fingerprint.cache_clear()
        assert memo.code_fingerprint() != before
    finally:
        memo.code_fingerprint.cache_clear()


def test_switched_off_or_unreadable_arguments_always_compute(monkeypatch, results):
    study(key=jax.random.key(0), sizes=[1], model=lambda x: x)  # a function: no fingerprint
    study(key=jax.random.key(0), sizes=[1], model=lambda x: x)
    assert len(calls) == 2 and not list(results.glob("*/*.pkl"))
    monkeypatch.setenv("COURSE_RESULTS_CACHE", "0")
    study(key=jax.random.key(0), sizes=[1])
    study(key=jax.random.key(0), sizes=[1])
    assert len(calls) == 4 and not list(results.glob("*/*.pkl"))


def test_a_damaged_file_is_computed_again_and_replaced(results):
    first = study(key=jax.random.key(0), sizes=[1, 2])
    (path,) = results.glob("*/*.pkl")
    path.write_bytes(path.read_bytes()[:20])  # truncated, as by a killed writer
    again = study(key=jax.random.key(0), sizes=[1, 2])
    assert len(calls) == 2
    np.testing.assert_array_equal(np.asarray(again["x"]), np.asarray(first["x"]))
    assert pickle.loads(path.read_bytes())["sizes"].tolist() == [1, 2]


def test_fingerprints_tell_keys_arrays_and_dataclasses_apart():
    def fp(**arguments):
        return memo.fingerprint(study.uncached, arguments)

    assert fp(a=jax.random.key(0)) != fp(a=jax.random.key(1))
    assert fp(a=jax.random.key(0)) != fp(a=jax.random.key_data(jax.random.key(0)))
    assert fp(a=jnp.zeros(3)) != fp(a=jnp.zeros(3, jnp.int32))  # dtype
    assert fp(a=np.zeros((2, 3))) != fp(a=np.zeros((3, 2)))  # shape
    assert fp(a=np.zeros(3, np.float32)) == fp(a=jnp.zeros(3))  # by value, not by container
    assert fp(a=1) != fp(a=1.0) and fp(a=1) != fp(a=True)
    assert fp(a=MLP(3, (4,), 2)) != fp(a=MLP(3, (4, 4), 2))

    @dataclasses.dataclass
    class Holder:
        f: object

    with pytest.raises(memo.FingerprintError):
        fp(a=Holder(f=print))


def test_ignore_must_name_an_argument():
    with pytest.raises(ValueError, match=r"ignore: .* no argument 'verbose'"):
        memo.on_disk(ignore=("verbose",))(study.uncached)


def test_results_of_older_code_are_removed_when_new_code_keeps_one(results, monkeypatch):
    """Guards the disk: each code version has its folder; the first result kept under new
    code removes the older folders (and nothing else in the results directory)."""
    study(key=jax.random.key(0), sizes=[1])
    (old,) = [p for p in results.iterdir() if p.is_dir()]
    (results / "notes.txt").write_text("the user's")  # not a code folder: left alone
    monkeypatch.setattr(memo, "code_fingerprint", lambda: "f" * 64)  # new code
    study(key=jax.random.key(0), sizes=[1])
    assert len(calls) == 2  # new code: computed afresh
    folders = [p.name for p in results.iterdir() if p.is_dir()]
    assert folders == ["f" * 16] and not old.exists()
    assert (results / "notes.txt").exists()


def test_a_disk_that_cannot_keep_results_still_returns_them(tmp_path, monkeypatch):
    """Guards _store: an unwritable results directory costs the saving, never the answer."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(blocker / "results"))  # under a file
    out = study(key=jax.random.key(0), sizes=[1, 2])
    assert out["sizes"].tolist() == [1, 2] and len(calls) == 1
