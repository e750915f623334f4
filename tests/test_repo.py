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
    numbers = [ch.number for ch in BOOK.chapters]
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


@pytest.mark.parametrize("chapter", BOOK.chapters, ids=lambda c: c.stem)
def test_the_setup_cell_is_collapsed_on_the_book_page(chapter):
    """Plumbing (imports, keys) is collapsed behind a toggle in the book: the first code
    cell of every chapter carries MyST-NB's ``hide-input`` tag."""
    nb = json.loads(chapter.path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "import" in "".join(first["source"])
    assert "hide-input" in first["metadata"].get("tags", []), chapter.file


def _png(width: int, height: int, colour: tuple[int, int, int]) -> str:
    import base64
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_chapter_picture_is_its_tagged_figure_else_its_first_shrunk_for_the_landing_page():
    """The landing page's picture of a chapter is a figure the chapter drew (the cell tagged
    ``thumbnail``, else the first), THUMBNAIL_PX wide, with that figure's alt text; a chapter
    without figures has none."""
    import io

    from PIL import Image

    def cell(colour, alt, tags=()):
        out = {"output_type": "display_data", "data": {"image/png": _png(900, 300, colour)},
               "metadata": {"image/png": {"alt": alt}}}  # fmt: skip
        return {"cell_type": "code", "metadata": {"tags": list(tags)}, "outputs": [out]}

    first, tagged = cell((255, 0, 0), "red"), cell((0, 0, 255), "blue", tags=["thumbnail"])
    cases = [([first, tagged], (0, 0, 255), "blue"), ([first], (255, 0, 0), "red")]
    for cells, colour, alt in cases:
        pic = book.picture({"cells": cells})
        image = Image.open(io.BytesIO(pic.png))
        assert image.size == (book.THUMBNAIL_PX, book.THUMBNAIL_PX // 3)
        assert image.getpixel((10, 10)) == colour and pic.alt == alt
    assert book.picture({"cells": [{"cell_type": "markdown", "source": "x"}]}) is None


def test_the_landing_page_shows_each_picture_and_how_to_run_the_course():
    pic = book.Picture(b"", "curves of test loss")
    intro = book.intro_markdown(BOOK, {BOOK.chapters[1].stem: pic})
    assert intro.count(":::{grid-item-card}") == len(BOOK.chapters)
    assert intro.count(":img-top:") == 1 and ":img-alt: curves of test loss" in intro
    assert "make lab" in intro and "conda env create -f environment.yml" in intro
    assert "python tools/lab.py" in intro  # conda users get make lab's JupyterLab too
    name = re.search(r"^name: (\S+)", (ROOT / "environment.yml").read_text(), re.M).group(1)
    assert f"conda activate {name}" in intro


def test_figures_get_their_alt_text_by_image_hash_and_unlabelled_ones_are_found(tmp_path):
    import base64
    import hashlib

    png = _png(20, 10, (0, 128, 0))
    digest = hashlib.sha256(base64.b64decode(png)).hexdigest()
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [
        {"output_type": "display_data", "data": {"image/png": png},
         "metadata": {"image/png": {"alt": 'a "green" box'}}}]}]}  # fmt: skip
    alts = book.alt_texts([nb])
    assert alts == {digest: 'a "green" box'}
    other = "0" * 64
    (tmp_path / "p.html").write_text(
        f'<img alt="_images/{digest}.png" src="_images/{digest}.png" />'
        f'<img alt="_images/{other}.png" src="_images/{other}.png" /><img src="x.png">'
    )
    assert len(book.unlabelled_images(tmp_path)) == 3
    assert book.add_alt_texts(tmp_path, alts) == 1
    assert 'alt="a &quot;green&quot; box"' in (tmp_path / "p.html").read_text()
    assert len(book.unlabelled_images(tmp_path)) == 2  # the unknown figure, the alt-less one


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


def test_the_slowest_notebooks_start_first_and_each_keeps_its_cell_order():
    """nbval's two workers take whole notebooks in collection order (the Makefile turns off
    xdist's reordering by cell count): the slow ones go first, so both workers finish
    together, and a notebook's cells stay in their order."""
    from types import SimpleNamespace

    from tools import nbval_capture

    stems = [ch.stem for ch in BOOK.chapters]
    for number in nbval_capture.SLOWEST_FIRST:  # the list names real notebooks
        assert any(stem.startswith(f"{number}_") for stem in stems), number
    items = [SimpleNamespace(path=ROOT / "notebooks" / f"{stem}.ipynb", cell=cell)
             for stem in stems for cell in range(3)]  # fmt: skip
    nbval_capture.pytest_collection_modifyitems(items)
    order = list(dict.fromkeys(item.path.stem[:2] for item in items))
    assert order[: len(nbval_capture.SLOWEST_FIRST)] == list(nbval_capture.SLOWEST_FIRST)
    assert order[len(nbval_capture.SLOWEST_FIRST) :] == [
        s[:2] for s in stems if s[:2] not in nbval_capture.SLOWEST_FIRST
    ]
    for stem in stems:
        assert [i.cell for i in items if i.path.stem == stem] == [0, 1, 2]
    makefile = (ROOT / "Makefile").read_text()
    notebook_tests = re.search(r"^NOTEBOOK_TESTS\s*:=(.*)$", makefile, re.M).group(1)
    assert "--dist loadfile" in notebook_tests and "--no-loadscope-reorder" in notebook_tests
