"""pytest plugin: keep the outputs of the nbval run as executed notebooks for the book.

Loaded by ``make test`` with ``-p tools.nbval_capture``.  After the session, every
notebook whose cells all passed is written to ``_build/executed/`` with its
outputs and the hash of the sources it ran from; ``python -m tools.book build``
then renders those copies instead of executing the notebooks a second time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools import book

_outputs: dict[Path, list[list[dict[str, Any]]]] = {}
_seconds: dict[Path, float] = {}
_failed: set[Path] = set()
BUDGET_SECONDS = 180  # a chapter's budget under nbval (the summary flags a chapter over it)
# The notebooks that take longest, slowest first (their times under `make test` on a 2-core
# machine: about 230, 175, 120, 110, 85 and 75 s). They start first, so that the two workers
# finish together instead of one running the last long notebook alone: `-n 2 --dist loadfile
# --no-loadscope-reorder` hands out whole notebooks in collection order (without the flag,
# xdist would order them by their number of cells). Only the order; any notebook may be
# missing from the list.
SLOWEST_FIRST = ("08", "04", "05", "07", "06", "11")


def run_order(path: Path) -> int:
    """Where a notebook goes in the run: its place in :data:`SLOWEST_FIRST`, else after."""
    number = path.stem.split("_", 1)[0]
    return SLOWEST_FIRST.index(number) if number in SLOWEST_FIRST else len(SLOWEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the slowest notebooks' cells first, each notebook's cells in their order."""
    items.sort(key=lambda item: run_order(Path(str(item.path))))  # a stable sort


def _plain(output: Any) -> dict[str, Any]:
    out = {k: v for k, v in dict(output).items()}
    kind = out.get("output_type")
    if kind in ("display_data", "execute_result"):
        out.setdefault("metadata", {})
        out["data"] = dict(out.get("data", {}))
        if kind == "execute_result":
            out.setdefault("execution_count", None)
    elif kind == "error":
        out["traceback"] = list(out.get("traceback", []))
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not hasattr(item, "test_outputs"):
        return
    path = Path(str(item.parent.path))
    if report.failed:
        _failed.add(path)
    _outputs.setdefault(path, []).append([_plain(o) for o in (item.test_outputs or [])])
    _seconds[path] = _seconds.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for path, outputs in _outputs.items():
        if path in _failed:
            continue
        book.save_executed(
            path, outputs, book.EXECUTED / f"{path.stem}.ipynb", seconds=_seconds.get(path)
        )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Each notebook's run time (its cells' total), read back from the executed copies.

    Under xdist the workers ran the cells and wrote the copies; the controller prints.
    """
    if hasattr(config, "workerinput"):
        return
    rows = []
    for chapter in book.load().chapters:
        seconds = book.executed_seconds(chapter)
        if seconds is not None and book.is_current(chapter):
            over = f"  over the {BUDGET_SECONDS} s budget" if seconds > BUDGET_SECONDS else ""
            rows.append(f"{chapter.stem:<45} {seconds:6.1f} s{over}")
    if rows:
        terminalreporter.section("notebook run times under nbval (cells' total)")
        for row in rows:
            terminalreporter.write_line(row)
