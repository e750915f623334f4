"""Start JupyterLab on the course and print the URL of its first chapter once it answers.

``make lab`` runs this inside the course's virtual environment.  Extra arguments
go to ``jupyter lab`` (``make lab LAB_ARGS="--port=9999 --no-browser"``).  The
token is ``$JUPYTER_TOKEN`` when set, otherwise a fresh random one.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_CHAPTER = "notebooks/00_the_scale_map.ipynb"
# The file browser shows one entry per chapter: the jupytext sources (NN_slug.md paired with
# NN_slug.ipynb, and the appendix's A_appendix.md) stay in git for review but are hidden from
# the student, with Jupyter's defaults.
HIDE_GLOBS = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*.so", "*.dylib", "*~",
              "[0-9][0-9]_*.md", "A_*.md"]  # fmt: skip
# On a 2-core machine every open chapter's kernel holds memory and threads: a kernel whose
# notebook tab is closed (no client connected) is shut down after 20 idle minutes.
CULL = {"cull_idle_timeout": 1200, "cull_interval": 120, "cull_connected": False}


def lab_command(args: list[str], *, ip: str, port: int, token: str) -> list[str]:
    """The ``jupyter lab`` command line ``make lab`` runs."""
    cmd = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        f"--ServerApp.root_dir={ROOT}",
        f"--IdentityProvider.token={token}",
        f"--ip={ip}",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *[f"--ContentsManager.hide_globs={glob}" for glob in HIDE_GLOBS],
        *[f"--MappingKernelManager.{name}={value}" for name, value in CULL.items()],
        *[a for a in args if not a.startswith(("--port", "--ip"))],
        FIRST_CHAPTER,
    ]
    if os.geteuid() == 0:
        cmd.insert(2, "--allow-root")
    return cmd


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return None


def _free_port(start: int = 8888) -> int:
    for port in range(start, start + 100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("error: no free port between 8888 and 8987; pass LAB_ARGS=--port=N")


def main(args: list[str]) -> int:
    """Run JupyterLab until it exits; print the chapter URL when it is up."""
    port = int(_option(args, "port") or _free_port())
    ip = _option(args, "ip") or "127.0.0.1"
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    lab = subprocess.Popen(lab_command(args, ip=ip, port=port, token=token))
    try:
        deadline = time.time() + 120
        while lab.poll() is None and time.time() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://{ip}:{port}/api/status?token={token}", timeout=2
                ) as r:
                    json.load(r)
                break
            except OSError:
                time.sleep(0.3)
        if lab.poll() is None:
            url = f"http://{ip}:{port}/lab/tree/{FIRST_CHAPTER}?token={token}"
            print(
                f"\n  The course is running. Open this URL in your browser:\n\n    {url}\n",
                flush=True,
            )
        return lab.wait()
    except KeyboardInterrupt:
        lab.terminate()
        return lab.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
