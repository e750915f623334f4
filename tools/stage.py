"""Run one stage of `make test` under a banner and report its wall time.

Usage: ``python tools/stage.py NAME COMMAND [ARGS...]``; exits with the command's code.
"""

from __future__ import annotations

import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    """Run ``argv[1:]`` as the stage called ``argv[0]``."""
    name, cmd = argv[0], argv[1:]
    print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    code = subprocess.call(cmd)
    status = "ok" if code == 0 else f"FAILED (exit {code})"
    print(f"=== {name}: {status} in {time.perf_counter() - start:.1f} s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
