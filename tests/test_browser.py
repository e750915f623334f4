"""Real browsers: chapter 00 in JupyterLab, and its static twin in the built book.

Debian's Chromium driven by Playwright (``executable_path=/usr/bin/chromium``).
Screenshots land in ``test-artifacts/``.  `.ci/run` installs Chromium when missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course import book

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
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y "
            "chromium`; .ci/run does this)"
        )
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a loopback port, serving a scratch copy of the chapter (autosave-safe)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / "00_the_scale_map.ipynb", root)
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
        f"--LabApp.user_settings_dir={root / '_settings'}",
        "--LabApp.news_url=None",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / "_runtime")}
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
    req = urllib.request.urlopen(f"{base}/api/kernels?token={token}")
    for kernel in json.load(req):
        urllib.request.urlopen(
            urllib.request.Request(
                f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE"
            )
        )
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def kernel_ready(base: str, token: str, timeout: float = 120) -> None:
    """Wait until the notebook's kernel exists and reports idle through the REST API."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with urllib.request.urlopen(f"{base}/api/kernels?token={token}") as r:
            kernels = json.load(r)
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.5)
    pytest.fail("the notebook's kernel did not become idle")


@pytest.mark.slow
def test_jupyterlab_slider_retrains_and_redraws(browser, lab):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/tree/00_the_scale_map.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    kernel_ready(base, token)
    for _attempt in range(3):  # a "Run All" sent while the kernel connects can be dropped
        page.click("text=Run", timeout=30_000)
        page.click("text=Run All Cells")
        try:
            page.locator(".jp-InputPrompt", has_text="[1]").first.wait_for(
                state="attached", timeout=30_000
            )
            break
        except Exception:
            page.keyboard.press("Escape")
    status = page.locator(".widget-html-content", has_text="drawn in")
    status.first.wait_for(state="attached", timeout=600_000)
    status.first.scroll_into_view_if_needed()
    image = page.locator(".widget-image").first
    before_src = image.get_attribute("src")
    before_status = status.first.inner_text()
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([s]) => document.querySelector('.widget-image').src !== s",
        arg=[before_src],
        timeout=60_000,
    )
    after_status = status.first.inner_text()
    assert after_status != before_status
    assert "looked up in" in after_status and "drawn in" in after_status
    # the "retrain live" box: the next move goes through the engine
    page.locator(".widget-checkbox input").first.check()
    page.locator("text=retrained live in").first.wait_for(timeout=60_000)
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => /n_train = 1486.*retrained live in \\d+ ms/.test(document.body.innerText)",
        timeout=60_000,
    )
    image.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "jupyterlab_scale_map.png"))
    page.close()


TWIN_CHAPTERS = book.load().chapters
STEP_KEY = """e => e.tagName === "INPUT"
    ? (Number(e.value) < Number(e.max) ? "ArrowRight" : "ArrowLeft")
    : (e.selectedIndex < e.options.length - 1 ? "ArrowDown" : "ArrowUp")"""


@pytest.mark.book
@pytest.mark.parametrize("chapter", TWIN_CHAPTERS, ids=lambda c: c.stem)
def test_book_twins_move_offline_without_errors(browser, chapter):
    page_path = book.SITE / f"{chapter.stem}.html"
    assert page_path.exists(), "build the book first (`make book`)"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
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
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
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
    context.close()
