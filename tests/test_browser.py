"""Real browsers: chapter 00 in JupyterLab, and its static twin in the built book.

Debian's Chromium driven by Playwright (``executable_path=/usr/bin/chromium``).
Screenshots land in ``test-artifacts/``.  ``make test`` installs Chromium when missing
(``tools/browser.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from course.engine.distributed import free_port
from tools import book

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`sudo apt-get install "
            "chromium`; `make test` does this when it may)"
        )
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


TWIN_CHAPTERS = book.load().chapters
RUN_ALL = "run_all_seconds"  # a test's property, printed at the end of the run (conftest.py)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a loopback port, serving scratch copies of the chapters (autosave-safe).

    Its kernels use the course's own caches, as `make lab` does: in `make test` the notebook
    stage has just filled the compilation cache, so Run All here takes what a student's
    second visit takes (the whole browser stage would not fit the test budget otherwise).
    ``COURSE_LAB_EMPTY_CACHE=1`` runs every chapter from an empty cache instead.
    """
    root = tmp_path_factory.mktemp("lab")
    for chapter in TWIN_CHAPTERS:
        shutil.copy(chapter.path, root)
    settings = root / "_settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    notebook_settings = root / "_settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    # render every cell (no windowing), so the explorer stays in the page when scrolled away
    (notebook_settings / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    port, token = free_port(), "browser-test-token"
    cmd = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # two test workers: never fall back onto another's port
        f"--LabApp.user_settings_dir={root / '_settings'}",
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / "_runtime")}
    if os.environ.get("COURSE_LAB_EMPTY_CACHE") == "1":
        env["COURSE_CACHE_DIR"] = str(root / "_cache")  # compile cache on, and empty
        env.pop("COURSE_JAX_CACHE", None)
        env.pop("COURSE_RESULTS_DIR", None)  # studies too: computed in the lab, not read
    else:  # the user's caches (or `make test`'s results), not the unit tests' (conftest.py)
        env.pop("COURSE_CACHE_DIR", None)
        env.pop("COURSE_JAX_CACHE", None)
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail("JupyterLab did not start")
    yield base, token
    shut_down_kernels(base, token)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def shut_down_kernels(base: str, token: str) -> None:
    """Shut every kernel down (one chapter at a time on two cores, as `make lab` culls)."""
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}") as r:
        kernels = json.load(r)
    for kernel in kernels:
        urllib.request.urlopen(
            urllib.request.Request(
                f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE"
            )
        )


def kernel_ready(base: str, token: str, timeout: float = 120) -> None:
    """Wait until the notebook's kernel exists and reports idle through the REST API.

    A server error while the kernel starts counts as "not yet" (seen once with two
    JupyterLab servers starting kernels on two busy cores); one that lasts fails the test.
    """
    deadline, last_error = time.time() + timeout, None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/kernels?token={token}") as r:
                kernels = json.load(r)
        except urllib.error.HTTPError as err:
            if err.code < 500:
                raise
            kernels, last_error = [], err
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.5)
    pytest.fail(f"the notebook's kernel did not become idle (last server error: {last_error})")


# every code cell of the open notebook has run and its kernel is idle (the app is exposed
# by --LabApp.expose_app_in_browser; hidden-source cells show no prompt to read)
ALL_RAN = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext.session) return false;
  const code = panel.content.widgets.filter(c => c.model.type === "code");
  return code.length > 0 && code.every(c => c.model.executionCount !== null)
    && panel.sessionContext.session.kernel.status === "idle";
}"""
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def run_all(page, base: str, token: str, stem: str) -> float:
    """Open a chapter, Run All, wait until every cell ran and the kernel is idle; seconds."""
    page.goto(f"{base}/lab/tree/{stem}.ipynb?reset&token={token}")  # only this notebook
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    kernel_ready(base, token)
    for _attempt in range(3):  # a "Run All" sent while the kernel connects can be dropped
        page.click("text=Run", timeout=30_000)
        page.click("text=Run All Cells")
        start = time.perf_counter()
        try:
            page.locator(".jp-InputPrompt", has_text="[1]").first.wait_for(
                state="attached", timeout=30_000
            )
            break
        except Exception:
            page.keyboard.press("Escape")
    page.wait_for_function(ALL_RAN, timeout=600_000, polling=500)
    seconds = time.perf_counter() - start
    kernel_ready(base, token)
    return seconds


def explorer_names(chapter) -> list[str]:
    """The names the chapter's notebook keeps its explorers in (``name = chapter.…explorer(``)."""
    source = Path(chapter.path).with_suffix(".md").read_text()
    return re.findall(r"^(\w+) = chapter\.\w*explorer\(", source, flags=re.M)


def move(page, control) -> None:
    """One step of a slider handle or dropdown, towards the end that has room."""
    if control.evaluate("e => e.tagName") == "SELECT":
        n, i = control.evaluate("e => [e.options.length, e.selectedIndex]")
        control.select_option(index=i + 1 if i < n - 1 else i - 1)
    else:
        control.focus()
        now, top = control.evaluate(
            "e => ['aria-valuenow', 'aria-valuemax'].map(a => Number(e.getAttribute(a)))"
        )
        page.keyboard.press("ArrowRight" if now < top else "ArrowLeft")


def wait_redrawn(page, explorer, before: tuple[str, str], what: str) -> tuple[str, str]:
    """Wait until the explorer's image and status line both changed; return the new pair."""
    handle = explorer.element_handle()
    try:
        page.wait_for_function(
            """([e, src, status]) => e.querySelector(".widget-image").src !== src
                 && e.querySelector(".course-status").innerText !== status
                 && /drawn in/.test(e.querySelector(".course-status").innerText)""",
            arg=[handle, *before],
            timeout=120_000,
        )
    except Exception:
        pytest.fail(f"{what}: the figure or the status line did not change")
    return state(explorer)


def state(explorer) -> tuple[str, str]:
    return (
        explorer.locator(".widget-image").get_attribute("src"),
        explorer.locator(".course-status").inner_text(),
    )


@pytest.mark.slow
@pytest.mark.parametrize("chapter", TWIN_CHAPTERS, ids=lambda c: c.stem)
def test_jupyterlab_runs_the_chapter_and_every_control_redraws(
    browser, lab, chapter, record_property
):
    """A student's path through a chapter in JupyterLab, from an empty cache: Run All with no
    error or stderr output; every control of every explorer moves its figure and status
    line; "retrain live" retrains; a bad ``.set()`` from code raises its clear error."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seconds = run_all(page, base, token, chapter.stem)
    record_property(RUN_ALL, (chapter.stem, seconds))
    stderr = page.locator(STDERR)
    assert stderr.count() == 0, f"stderr or an error: {stderr.first.inner_text()[:600]}"
    explorers = page.locator(".course-explorer")
    names = explorer_names(chapter)
    assert explorers.count() == len(names) >= 1, (explorers.count(), names)
    for e in range(explorers.count()):
        explorer = explorers.nth(e)
        explorer.scroll_into_view_if_needed()
        current = state(explorer)
        # sliders first, dropdowns last: a dropdown may pick a setting where a slider has no
        # effect (chapter 06's linear kernel ignores γ)
        sliders = explorer.locator(".widget-slider .noUi-handle")
        dropdowns = explorer.locator(".widget-dropdown select")
        controls = [sliders.nth(i) for i in range(sliders.count())]
        controls += [dropdowns.nth(i) for i in range(dropdowns.count())]
        assert controls
        for c, control in enumerate(controls):
            move(page, control)
            current = wait_redrawn(page, explorer, current, f"{names[e]} control {c}")
            assert "looked up in" in current[1], current[1]
        live = explorer.locator(".widget-checkbox input")
        if live.count():  # the same point retrained (the same figure), then a live move
            live.check()
            explorer.locator(".course-status", has_text="retrained live").wait_for(timeout=120_000)
            current = state(explorer)
            move(page, controls[0])
            current = wait_redrawn(page, explorer, current, f"{names[e]} live move")
            assert "retrained live in" in current[1], current[1]
    explorers.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"jupyterlab_{chapter.stem}.png"))
    # from code, a value the explorer cannot honour raises (a new cell at the end)
    page.locator(".jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # a new code cell below, in command mode
    page.keyboard.press("Enter")  # edit it
    page.keyboard.type(f"{names[0]}.set(no_such_control=1)")
    page.keyboard.press("Shift+Enter")
    error = page.locator(STDERR, has_text="ValueError")
    error.first.wait_for(state="attached", timeout=60_000)
    assert "unknown control" in error.first.inner_text()
    page.close()
    shut_down_kernels(base, token)


STEP_KEY = """e => e.tagName === "INPUT"
    ? (Number(e.value) < Number(e.max) ? "ArrowRight" : "ArrowLeft")
    : (e.selectedIndex < e.options.length - 1 ? "ArrowDown" : "ArrowUp")"""


@contextlib.contextmanager
def offline_page(browser, page_path: Path, query: str = ""):
    """A page of the built site, opened from disk in a fresh tab that may not leave the machine.

    Yields (page, outside, errors): requests that tried to go anywhere but the disk (aborted)
    and console or script errors, for the test to assert empty when done with the page.
    """
    assert page_path.exists(), "build the book first (`make book`)"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        outside, errors = [], []

        def route(r):
            if r.request.url.startswith(("file://", "data:", "blob:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri() + query)
        page.wait_for_load_state("load")
        yield page, outside, errors
    finally:
        context.close()


@pytest.mark.book
@pytest.mark.parametrize("name", ["index", "intro", "search", "genindex"])
def test_the_landing_search_and_index_pages_load_offline_without_errors(browser, name):
    """The pages that are not chapters: no console error, nothing fetched from outside, and
    on the landing page every chapter's picture loads (screenshot: book_landing.png)."""
    with offline_page(browser, book.SITE / f"{name}.html") as (page, outside, errors):
        if name == "intro":
            pictures = page.locator("img.sd-card-img-top")
            assert pictures.count() == len(TWIN_CHAPTERS)
            pictures.last.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)",
                timeout=10_000,
            )
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(ARTIFACTS / "book_landing.png"), full_page=True)
        page.wait_for_timeout(300)
        assert errors == [], errors
        assert outside == [], f"requests left the machine: {outside}"


@pytest.mark.book
def test_site_search_finds_a_chapter_offline(browser):
    """Sphinx's search runs in the page from the site's own index, opened from disk: a query
    for a term one chapter teaches lists that chapter, without an error (the site shows no
    result summaries, which a browser would have to read from ``file://`` and refuses)."""
    target = next(ch for ch in TWIN_CHAPTERS if ch.stem.startswith("03"))
    path = book.SITE / "search.html"
    with offline_page(browser, path, "?q=backpropagation") as (page, outside, errors):
        page.wait_for_function(
            "() => (document.querySelector('#search-results .search-summary') || {})"
            ".innerText?.startsWith('Search finished')",
            timeout=20_000,
        )
        links = page.locator("#search-results ul.search li a")
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        assert any(h.split("?")[0].split("#")[0] == f"{target.stem}.html" for h in hrefs), hrefs
        assert errors == [] and outside == [], (errors, outside)


@pytest.mark.book
@pytest.mark.parametrize("chapter", TWIN_CHAPTERS, ids=lambda c: c.stem)
def test_book_twins_move_offline_without_errors(browser, chapter):
    page_path = book.SITE / f"{chapter.stem}.html"
    with offline_page(browser, page_path) as (page, outside, errors):
        check_twins_offline(page, chapter, outside, errors)


def check_twins_offline(page, chapter, outside: list, errors: list) -> None:
    """Every twin of a chapter page moves with its first control; MathJax typesets; no
    error and no request that left the machine (screenshots: 00's twin, 10's opening)."""
    if chapter.stem.startswith("10"):
        page.screenshot(path=str(ARTIFACTS / f"book_{chapter.stem}.png"), full_page=False)
    twins = page.locator(".course-twin")
    assert twins.count() >= 1, "the chapter shows no static twin"
    for t in range(twins.count()):
        twin = twins.nth(t)
        twin.scroll_into_view_if_needed()
        figure = twin.locator(".twin-figure")
        before = figure.inner_html()
        title_before = figure.locator(".twin-title").text_content()
        control = twin.locator("input[type=range], select").first
        control.focus()
        # one step towards the end that has room: a control may start at either end
        page.keyboard.press(control.evaluate(STEP_KEY))
        page.wait_for_timeout(150)
        assert figure.inner_html() != before, f"twin {t}: the figure did not change"
        assert figure.locator(".twin-title").text_content() != title_before
    if chapter.stem.startswith("00"):
        twin = twins.first
        assert "n = 906" in twin.locator(".twin-title").text_content()
        twin.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "book_scale_map.png"), full_page=False)
    page.wait_for_function(
        "() => window.MathJax && document.querySelector('mjx-container')", timeout=20_000
    )
    assert errors == [], errors
    assert outside == [], f"requests left the machine: {outside}"


@pytest.mark.book
def test_the_sources_chinese_quotes_are_drawn_with_the_book_font(browser):
    """The site serves its own CJK subset: the font loads from the site, offline, for the
    characters chapter 02 quotes (a reader without a CJK font sees them, not boxes)."""
    quote = next(ch for ch in TWIN_CHAPTERS if ch.stem.startswith("02"))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto((book.SITE / f"{quote.stem}.html").as_uri())
    page.wait_for_load_state("load")
    loaded = page.evaluate(
        """async () => (await document.fonts.load('16px "Course CJK"', '批量梯度下降'))
                       .map(f => f.family)"""
    )
    assert loaded == ['"Course CJK"'] or loaded == ["Course CJK"]
    block = page.locator("blockquote", has_text="批量梯度下降").first
    block.scroll_into_view_if_needed()
    block.screenshot(path=str(ARTIFACTS / "book_chinese_quote.png"))
    page.close()


TEXT_SIZES = """() => [...document.querySelectorAll('.course-twin svg')].map(svg => {
  const box = svg.getBoundingClientRect(), k = box.width / svg.viewBox.baseVal.width;
  const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim());
  return {
    smallest: Math.min(...texts.map(t => parseFloat(t.getAttribute('font-size')) * k)),
    outside: texts.filter(t => {
      const b = t.getBoundingClientRect();
      return b.left < box.left - 1 || b.right > box.right + 1;
    }).map(t => t.textContent),
  };
})"""


@pytest.mark.book
@pytest.mark.parametrize("viewport", [1280, 820])
def test_twin_text_is_at_least_9_px_as_shown_and_stays_inside_its_figure(browser, viewport):
    """Every twin of every chapter, in a wide and a narrow window: no text drawn smaller than
    9 CSS pixels, and no title or label cut off at the figure's edges."""
    page = browser.new_page(viewport={"width": viewport, "height": 900})
    for chapter in TWIN_CHAPTERS:
        page.goto((book.SITE / f"{chapter.stem}.html").as_uri())
        page.wait_for_load_state("load")
        for i, twin in enumerate(page.evaluate(TEXT_SIZES)):
            where = f"{chapter.stem} twin {i} at {viewport} px"
            assert twin["smallest"] >= 9.0, f"{where}: text drawn at {twin['smallest']:.1f} px"
            assert twin["outside"] == [], f"{where}: cut off: {twin['outside']}"
    page.close()


LEGEND_COVER = """() => {
  // every frame of every twin, drawn at the twin's shown width: how many drawn points
  // (path vertices, path segments sampled every 2 px, markers) fall inside a legend's box
  const out = [];
  const twins = window.courseTwin.mounted;
  for (const id of Object.keys(twins)) {
    const data = twins[id], host = document.getElementById(id).querySelector(".twin-figure");
    let worst = {covered: 0, points: 0, frame: null, title: ""}, frames = 0;
    for (const [key, frame] of Object.entries(data.frames)) {
      window.courseTwin.render(host, frame, data.cmap, data.palette);
      frames++;
      for (const legend of host.querySelectorAll("g.legend")) {
        const b = legend.getBBox(), panel = legend.parentNode;
        const plot = panel.querySelector("g[clip-path]");
        const points = [];
        for (const path of plot.querySelectorAll("path")) {
          const v = path.getAttribute("d").split(/[ML]/).filter(Boolean)
                        .map(q => q.split(",").map(Number));
          const moves = path.getAttribute("d").match(/[ML]/g);
          v.forEach((q, i) => {
            if (i > 0 && moves[i] === "L") {
              const p = v[i - 1], n = Math.ceil(Math.hypot(q[0] - p[0], q[1] - p[1]) / 2);
              for (let t = 1; t < n; t++)
                points.push([p[0] + (q[0] - p[0]) * t / n, p[1] + (q[1] - p[1]) * t / n]);
            }
            points.push(q);
          });
        }
        for (const c of plot.querySelectorAll("circle"))
          points.push([+c.getAttribute("cx"), +c.getAttribute("cy")]);
        const frameRect = [...panel.querySelectorAll("rect")]
          .find(r => r.getAttribute("stroke") === "#333").getBBox();
        // data above the top (a diverging run) cross any corner: there the legend may too
        if (points.some(([x, y]) => y < frameRect.y - 0.5)) continue;
        const covered = points.filter(([x, y]) =>
          x >= b.x && x <= b.x + b.width && y >= b.y && y <= b.y + b.height).length;
        if (covered > worst.covered)
          worst = {covered, points: points.length, frame: key, title: frame.title};
      }
    }
    out.push({id, frames, worst});
  }
  return out;
}"""


@pytest.mark.book
@pytest.mark.parametrize("viewport", [1280, 820])
def test_no_twin_legend_covers_what_it_labels(browser, viewport):
    """Every frame of every twin, wide and narrow: a legend box covers no drawn point of its
    own panel (lines sampled every 2 px, markers by their centres) — except in a panel whose
    data run off the top of its range (a diverging run crosses every corner)."""
    page = browser.new_page(viewport={"width": viewport, "height": 900})
    failures = []
    for chapter in TWIN_CHAPTERS:
        page.goto((book.SITE / f"{chapter.stem}.html").as_uri())
        page.wait_for_load_state("load")
        for twin in page.evaluate(LEGEND_COVER):
            if twin["worst"]["covered"]:
                failures.append((chapter.stem, twin))
    page.close()
    assert failures == [], failures


# ---- the twin draws what the spec says --------------------------------------------------

READBACK = """
() => {
  const num = (e, a) => parseFloat(e.getAttribute(a));
  const out = [];
  for (const g of document.querySelectorAll(".twin-figure svg > g")) {
    const frame = [...g.querySelectorAll("rect")].find(r => r.getAttribute("stroke") === "#333");
    if (!frame) {  // a heatmap: its cells, then its marker
      const cells = [...g.querySelectorAll(":scope > rect")].filter(r => !r.getAttribute("stroke"));
      const marker = g.querySelector(".twin-marker");
      out.push({kind: "heatmap",
                cells: cells.map(r => ["x", "y", "width", "height"].map(a => num(r, a))),
                marker: marker && [num(marker, "x"), num(marker, "y"), num(marker, "width"),
                                   num(marker, "height")]});
      continue;
    }
    const box = {x: num(frame, "x"), y: num(frame, "y"),
                 w: num(frame, "width"), h: num(frame, "height")};
    const texts = [...g.querySelectorAll(":scope > text")];
    const xticks = texts.filter(t => Math.abs(num(t, "y") - (box.y + box.h + 16)) < 0.01)
                        .map(t => [num(t, "x"), t.textContent]);
    const yticks = texts.filter(t => Math.abs(num(t, "x") - (box.x - 6)) < 0.01)
                        .map(t => [num(t, "y") - 4, t.textContent]);
    const plot = g.querySelector("g[clip-path]");
    const paths = [...plot.querySelectorAll("path")].map(p =>
      p.getAttribute("d").split(/[ML]/).filter(Boolean).map(q => q.split(",").map(Number)));
    const bands = [...plot.querySelectorAll("polygon")].map(p =>
      p.getAttribute("points").split(" ").map(q => q.split(",").map(Number)));
    const dots = [...plot.querySelectorAll("circle")].map(c => [num(c, "cx"), num(c, "cy")]);
    const vlines = [...plot.querySelectorAll("line")].map(l => num(l, "x1"));
    out.push({kind: "lines", box, xticks, yticks, paths, bands, dots, vlines});
  }
  return out;
}
"""


def _axis(ticks: list, log: bool):
    """value -> pixel, from two of the twin's own tick labels (not from its scale function)."""
    (p0, t0), (p1, t1) = ticks[0], ticks[-1]
    v0, v1 = float(t0), float(t1)
    if log:
        v0, v1 = np.log10(v0), np.log10(v1)

    def to_px(v):
        u = np.log10(v) if log else v
        return p0 + (u - v0) / (v1 - v0) * (p1 - p0)

    return to_px


def readback_spec():
    from course.ui.figures import Figure, Heatmap, Lines, Series, band

    x = np.array([2.0, 10.0, 80.0, 600.0, 5000.0, 50000.0])  # 4.4 decades, no xlim
    y = np.array([0.62, 0.41, 0.33, 0.30, 0.29, 0.287])
    z = np.arange(12).reshape(3, 4) / 11
    return Figure(
        [
            Lines(
                [band(y, 0.03 + 0 * y, x, "with band"), Series(x, y / 2, "dots", markers=True)],
                xlog=True,
                vline=150.0,
                title="log x",
            ),
            Lines(
                [
                    Series([0.0, 1.0, 2.0], [0.0, 0.5, 2.0], "linear"),
                    Series([0.5, 1.5], [1.0, 1.5], "scatter", line=False),
                    Series([0.5], [1.0], "ringed", line=False, hollow=True),
                ],
                xlim=(0, 2),
                ylim=(0, 2),
            ),
            Heatmap(z, ["a", "b", "c", "d"], ["r0", "r1", "r2"], marker=(2, 1), title="map"),
        ],
        title="readback",
    )


def test_the_twin_draws_every_mark_where_the_spec_puts_it(browser, tmp_path):
    """Reads the drawn SVG back through the twin's own axes and checks it against the spec.

    Every line vertex, band vertex, marker dot and the vertical line lands within a pixel
    of where the tick labels put the spec's value (log and linear axes); the heatmap has
    one cell per value and its marker on the right cell; and the log axis, given no limits,
    shows the same ticks as the matplotlib renderer of the live explorer.
    """
    from course.ui import static
    from course.ui.controls import slider

    spec = readback_spec()
    page = tmp_path / "twin.html"
    html = static.twin_html([slider("k", [1])], lambda values: spec)
    page.write_text(f"<html><body>{html}</body></html>")
    tab = browser.new_page()
    tab.goto(page.as_uri())
    panels = tab.evaluate(READBACK)
    tab.close()
    assert [p["kind"] for p in panels] == ["lines", "lines", "heatmap"]

    log_panel, linear_panel, heat = panels
    lines = spec.panels[0]
    X = _axis(log_panel["xticks"], log=True)
    Y = _axis(log_panel["yticks"], log=False)
    with_band, dots = lines.series
    drawn = np.array(log_panel["paths"][0])
    np.testing.assert_allclose(drawn[:, 0], X(np.asarray(with_band.x)), atol=1.0)
    np.testing.assert_allclose(drawn[:, 1], Y(np.asarray(with_band.y)), atol=1.0)
    polygon = np.array(log_panel["bands"][0])  # upper edge left to right, lower edge back
    upper = np.asarray(with_band.y) + np.asarray(with_band.err)
    lower = (np.asarray(with_band.y) - np.asarray(with_band.err))[::-1]
    np.testing.assert_allclose(polygon[:, 1], Y(np.concatenate([upper, lower])), atol=1.0)
    np.testing.assert_allclose(np.array(log_panel["dots"])[:, 1], Y(np.asarray(dots.y)), atol=1.0)
    assert abs(log_panel["vlines"][0] - X(150.0)) <= 1.0

    XL, YL = _axis(linear_panel["xticks"], False), _axis(linear_panel["yticks"], False)
    drawn = np.array(linear_panel["paths"][0])
    np.testing.assert_allclose(drawn[:, 0], XL(np.array([0.0, 1.0, 2.0])), atol=1.0)
    np.testing.assert_allclose(drawn[:, 1], YL(np.array([0.0, 0.5, 2.0])), atol=1.0)
    assert len(linear_panel["paths"]) == 1  # a scatter (line=False) draws no path …
    dots = np.array(linear_panel["dots"])  # … only its markers, the ringed one included
    np.testing.assert_allclose(dots[:, 0], XL(np.array([0.5, 1.5, 0.5])), atol=1.0)
    np.testing.assert_allclose(dots[:, 1], YL(np.array([1.0, 1.5, 1.0])), atol=1.0)

    cells = np.array(heat["cells"])[:12]  # then the colour bar's strips
    assert len(cells) == 12
    col_x = sorted({round(c[0], 3) for c in cells})
    row_y = sorted({round(c[1], 3) for c in cells}, reverse=True)  # row 0 at the bottom
    mx, my = heat["marker"][:2]
    assert min(col_x, key=lambda v: abs(v - mx)) == col_x[2]
    assert min(row_y, key=lambda v: abs(v - my)) == row_y[1]

    # the live renderer labels the same log ticks when no limits are given
    assert [t for _, t in log_panel["xticks"]] == _matplotlib_xtick_labels(spec)


def test_the_twin_labels_its_figure_with_the_same_words_as_the_png(browser, tmp_path):
    """The twin's svg carries, as its aria-label, the sentence the book gives the PNG of the
    same figure as alt text (course.ui.figures.describe, written again in twin.js)."""
    from course.ui import static
    from course.ui.controls import slider
    from course.ui.figures import Figure, Heatmap, Lines, Series, describe

    crowded = Figure(
        [Lines([Series([1, 2], [1, 2], label=f"s{i}") for i in range(9)] + [Series([1], [1])],
               xlabel="n", ylabel="loss", ylog=True),
         Heatmap([[0, 1]], ["a", "b"], ["r"], zlabel="error", xlabel="w")],
    )  # fmt: skip
    specs = [readback_spec(), crowded]
    page = tmp_path / "twin.html"
    html = static.twin_html([slider("k", [0, 1])], lambda values: specs[values["k"]])
    page.write_text(f"<html><body>{html}</body></html>")
    tab = browser.new_page()
    labels = []
    try:
        tab.goto(page.as_uri())
        labels.append(tab.locator(".course-twin svg").first.get_attribute("aria-label"))
        tab.locator(".course-twin input[type=range]").first.focus()
        tab.keyboard.press("ArrowRight")
        tab.wait_for_timeout(150)
        labels.append(tab.locator(".course-twin svg").first.get_attribute("aria-label"))
    finally:
        tab.close()
    assert labels == [describe(spec) for spec in specs]


def _matplotlib_xtick_labels(spec) -> list[str]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    from course.ui import plots

    fig = MplFigure(dpi=plots.DPI)
    FigureCanvasAgg(fig)
    plots.draw(spec, fig)
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo * 0.999 <= t <= hi * 1.001]
    return [plots._log_label(t) for t in ticks]
