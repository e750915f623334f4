"""Make sure the browser tests have Chromium and a CJK font before ``make test`` starts.

The last stage of ``make test`` drives Debian's ``chromium`` with Playwright (JupyterLab and
the built book).  Run first by ``make test``, this script

1. does nothing when ``/usr/bin/chromium`` exists and fontconfig knows a Chinese font;
2. installs what is missing (``chromium``, ``fonts-noto-cjk``) with ``apt-get`` when it
   may (running as root, or ``sudo`` without a password) on a Debian/Ubuntu system;
3. otherwise stops at once — before the long test run — with one line saying what to
   install and why.

Standard library only: it runs with the system Python, before the virtual environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
INSTRUCTION = (
    "error: the browser tests of `make test` need {what}; install it with "
    "`sudo apt-get install {packages}`, then run `make test` again"
)
WHAT = {
    "chromium": "Debian's chromium at /usr/bin/chromium (Playwright drives it to test "
    "JupyterLab and the built book)",
    "fonts-noto-cjk": "a CJK font (Debian's fonts-noto-cjk), so the test browser draws the "
    "sources' Chinese quotes as readers see them instead of empty boxes",
}


def has_cjk_font() -> bool:
    """Whether fontconfig knows a font that covers Chinese (what Chromium falls back to)."""
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def installer(uid: int | None = None) -> list[str] | None:
    """The prefix that may run apt-get here: ``[]`` as root, ``["sudo", "-n"]``, or None."""
    if shutil.which("apt-get") is None:
        return None
    if (os.geteuid() if uid is None else uid) == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.call(
            ["sudo", "-n", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        == 0
    ):
        return ["sudo", "-n"]
    return None


def missing_packages(chromium: Path = CHROMIUM, cjk_font: Any = has_cjk_font) -> list[str]:
    """The Debian packages the browser tests still need."""
    need = []
    if not chromium.exists():
        need.append("chromium")
    if not cjk_font():
        need.append("fonts-noto-cjk")
    return need


def _instruction(packages: list[str]) -> str:
    what = " and ".join(WHAT[p] for p in packages)
    return INSTRUCTION.format(what=what, packages=" ".join(packages))


def ensure(chromium: Path = CHROMIUM, cjk_font: Any = has_cjk_font) -> int:
    """Return 0 when Chromium and a CJK font are there (installing them if allowed), else 2
    after one line."""
    need = missing_packages(chromium, cjk_font)
    if not need:
        return 0
    prefix = installer()
    if prefix is None:
        print(_instruction(need), file=sys.stderr)
        return 2
    print(f"installing {' and '.join(need)} for the browser tests (once)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *need]):
        if subprocess.call([*prefix, *cmd], env=env, stdout=subprocess.DEVNULL) != 0:
            print(_instruction(need).replace("error:", f"error: `{' '.join(cmd)}` failed;"),
                  file=sys.stderr)  # fmt: skip
            return 2
    still = missing_packages(chromium, cjk_font)
    if still:
        print(_instruction(still), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(ensure())
