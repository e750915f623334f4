"""Create or refresh the course's virtual environment from the pinned lock files.

Run by ``make lab``, ``make test``, ``make book`` and ``make bench`` with the
system Python (3.11, pip only).  It

1. stops with one clear line when the interpreter is not Python 3.11;
2. creates ``.venv`` when it is missing;
3. installs the pinned lock file(s) and the ``course`` package (editable);
4. writes a stamp named after the hash of the lock files and ``pyproject.toml``
   *only after every install step succeeded*, so a failed install (registry
   unreachable, say) is retried by the next run instead of looking finished.

A second run with an unchanged lock finds its stamp and installs nothing.
Standard library only: this script runs before any dependency exists.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import venv
from pathlib import Path

REQUIRED = (3, 11)
ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "base": ROOT / "requirements" / "lock.txt",
    "bench": ROOT / "requirements" / "bench.txt",
}


def python_problem(version: tuple[int, ...]) -> str | None:
    """Return a one-line complaint when ``version`` is not the supported Python, else None."""
    if tuple(version[:2]) != REQUIRED:
        found = ".".join(str(v) for v in version[:3])
        need = ".".join(str(v) for v in REQUIRED)
        return (
            f"error: the course needs Python {need} (found Python {found}); "
            f"install Python {need} or run with PYTHON=/path/to/python{need}"
        )
    return None


def stamp_name(group: str) -> str:
    """Name of the stamp file of one lock group (hash of its lock file and pyproject.toml)."""
    digest = hashlib.sha256(LOCKS[group].read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    return f".stamp-{group}-{digest.hexdigest()[:16]}"


def run(cmd: list[str]) -> None:
    """Run a command, echoing it; raise SystemExit with its code on failure."""
    print("+", " ".join(cmd), flush=True)
    code = subprocess.call(cmd)
    if code != 0:
        raise SystemExit(code)


def bootstrap(venv_dir: Path, extras: list[str]) -> list[Path]:
    """Make ``venv_dir`` hold the locked packages of base (+ extras); return the stamps."""
    python = venv_dir / "bin" / "python"
    if not python.exists():
        print(f"creating virtual environment {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    stamps = []
    for group in ["base", *extras]:
        stamp = venv_dir / stamp_name(group)
        stamps.append(stamp)
        if stamp.exists():
            continue
        for old in venv_dir.glob(f".stamp-{group}-*"):
            old.unlink()
        run([*pip, "install", "--no-input", "-r", str(LOCKS[group])])
        if group == "base":
            run(
                [
                    *pip,
                    "install",
                    "--no-input",
                    "--no-deps",
                    "--no-build-isolation",
                    "-e",
                    str(ROOT),
                ]
            )
        stamp.write_text(f"installed {LOCKS[group].relative_to(ROOT)}\n")
    return stamps


def main(argv: list[str] | None = None, version: tuple[int, ...] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--with", dest="extras", action="append", default=[], choices=["bench"])
    args = parser.parse_args(argv)
    problem = python_problem(tuple(sys.version_info) if version is None else version)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    stamps = bootstrap(args.venv, args.extras)
    print(f"environment ready: {args.venv} ({', '.join(s.name for s in stamps)})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
