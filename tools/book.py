"""The book: ``book.toml`` → Jupyter Book 1 sources → an HTML site that works offline.

``python -m tools.book build`` (what ``make book`` runs):

1. reads ``book.toml`` (title, authors, ordered chapters);
2. takes each chapter's executed notebook from ``_build/executed/`` when it was
   executed from the current sources (the nbval run of ``make test`` saves them
   there, so CI executes each notebook once), and executes it otherwise;
3. drops live-widget outputs, which need a kernel (each explorer's static twin,
   an HTML output of the same cell, stays);
4. writes ``_config.yml``, ``_toc.yml`` and a landing page (with a picture drawn by each
   chapter's own code) into ``_build/book_src``;
5. runs ``jupyter-book build``, gives each figure its alt text (kept by
   :func:`course.ui.plots.show` in the output's metadata), and checks that no page
   refers to an external script, style sheet or font (MathJax is served from the site).

Why Jupyter Book 1: Jupyter Book 2 (mystmd) fetches its theme from the network
at build time and fails offline; Jupyter Book 1 (Sphinx, sphinx-book-theme,
MyST-NB) builds offline once launch buttons and thebe are off, the ipywidgets
CDN scripts are dropped and MathJax is vendored (``sphinx-mathjax-offline``).

``python -m tools.book readme`` rewrites the README's chapter list from ``book.toml``.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from tools import font

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
EXECUTED = BUILD / "executed"
SOURCE = BUILD / "book_src"
SITE = BUILD / "book" / "_build" / "html"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
README_START, README_END = "<!-- chapters:start -->", "<!-- chapters:end -->"


@dataclasses.dataclass(frozen=True)
class Chapter:
    """One chapter: its notebook (relative to the repository), title and one-line summary."""

    file: str
    title: str
    summary: str

    @property
    def path(self) -> Path:
        """Absolute path of the notebook."""
        return ROOT / self.file

    @property
    def stem(self) -> str:
        """File name without extension, e.g. ``00_the_scale_map``."""
        return Path(self.file).stem

    @property
    def number(self) -> str:
        """The chapter's number as the book shows it, e.g. ``00`` (``A`` for the appendix)."""
        return self.stem.split("_", 1)[0]


@dataclasses.dataclass(frozen=True)
class Book:
    """The book's metadata and its ordered chapters."""

    title: str
    subtitle: str
    author: str
    copyright: str
    description: str
    chapters: tuple[Chapter, ...]


def load(path: Path = ROOT / "book.toml") -> Book:
    """Read and validate ``book.toml``."""
    data = tomllib.loads(Path(path).read_text())
    meta = data.get("book", {})
    missing = [k for k in ("title", "author") if k not in meta]
    if missing:
        raise ValueError(f"{path}: [book] lacks {missing}")
    chapters = []
    for i, ch in enumerate(data.get("chapter", [])):
        lacking = [k for k in ("file", "title", "summary") if k not in ch]
        if lacking:
            raise ValueError(f"{path}: chapter {i} lacks {lacking}")
        chapters.append(Chapter(ch["file"], ch["title"], ch["summary"]))
    if not chapters:
        raise ValueError(f"{path}: no [[chapter]] entries")
    return Book(
        title=meta["title"],
        subtitle=meta.get("subtitle", ""),
        author=meta["author"],
        copyright=str(meta.get("copyright", "")),
        description=" ".join(meta.get("description", "").split()),
        chapters=tuple(chapters),
    )


def chapter_table(book: Book) -> str:
    """The README's chapter list (a Markdown table) generated from the book."""
    lines = ["| # | chapter | what it shows |", "|---|---|---|"]
    for ch in book.chapters:
        lines.append(f"| {ch.number} | [{ch.title}]({ch.file}) | {ch.summary} |")
    return "\n".join(lines)


def update_readme(book: Book, readme: Path = ROOT / "README.md", *, write: bool = True) -> bool:
    """Regenerate the chapter list between the README's markers; return True if it changed."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} lacks the markers {README_START} … {README_END}")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_START}\n{chapter_table(book)}\n{README_END}{tail}"
    if write and new != text:
        readme.write_text(new)
    return new != text


def source_hash(notebook: Path) -> str:
    """Hash of a notebook's cell sources and of the ``course`` package's code and assets.

    The assets count: a twin's HTML output embeds ``twin.js``, so a changed renderer must
    make every executed copy stale.
    """
    digest = hashlib.sha256()
    nb = json.loads(Path(notebook).read_text())
    for cell in nb["cells"]:
        digest.update(cell["cell_type"].encode())
        src = cell["source"]
        digest.update(("".join(src) if isinstance(src, list) else src).encode())
    assets = font.ASSET.parent  # course/ui/assets
    for path in sorted([*(ROOT / "course").rglob("*.py"), *assets.iterdir()]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def executed_path(chapter: Chapter) -> Path:
    """Where the executed copy of a chapter's notebook is kept."""
    return EXECUTED / f"{chapter.stem}.ipynb"


def is_current(chapter: Chapter) -> bool:
    """Whether the executed copy exists and was executed from the current sources."""
    path = executed_path(chapter)
    if not path.exists():
        return False
    return course_meta(json.loads(path.read_text())).get("source_hash") == source_hash(chapter.path)


def course_meta(nb: dict[str, Any]) -> dict[str, Any]:
    """What the course keeps in an executed notebook's metadata (source hash, run time)."""
    return nb.get("metadata", {}).get("course", {})


def executed_seconds(chapter: Chapter) -> float | None:
    """How long the executed copy's cells took to run (None: unknown or not executed)."""
    path = executed_path(chapter)
    if not path.exists():
        return None
    return course_meta(json.loads(path.read_text())).get("seconds")


def save_executed(
    notebook: Path, cells_outputs: list[list[dict]], out: Path, seconds: float | None = None
) -> None:
    """Write ``notebook`` with the given outputs (one list per code cell) to ``out``.

    ``seconds``, the time its cells took, is kept in the metadata and shown on its page.
    """
    nb = json.loads(Path(notebook).read_text())
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell, outputs in zip(code_cells, cells_outputs, strict=False):
        cell["outputs"] = outputs
    meta = {"source_hash": source_hash(notebook)}
    if seconds is not None:
        meta["seconds"] = round(float(seconds), 1)
    nb.setdefault("metadata", {})["course"] = meta
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(nb, indent=1))


def execute(chapter: Chapter, timeout: int = 900) -> None:
    """Execute a chapter's notebook with nbclient and save it as the executed copy."""
    import nbclient
    import nbformat

    print(f"executing {chapter.file}", flush=True)
    nb = nbformat.read(chapter.path, as_version=4)
    start = time.perf_counter()
    nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start  # kernel start included: a little over the cells'
    outputs = [c.get("outputs", []) for c in nb.cells if c.cell_type == "code"]
    save_executed(
        chapter.path,
        [[dict(o) for o in outs] for outs in outputs],
        executed_path(chapter),
        seconds=seconds,
    )


def with_run_time(nb: dict[str, Any]) -> dict[str, Any]:
    """Add a line under the chapter's opening cell: how long its cells took to run."""
    seconds = course_meta(nb).get("seconds")
    if seconds is None:
        return nb
    line = f"*Run time: this chapter's cells ran in {seconds:.0f} s when this page was built.*"
    nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": line})
    return nb


def strip_live_widgets(nb: dict[str, Any]) -> dict[str, Any]:
    """Remove what only a live kernel can show: widget views and outputs made only of them.

    An output that carries another rich form (the explorer's static twin as
    ``text/html``) keeps that form; a progress bar (widget + text fallback) goes.
    """
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                rich = {k: v for k, v in data.items() if k not in (WIDGET_MIME, "text/plain")}
                if not rich:
                    continue
                out = {**out, "data": rich}
            kept.append(out)
        cell["outputs"] = kept
    return nb


def config_yaml(book: Book) -> str:
    """Jupyter Book's ``_config.yml`` for an offline site."""
    config = {
        "title": book.title,
        "author": book.author,
        "copyright": book.copyright,
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence", "dollarmath", "amsmath"]},
        "html": {
            "use_repository_button": False,
            "use_issues_button": False,
            "use_edit_page_button": False,
            "home_page_in_navbar": True,
            "extra_footer": "Built offline from book.toml.",
        },
        "launch_buttons": {
            "thebe": False,
            "binderhub_url": "",
            "jupyterhub_url": "",
            "colab_url": "",
            "deepnote_url": "",
        },
        "repository": {"url": ""},
        "sphinx": {
            "config": {
                # Jupyter Book's default list without sphinx_thebe (its pages point at
                # unpkg.com) and intersphinx (fetches inventories); plus vendored MathJax.
                "extensions": [
                    "sphinx_togglebutton",
                    "sphinx_copybutton",
                    "myst_nb",
                    "jupyter_book",
                    "sphinx_external_toc",
                    "sphinx_comments",
                    "sphinx_design",
                    "sphinx_book_theme",
                    "sphinx_multitoc_numbering",
                    "sphinx-mathjax-offline",
                ],
                "nb_ipywidgets_js": {},
                "html_static_path": ["_static"],
                "html_css_files": ["course.css"],
                "html_show_sourcelink": False,
                # a result's summary is read from its page, which browsers refuse from file://
                "html_show_search_summary": False,
                "html_context": {"default_mode": "light"},
                "suppress_warnings": ["mystnb.unknown_mime_type"],
            },
        },
    }
    return json.dumps(config, indent=2, ensure_ascii=False)  # JSON is valid YAML


def toc_yaml(book: Book) -> str:
    """Jupyter Book's ``_toc.yml``: the landing page, then the chapters in order."""
    toc = {
        "format": "jb-book",
        "root": "intro",
        "chapters": [{"file": ch.stem} for ch in book.chapters],
    }
    return json.dumps(toc, indent=2)


THUMBNAIL_TAG = "thumbnail"  # a code cell with this tag gives its chapter's picture
THUMBNAIL_PX = 360  # width of a chapter's picture on the landing page
PICTURES = "_static/chapters"  # where the landing page's pictures live in the sources


@dataclasses.dataclass(frozen=True)
class Picture:
    """A chapter's picture on the landing page: PNG bytes and their alt text."""

    png: bytes
    alt: str


def images(nb: dict[str, Any]) -> list[tuple[dict[str, Any], bytes, str]]:
    """Every PNG output of a notebook: (its cell, the bytes, its alt text or "")."""
    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            data = out.get("data", {}).get("image/png")
            if data is None:
                continue
            png = base64.b64decode("".join(data) if isinstance(data, list) else data)
            meta = out.get("metadata", {}).get("image/png", {})
            cell_alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
            found.append((cell, png, meta.get("alt") or cell_alt))
    return found


def picture(nb: dict[str, Any]) -> Picture | None:
    """A chapter's picture, made by its own code: the first figure of the cell tagged
    ``thumbnail``, else its first figure, shrunk to :data:`THUMBNAIL_PX` wide."""
    from PIL import Image

    found = images(nb)
    if not found:
        return None
    tagged = [f for f in found if THUMBNAIL_TAG in f[0].get("metadata", {}).get("tags", [])]
    _, png, alt = (tagged or found)[0]
    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = round(image.height * THUMBNAIL_PX / image.width)
    out = io.BytesIO()
    image.resize((THUMBNAIL_PX, height), Image.LANCZOS).save(out, format="PNG", optimize=True)
    return Picture(out.getvalue(), alt)


def conda_env_name(path: Path = ROOT / "environment.yml") -> str:
    """The environment's name in ``environment.yml`` (what ``conda activate`` takes)."""
    match = re.search(r"^name:\s*(\S+)", path.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{path} names no environment (a 'name:' line)")
    return match.group(1)


def intro_markdown(book: Book, pictures: dict[str, Picture] | None = None) -> str:
    """The landing page: what the course is, the chapter map with a picture from each
    chapter, and how to run it live (``make lab``, conda, Binder)."""
    pictures = pictures or {}
    lines = [f"# {book.title}", "", f"*{book.subtitle}*", "", book.description, ""]
    lines += [
        "The question in one line: what does the test loss $L(N, D)$ of a model with $N$ "
        "parameters trained on $D$ examples look like, and what can be done when $N$, $D$ "
        "or the compute $C \\approx 6ND$ is scarce?",
        "",
        "**Who it is for.** Readers who know some Python and NumPy and want to see, by "
        "measurement rather than by slogan, what more data, a bigger model or more compute "
        "buys. Each chapter says at its top what it needs and what you will learn.",
        "",
        "## Chapters",
        "",
        "Each picture is a figure the chapter's own code drew (the first, or one its author "
        "chose), taken from the run of the notebook this site was built from.",
        "",
        "::::{grid} 1 2 2 2",
        ":gutter: 2",
        "",
    ]
    for ch in book.chapters:
        lines += [f":::{{grid-item-card}} {ch.number} · {ch.title}", f":link: {ch.stem}",
                  ":link-type: doc"]  # fmt: skip
        pic = pictures.get(ch.stem)
        if pic is not None:
            lines.append(f":img-top: {PICTURES}/{ch.stem}.png")
            if pic.alt.strip():  # without it the image has no alt text: test_book reports it
                lines.append(f":img-alt: {' '.join(pic.alt.split())}")
        lines += ["", ch.summary, ":::", ""]
    lines += [
        "::::",
        "",
        "Every live explorer of the notebooks (sliders that retrain a model in JupyterLab) "
        "appears here as a static twin: its controls switch between results computed in "
        "advance over the same grid.",
        "",
        "## Run it live",
        "",
        "On a machine with Python 3.11, pip and `make`, from the course's folder, one command "
        "makes the environment (a virtual environment with the pinned packages, from PyPI) "
        "and opens JupyterLab on the chapters; the README says what else the tests need "
        "(Chromium and fonts for the browser tests):",
        "",
        "```bash",
        "make lab",
        "```",
        "",
        "`make test` then runs every notebook and every test, as the course's CI does. "
        "With conda instead, `environment.yml` holds the same pins; from the course's folder:",
        "",
        "```bash",
        "conda env create -f environment.yml",
        f"conda activate {conda_env_name()}",
        "python tools/lab.py",
        "```",
        "",
        "(`tools/lab.py` is what `make lab` starts: JupyterLab with one entry per chapter and "
        "idle kernels shut down.) Binder (mybinder.org) can build an image from the same "
        "`environment.yml`; the course has not been tried there. Once installed it needs no "
        "internet and no GPU: every data set is generated or ships with a package.",
        "",
    ]
    return "\n".join(lines)


def alt_texts(notebooks: list[dict[str, Any]]) -> dict[str, str]:
    """Alt text of every notebook figure, by the SHA-256 of its PNG bytes (MyST-NB's
    file name for it in ``_images/``)."""
    return {hashlib.sha256(png).hexdigest(): alt
            for nb in notebooks for _, png, alt in images(nb) if alt}  # fmt: skip


IMG = re.compile(r'<img alt="[^"]*" src="(_images/([0-9a-f]{64})\.png)"')


def add_alt_texts(site: Path, alts: dict[str, str]) -> int:
    """Give each notebook figure in the site's pages its alt text (MyST-NB writes the file
    name there); return how many images were labelled."""
    count = 0
    for page in site.glob("*.html"):
        text = page.read_text()

        def label(m: re.Match) -> str:
            nonlocal count
            alt = alts.get(m.group(2))
            if alt is None:
                return m.group(0)
            count += 1
            return f'<img alt="{html.escape(" ".join(alt.split()), quote=True)}" src="{m.group(1)}"'

        new = IMG.sub(label, text)
        if new != text:
            page.write_text(new)
    return count


# The book's own CJK subset (tools/font.py), last in the font stacks: used only for the
# characters a reader's fonts lack, so Chinese quotes never show as empty boxes offline.
COURSE_CSS = f"""@font-face {{
  font-family: "Course CJK";
  src: url("{font.ASSET.name}") format("woff");
  unicode-range: {font.UNICODE_RANGE};
}}
:root {{
  --pst-font-family-base: var(--pst-font-family-base-system), "Course CJK";
  --pst-font-family-heading: var(--pst-font-family-base-system), "Course CJK";
  --pst-font-family-monospace: var(--pst-font-family-monospace-system), "Course CJK";
}}
"""


def write_sources(book: Book, src: Path = SOURCE) -> dict[str, str]:
    """Write the Jupyter Book sources (config, toc, landing page and its pictures,
    notebooks) into ``src``; return the figures' alt texts, by image hash (:func:`alt_texts`).
    """
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    static = src / "_static"
    static.mkdir()
    (static / "course.css").write_text(COURSE_CSS)
    shutil.copy(font.ASSET, static / font.ASSET.name)
    (src / "_config.yml").write_text(config_yaml(book))
    (src / "_toc.yml").write_text(toc_yaml(book))
    pictures, notebooks = {}, []
    (static / "chapters").mkdir()
    for ch in book.chapters:
        nb = with_run_time(strip_live_widgets(json.loads(executed_path(ch).read_text())))
        (src / f"{ch.stem}.ipynb").write_text(json.dumps(nb, indent=1))
        notebooks.append(nb)
        pic = picture(nb)
        if pic is not None:
            pictures[ch.stem] = pic
            (src / PICTURES / f"{ch.stem}.png").write_bytes(pic.png)
    (src / "intro.md").write_text(intro_markdown(book, pictures))
    return alt_texts(notebooks)


EXTERNAL = re.compile(
    r"""(?:<script[^>]*\bsrc|<link[^>]*\bhref|<img[^>]*\bsrc|@import\s+(?:url\()?|url\()\s*=?\s*["']?(https?:)?//""",
    re.IGNORECASE,
)


def unlabelled_images(site: Path = SITE) -> list[str]:
    """Every image in the site's pages whose alt text is missing or only a file name."""
    found = []
    for page in sorted(site.glob("*.html")):
        for tag in re.findall(r"<img\b[^>]*>", page.read_text()):
            alt = re.search(r'\balt="([^"]*)"', tag)
            text = html.unescape(alt.group(1)).strip() if alt else ""
            if not text or re.fullmatch(r"\S*\.(png|jpe?g|gif|svg)", text):
                found.append(f"{page.name}: {tag[:120]}")
    return found


def external_references(site: Path = SITE) -> list[str]:
    """Every reference to an external URL for scripts, styles, fonts or images in the site."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css"):
            continue
        text = path.read_text(errors="replace")
        for m in EXTERNAL.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            snippet = text[m.start() : m.end() + 60].split("\n")[0]
            found.append(f"{path.relative_to(site)}:{line}: {snippet}")
    return found


def build(*, execute_missing: bool = True) -> Path:
    """Build the site; return the path of its ``index.html``."""
    book = load()
    for ch in book.chapters:
        if not ch.path.exists():
            raise FileNotFoundError(f"book.toml lists {ch.file}, which does not exist")
        if not is_current(ch):
            if not execute_missing:
                raise RuntimeError(f"{ch.file} has no current executed copy in {EXECUTED}")
            execute(ch)
    alts = write_sources(book)
    out = BUILD / "book"
    if out.exists():
        shutil.rmtree(out)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb),
        "build",
        str(SOURCE),
        "--path-output",
        str(out),
        "--builder",
        "html",
        "-W",
        "-n",
        "--keep-going",
    ]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    labelled = add_alt_texts(SITE, alts)
    print(f"alt text on {labelled} figures", flush=True)
    problems = external_references(SITE)
    if problems:
        raise RuntimeError("the site refers to external URLs:\n" + "\n".join(problems))
    index = SITE / "index.html"
    print(f"book: {index}")
    return index


def main(argv: list[str] | None = None) -> int:
    """Command line: ``build`` or ``readme``."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.book", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["build", "readme"])
    args = parser.parse_args(argv)
    if args.command == "build":
        build()
    else:
        changed = update_readme(load())
        print("README chapter list", "updated" if changed else "already current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
