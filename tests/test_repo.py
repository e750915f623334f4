"""The repository's promises: book.toml, notebooks, README, CI, lock files."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jupytext
import pytest

from tools import book

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BOOK = book.load()


def test_every_notebook_is_listed_in_book_toml_and_every_listed_file_exists():
    listed = [ch.file for ch in BOOK.chapters]
    on_disk = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]
    assert sorted(listed) == on_disk, f"book.toml lists {listed}, notebooks/ holds {on_disk}"
    assert len(set(listed)) == len(listed), "a chapter is listed twice"


def test_notebooks_are_numbered_in_book_order():
    numbers = [ch.stem.split("_", 1)[0] for ch in BOOK.chapters]
    assert all(re.fullmatch(r"\d\d|[A-Z]", n) for n in numbers), numbers
    assert numbers == sorted(numbers), numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} of {path.name} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("chapter", BOOK.chapters, ids=lambda c: c.stem)
def test_first_heading_matches_book_toml(chapter):
    nb = json.loads(chapter.path.read_text())
    first = "".join(nb["cells"][0]["source"]).strip().splitlines()[0]
    assert first == f"# {chapter.title}", f"{chapter.file} starts with {first!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_sync_with_its_myst_twin(path):
    md = path.with_suffix(".md")
    assert md.exists(), f"{path.name} has no paired {md.name} (jupytext --sync)"
    from_md = jupytext.read(md)
    from_ipynb = jupytext.read(path)
    cells = [(c.cell_type, c.source) for c in from_md.cells]
    assert cells == [(c.cell_type, c.source) for c in from_ipynb.cells], (
        f"{path.name} and {md.name} differ; run `jupytext --sync {md.relative_to(ROOT)}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_placeholders(path):
    text = path.read_text()
    for word in ("TODO", "FIXME", "XXX", "TBD", "lorem ipsum"):
        assert not re.search(rf"\b{word}\b", text, re.IGNORECASE if " " in word else 0), (
            f"{path.name} contains {word!r}"
        )


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "-")) and "==" in line:
            name, version = line.split("==", 1)
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_environment_yml_matches_the_lock():
    lock = _pins((ROOT / "requirements" / "lock.txt").read_text().splitlines())
    env_text = (ROOT / "environment.yml").read_text()
    env = _pins(re.sub(r"^\s*-\s*", "", line) for line in env_text.splitlines())
    assert env == lock, "environment.yml and requirements/lock.txt differ; run `make lock`"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "python=3.11" in env_text and ">=3.11" in project["requires-python"]


def test_every_declared_dependency_is_pinned():
    lock = _pins((ROOT / "requirements" / "lock.txt").read_text().splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("test", "book"):
        declared += project["optional-dependencies"][extra]
    for req in declared:
        name = re.split(r"[<>=!\[ ]", req, maxsplit=1)[0].lower().replace("_", "-")
        assert name in lock, f"{name} is declared in pyproject.toml but not pinned in the lock"


def test_readme_chapter_list_is_generated_from_book_toml():
    assert not book.update_readme(BOOK, write=False), "run `python -m tools.book readme`"


def test_readme_quick_start_has_exactly_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(make \w+)\s*$", quick, flags=re.MULTILINE)
    assert commands == ["make lab", "make test"], commands
    ci = (ROOT / ".ci" / "run").read_text()
    ci_commands = [ln.strip() for ln in ci.splitlines() if ln.strip().startswith("make")]
    assert ci_commands == ["make test"], ci_commands


def test_book_config_is_generated_for_an_offline_site():
    config = json.loads(book.config_yaml(BOOK))
    assert config["launch_buttons"]["thebe"] is False
    extensions = config["sphinx"]["config"]["extensions"]
    assert "sphinx_thebe" not in extensions and "sphinx-mathjax-offline" in extensions
    toc = json.loads(book.toc_yaml(BOOK))
    assert [c["file"] for c in toc["chapters"]] == [ch.stem for ch in BOOK.chapters]


def test_strip_live_widgets_keeps_the_static_twin_and_drops_progress_bars():
    widget = {"model_id": "x", "version_major": 2, "version_minor": 0}
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "data": {book.WIDGET_MIME: widget, "text/plain": "HBox()"},
                    },
                    {
                        "output_type": "display_data",
                        "data": {
                            book.WIDGET_MIME: widget,
                            "text/html": "<div>twin</div>",
                            "text/plain": "E",
                        },
                    },
                    {"output_type": "stream", "name": "stdout", "text": "hi"},
                ],
            }
        ]
    }
    outs = book.strip_live_widgets(nb)["cells"][0]["outputs"]
    assert [o.get("data", {}).get("text/html") for o in outs] == ["<div>twin</div>", None]
    assert all(book.WIDGET_MIME not in o.get("data", {}) for o in outs)


def test_an_executed_notebook_keeps_its_run_time_and_its_page_shows_it(tmp_path):
    """nbval's capture passes each notebook's cells' total time to save_executed; the book
    puts it under the chapter's opening cell; a copy without it gets no line."""
    chapter = BOOK.chapters[0]
    out = tmp_path / "executed.ipynb"
    n_code = sum(c["cell_type"] == "code" for c in json.loads(chapter.path.read_text())["cells"])
    book.save_executed(chapter.path, [[]] * n_code, out, seconds=12.34)
    nb = json.loads(out.read_text())
    assert nb["metadata"]["course"]["seconds"] == 12.3
    shown = book.with_run_time(json.loads(out.read_text()))
    assert shown["cells"][1]["source"].startswith("*Run time: this chapter's cells ran in 12 s")
    assert len(shown["cells"]) == len(nb["cells"]) + 1
    book.save_executed(chapter.path, [[]] * n_code, out)
    plain = json.loads(out.read_text())
    assert len(book.with_run_time(plain)["cells"]) == len(plain["cells"])


def test_the_course_never_points_at_files_outside_the_repository():
    """Sources are cited by title, author and date, never by a path outside the repository."""
    texts = [*ROOT.glob("notebooks/*.md"), *ROOT.glob("course/**/*.py"), ROOT / "README.md"]
    offenders = [
        str(p.relative_to(ROOT))
        for p in texts
        if re.search(r"shared/seeds|\.\./shared", p.read_text())
    ]
    assert offenders == []


def test_the_book_font_covers_every_cjk_character_the_notebooks_use(tmp_path):
    """The site's own CJK subset (tools/font.py) must have a glyph for every Chinese
    character a chapter quotes, or readers without a CJK font see empty boxes."""
    from tools import font

    lacking = font.characters() - font.covered()
    assert not lacking, f"run `python -m tools.font` to add {''.join(sorted(lacking))}"
    # and the check can fail: a character no chapter uses yet is not in the subset
    page = tmp_path / "99_new.md"
    page.write_text("源代码中的错误")
    assert font.characters([page]) - font.covered()
