"""`make lab` starts JupyterLab at the first chapter and prints a URL that works."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_prints_a_working_url_of_the_first_chapter(tmp_path):
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    env.pop("JUPYTER_TOKEN", None)
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS=--no-browser --port={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    pattern = re.compile(rf"http://127\.0\.0\.1:{port}/lab/tree/(\S+)\?token=(\w+)")
    try:
        match, deadline = None, time.time() + 120
        while match is None and time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            match = pattern.search(line)
        assert match, "make lab printed no URL of the first chapter"
        path, token = match.groups()
        assert path == "notebooks/00_the_scale_map.ipynb"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}") as r:
            assert "started" in json.load(r)
        url = f"http://127.0.0.1:{port}/api/contents/{path}?token={token}"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert json.load(r)["type"] == "notebook"
        # the file browser lists each chapter once: the notebook, not its jupytext source
        url = f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}"
        with urllib.request.urlopen(url, timeout=10) as r:
            names = {item["name"] for item in json.load(r)["content"]}
        chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        assert chapters and {f"{c}.ipynb" for c in chapters} <= names
        assert not {f"{c}.md" for c in chapters} & names, names
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)


def test_make_lab_culls_idle_kernels_of_closed_notebooks():
    """The command line asks the server to shut down kernels no tab is connected to."""
    from tools import lab

    cmd = lab.lab_command([], ip="127.0.0.1", port=8888, token="t")
    assert "--MappingKernelManager.cull_idle_timeout=1200" in cmd
    assert "--MappingKernelManager.cull_connected=False" in cmd
    assert "--ContentsManager.hide_globs=[0-9][0-9]_*.md" in cmd
    assert cmd[-1] == lab.FIRST_CHAPTER
