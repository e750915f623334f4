"""The appendix: errata against the chapters' boxes, the glossary's and sources' links, the
cross-validation against single runs, and the evaluation claims (each made to fail)."""

from __future__ import annotations

import dataclasses
import re

import jax
import numpy as np
import pytest

from course.chapters import appendix
from course.engine import data as datasets
from course.engine.train import make_train

TEXT = (appendix.NOTEBOOKS / "A_appendix.md").read_text()
KEY = jax.random.key(0)  # the notebook's key: the study is read back from its run


@pytest.fixture(scope="module")
def study():
    return appendix.evaluation_study(key=KEY)


def section(name: str) -> str:
    return TEXT.split(f"\n## {name}", 1)[1].split("\n## ", 1)[0]


def test_every_box_is_in_the_errata_and_every_erratum_has_its_box():
    found, rows = appendix.boxes(), appendix.errata_rows(TEXT)
    assert len(found) >= 20
    assert appendix.unlisted(found, rows) == []
    assert appendix.unboxed(found, rows) == []


def test_the_errata_check_fails_on_a_missing_row_and_on_a_wrong_chapter(tmp_path):
    (tmp_path / "05_x.md").write_text("> **What the source gets wrong (009 §1).** Wrong.\n")
    found = appendix.boxes(tmp_path)
    assert found == [("009 §1", "05_x")]
    table = "\n## Errata\n\n| box | a | b | chapter |\n|---|---|---|---|\n"
    assert appendix.unlisted(found, appendix.errata_rows(table)) == found
    wrong = table + "| 009 §1 | a | b | [06](06_x.ipynb) |\n"
    assert appendix.unboxed(found, appendix.errata_rows(wrong)) == [("009 §1", "06_x")]
    with pytest.raises(ValueError, match="Errata"):
        appendix.errata_rows("no such section")
    (tmp_path / "06_y.md").write_text(
        "> **What the source gets wrong (009 §2).** One.\n\n> **And (009 §2).** Two.\n"
    )
    twice = appendix.boxes(tmp_path)
    once = appendix.errata_rows(table + "| 009 §1 | a | b | [05](05_x.ipynb) |\n"
                                "| 009 §2 | a | b | [06](06_y.ipynb) |\n")  # fmt: skip
    assert appendix.unlisted(twice, once) == [("009 §2", "06_y")]  # two boxes need two rows


def test_every_glossary_link_points_at_a_chapter_that_uses_the_term():
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \| \[[^]]+\]\(([^)]+)\.ipynb\) \|$",
                      section("Glossary"), re.MULTILINE)  # fmt: skip
    assert len(rows) >= 30
    for chinese, english, stem in rows:
        target = appendix.NOTEBOOKS / f"{stem}.md"
        assert target.exists(), (chinese, stem)
        term = english.split(" (")[0].lower()
        assert term in target.read_text().lower(), f"{stem} never says {term!r} ({chinese})"


def test_every_sources_link_points_at_a_notebook():
    links = re.findall(r"\]\(([^)]+)\.ipynb\)", section("The sources"))
    assert len(links) >= 15
    for stem in links:
        assert (appendix.NOTEBOOKS / f"{stem}.ipynb").exists(), stem


def test_folds_partition_the_examples():
    data = datasets.mnist1d()
    stacked = appendix.fold_datasets(data, 100, 5)
    assert stacked.x_train.shape == (5, 80, 40) and stacked.x_test.shape == (5, 20, 40)
    tested = np.concatenate(list(stacked.x_test))
    np.testing.assert_array_equal(np.sort(tested, axis=0), np.sort(data.x_train[:100], axis=0))
    for j in range(5):  # no example is both trained on and tested on in one fold
        both = (stacked.x_train[j][:, None] == stacked.x_test[j][None]).all(-1)
        assert not both.any()


def test_vmapped_folds_equal_the_folds_trained_one_at_a_time():
    """Reference: the engine's checked single run on each fold, same key; 20 steps, before
    rounding differences are amplified: test losses equal to 1e-5."""
    config = dataclasses.replace(appendix.CONFIG, steps=20, keep_params=False)
    data = datasets.mnist1d()
    vmapped = appendix.cross_validate(config, data, 200, 4, key=KEY)
    stacked = appendix.fold_datasets(data, 200, 4)
    trainer = make_train(config)
    for j, k in enumerate(jax.random.split(KEY, 4)):
        one = jax.tree.map(lambda a, j=j: np.asarray(a)[j], stacked)
        run = trainer(k, one, 150)
        assert vmapped["test_loss"][j] == pytest.approx(
            float(run.history["test_loss"][-1]), abs=1e-5
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: appendix.folds(1000, 3), "divisible"),
        (lambda: appendix.folds(10, 11), "k must be in"),
        (lambda: appendix.folds(1, 2), "n must be in"),
    ],
)
def test_bad_folds_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.slow
def test_the_evaluation_claims_and_their_failures(study):
    found = appendix.Claims(study)
    assert found.spread_follows_the_binomial_formula
    assert found.cross_validation_is_pessimistic
    mean = study.estimates.mean(axis=1, keepdims=True)
    wide = dataclasses.replace(study, estimates=mean + 1.3 * (study.estimates - mean))
    assert not appendix.Claims(wide).spread_follows_the_binomial_formula
    m = np.asarray(appendix.N_EVALS, float)[:, None]
    correction = np.sqrt((appendix.N_POOL - m) / (appendix.N_POOL - 1))
    uncorrected = dataclasses.replace(study, estimates=mean + (study.estimates - mean) / correction)
    assert not appendix.Claims(uncorrected).spread_follows_the_binomial_formula  # pool ignored
    low = dataclasses.replace(study, held_out=float(study.cv.mean()) - 0.01)
    assert not appendix.Claims(low).cross_validation_is_pessimistic
    se = study.cv.std(ddof=1) / np.sqrt(appendix.FOLDS)
    close = dataclasses.replace(study, held_out=float(study.cv.mean() + se))
    assert not appendix.Claims(close).cross_validation_is_pessimistic  # within noise


@pytest.mark.slow
def test_the_explorer_moves_and_its_twin_is_light(study):
    explorer = appendix.explorer(study)
    explorer.set(n_eval=appendix.N_EVALS[-1])
    assert explorer.timings["live"] is False and "binomial" in explorer.last_spec.title
    twin = explorer.twin()
    assert twin.count('"panels"') == len(appendix.N_EVALS)
    assert len(twin.encode()) < 300_000
