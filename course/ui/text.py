"""Printed results a student reads: short, aligned, human-formatted.

NumPy's reprs leak implementation detail into a lesson (``np.float32(106.03)``,
``508.30002``, ``-0.``, ``318.75`` steps). Chapters print through these two helpers:

* :func:`number` — one value, to a few significant digits, never ``-0``;
* :func:`numbers` — a short list of values on one line, each as :func:`number` writes it;
* :func:`table` — rows under a header, numbers right-aligned in columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def number(value: Any, digits: int = 3, *, unit: str = "") -> str:
    """``value`` to ``digits`` significant digits (whole numbers stay whole), with ``unit``.

    Args:
        value: a Python or NumPy number (or 0-d array); bool and str pass through.
        digits: significant digits for non-integers, ≥ 1.
        unit: appended after a space ("ms", "MB", "%" is appended without one).
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a whole number ≥ 1, got {digits!r}")
    if isinstance(value, str | bool | np.bool_):
        text = str(value)
    else:
        x = float(np.asarray(value))
        if math.isnan(x) or math.isinf(x):
            text = str(x)
        elif x == round(x) and abs(x) < 1e7:  # a whole number: keep it whole
            text = str(round(x))
        elif 10 ** (digits - 1) <= abs(x) < 1e7:  # 1234.5 → 1235, not 1.23e+03
            text = f"{x:.0f}"
        else:
            text = f"{x:.{digits}g}"
        if text.lstrip("-").strip("0.") == "":  # -0, -0.0 → 0
            text = text.lstrip("-")
    if unit:
        text += unit if unit == "%" else f" {unit}"
    return text


def numbers(values: Any, digits: int = 3, *, unit: str = "") -> str:
    """A short list of values as ``a, b, c`` (each like :func:`number`), then ``unit`` once.

    Args:
        values: numbers (a sequence or an array of any shape, read in order).
        digits: significant digits for non-integers, ≥ 1.
        unit: appended once after the list.
    """
    flat = np.ravel(np.asarray(values, dtype=float))
    text = ", ".join(number(v, digits) for v in flat)
    if unit:
        text += unit if unit == "%" else f" {unit}"
    return text


def table(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    digits: int = 3,
) -> str:
    """Rows of cells as aligned text: text cells left-aligned, numbers right-aligned.

    Args:
        rows: each row a sequence of cells (str, or numbers formatted by :func:`number`).
        header: column titles, one per cell of a row.
        digits: significant digits for the numbers.
    """
    rows = [list(r) for r in rows]
    widths_ok = {len(r) for r in rows} | ({len(header)} if header is not None else set())
    if len(widths_ok) > 1:
        raise ValueError(f"every row (and the header) must have the same length, got {widths_ok}")
    cells = [[c if isinstance(c, str) else number(c, digits) for c in r] for r in rows]
    numeric = [
        all(not isinstance(r[j], str) for r in rows) for j in range(len(rows[0]) if rows else 0)
    ]
    lines = ([list(header)] if header is not None else []) + cells
    width = [max(len(line[j]) for line in lines) for j in range(len(numeric))]
    out = []
    for line in lines:
        out.append(
            "  ".join(
                cell.rjust(w) if is_num else cell.ljust(w)
                for cell, w, is_num in zip(line, width, numeric, strict=True)
            ).rstrip()
        )
    return "\n".join(out)
