"""Make sure the browser tests have Debian's Chromium before ``make test`` starts its stages.

The last stage of ``make test`` drives Debian's ``chromium`` with Playwright (JupyterLab and
the built book).  Run first by ``make test``, this script

1. does nothing when ``/usr/bin/chromium`` exists;
2. installs it with ``apt-get`` when it may (running as root, or ``sudo`` without a
   password) on a Debian/Ubuntu system;
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

CHROMIUM = Path("/usr/bin/chromium")
PACKAGES = ["chromium"]
INSTRUCTION = (
    "error: the browser tests of `make test` need Debian's chromium at /usr/bin/chromium "
    "(Playwright drives it to test JupyterLab and the built book); install it with "
    "`sudo apt-get install chromium`, then run `make test` again"
)


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


def ensure(chromium: Path = CHROMIUM) -> int:
    """Return 0 when Chromium is there (installing it if allowed), else 2 after one line."""
    if chromium.exists():
        return 0
    prefix = installer()
    if prefix is None:
        print(INSTRUCTION, file=sys.stderr)
        return 2
    print("installing Debian's chromium for the browser tests (once)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        if subprocess.call([*prefix, *cmd], env=env, stdout=subprocess.DEVNULL) != 0:
            print(
                INSTRUCTION.replace("error:", f"error: `{' '.join(cmd)}` failed;"), file=sys.stderr
            )
            return 2
    if not chromium.exists():
        print(INSTRUCTION, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(ensure())
