"""Static twins: explorers that work in a page without a kernel.

:func:`twin_html` evaluates an explorer's view at every point of its control
grid, and writes one self-contained HTML fragment: the controls (HTML range
inputs and selects), the precomputed figure specifications as inline JSON, and
the small SVG renderer of ``course/ui/assets/twin.js``.  Moving a control swaps the
frame.  No library, no CDN, no external URL: the book's page works offline.
"""

from __future__ import annotations

import html
import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np

from course.ui.controls import Control
from course.ui.figures import PALETTE, Figure

BUDGET_BYTES = 2_000_000


def _viridis(n: int = 64) -> list[str]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return ["#" + "".join(f"{int(255 * c):02x}" for c in cmap(u)[:3]) for u in np.linspace(0, 1, n)]


def frames(controls: Sequence[Control], view: Callable[[dict[str, Any]], Figure]) -> dict[str, Any]:
    """Every grid point's figure as JSON, keyed by the control positions ``"i,j,…"``."""
    out = {}
    for idx in itertools.product(*[range(len(c.values)) for c in controls]):
        values = {c.name: c.values[i] for c, i in zip(controls, idx, strict=True)}
        out[",".join(map(str, idx))] = view(values).to_json()
    return out


def _control_html(c: Control) -> str:
    name = html.escape(c.name)
    label = f'<label style="min-width:11em;display:inline-block">{html.escape(c.label)}</label>'
    if c.kind == "dropdown":
        options = "".join(
            f'<option value="{i}"{" selected" if i == c.start else ""}>{html.escape(lab)}</option>'
            for i, lab in enumerate(c.labels)
        )
        widget = f"<select>{options}</select>"
    else:
        widget = (
            f'<input type="range" min="0" max="{len(c.values) - 1}" step="1" '
            f'value="{c.start}" style="width:16em;vertical-align:middle">'
            f'<output style="margin-left:.6em">{html.escape(c.labels[c.start])}</output>'
        )
    return f'<div data-control="{name}" style="margin:.2em 0">{label}{widget}</div>'


def twin_html(
    controls: Sequence[Control],
    view: Callable[[dict[str, Any]], Figure],
    *,
    title: str = "",
    note: str = "",
    budget: int = BUDGET_BYTES,
) -> str:
    """The static twin of an explorer as one HTML fragment.

    Args:
        controls: the explorer's controls (their grids define the frames).
        view: figure specification for one dict of control values.
        title: a heading above the controls.
        note: a line under the controls (e.g. how the grid was computed).
        budget: largest allowed size in bytes; a bigger twin raises ValueError.
    """
    root = f"twin-{uuid.uuid4().hex[:10]}"
    data = {
        "controls": [
            {"name": c.name, "labels": list(c.labels), "index": c.start} for c in controls
        ],
        "frames": frames(controls, view),
        "cmap": _viridis(),
        "palette": list(PALETTE),
    }
    script = resources.files("course.ui").joinpath("assets/twin.js").read_text()
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    parts = [
        f'<div id="{root}" class="course-twin" style="border:1px solid #ddd;border-radius:6px;'
        f'padding:.6em .8em;margin:.5em 0;font-family:sans-serif;font-size:14px">',
        f"<div style='font-weight:600'>{html.escape(title)}</div>" if title else "",
        *(_control_html(c) for c in controls),
        f"<div style='color:#666;font-size:90%'>{html.escape(note)}</div>" if note else "",
        '<div class="twin-figure"></div></div>',
        f"<script>{script}</script>",
        f'<script>window.courseTwin.mount("{root}", {payload});</script>',
    ]
    out = "".join(parts)
    if len(out.encode()) > budget:
        raise ValueError(
            f"the static twin takes {len(out.encode()) / 1e6:.2f} MB, over the budget of "
            f"{budget / 1e6:.2f} MB; use fewer grid values or smaller figures"
        )
    return out
