"""The built site (run after `make book`): chapters in order, offline, within the page budget."""

from __future__ import annotations

import re

import pytest

from tools import book

pytestmark = pytest.mark.book
BOOK = book.load()


@pytest.fixture(scope="module")
def site():
    index = book.SITE / "index.html"
    assert index.exists(), "build the book first (`make book`)"
    return book.SITE


def test_landing_page_lists_the_chapters_in_book_order(site):
    html = (site / "intro.html").read_text()
    nav = re.findall(r'href="((?:\d\d|[A-Z])_[a-z0-9_]+)\.html"', html)  # chapters, appendix
    order = list(dict.fromkeys(nav))
    assert order == [ch.stem for ch in BOOK.chapters]
    for ch in BOOK.chapters:
        page = (site / f"{ch.stem}.html").read_text()
        assert ch.title in page


def test_every_image_has_alt_text(site):
    """Each figure (and each picture on the landing page) says in words what it shows."""
    assert book.unlabelled_images(site) == []


def test_the_landing_page_has_a_picture_from_every_chapter_and_how_to_run_it(site):
    html = (site / "intro.html").read_text()
    pictures = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(pictures) == len(BOOK.chapters), pictures
    assert all((site / src).exists() for src in pictures)
    text = re.sub(r"<[^>]+>", "", html)  # code blocks are split into highlighted tokens
    assert "make lab" in text and "conda env create -f environment.yml" in text


@pytest.mark.parametrize("chapter", BOOK.chapters, ids=lambda c: c.stem)
def test_the_setup_cell_is_behind_a_toggle(site, chapter):
    html = (site / f"{chapter.stem}.html").read_text()
    first = re.search(r'<div class="cell[^"]*"', html).group(0)
    assert "tag_hide-input" in first, first


def test_no_page_refers_to_an_external_script_style_font_or_image(site):
    assert book.external_references(site) == []


def test_the_external_reference_check_can_fail(tmp_path):
    (tmp_path / "a.html").write_text('<script src="https://cdn.example.org/x.js"></script>')
    (tmp_path / "b.css").write_text("@font-face { src: url(https://fonts.example.org/f.woff) }")
    assert len(book.external_references(tmp_path)) == 2


# the whole offline site: about 53 MB with 11 chapters, 32 MB of it MathJax and the theme
SITE_BUDGET_MB = 65


def test_the_whole_site_fits_its_budget(site):
    """The site a reader downloads or a host serves stays under its stated budget; a twin
    that grew, or images written twice, would show here first."""
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"site size {total / 1e6:.1f} MB (budget {SITE_BUDGET_MB} MB)")
    assert total < SITE_BUDGET_MB * 1e6


def test_mathjax_is_served_by_the_site(site):
    page = (site / f"{BOOK.chapters[0].stem}.html").read_text()
    src = re.search(r'<script[^>]*src="([^"]*tex-chtml[^"]*)"', page).group(1)
    assert not src.startswith("http") and (site / src.split("?")[0]).exists()


@pytest.mark.parametrize("chapter", BOOK.chapters, ids=lambda c: c.stem)
def test_every_chapter_page_fits_the_2_mb_budget_and_has_no_live_widget(site, chapter):
    page = site / f"{chapter.stem}.html"
    assert page.stat().st_size < 2_000_000
    html = page.read_text()
    assert "application/vnd.jupyter.widget-view+json" not in html
    assert "Traceback (most recent call last)" not in html
    assert "live retraining is warm" not in html  # kernel-only status has no place here
    assert "cells ran in" in html  # the chapter's run time, from its nbval execution
