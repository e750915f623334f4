"""Figure specifications: what to draw, independent of how.

An explorer's view function returns a :class:`Figure` — panels of line plots
and heatmaps holding plain numbers.  Two renderers draw the same specification:
:mod:`course.ui.plots` with matplotlib (the live explorer in JupyterLab) and the
JavaScript of :mod:`course.ui.static` (the static twin in the book).  Because both
draw the same numbers, the twin shows exactly what the live explorer shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# matplotlib's tab10, so both renderers colour series alike
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def _floats(values: Any) -> list[float | None]:
    out = []
    for v in np.asarray(values, dtype=float).ravel():
        out.append(None if not math.isfinite(v) else float(f"{v:.3g}"))
    return out


@dataclasses.dataclass
class Series:
    """One curve: y over x, with an optional ± band (e.g. the std over seeds).

    Attributes:
        x: positions.
        y: values (NaN leaves a gap).
        label: legend entry ("" for none).
        err: half-width of the band around y, or None.
        color: CSS colour, or None for the palette's next one.
        dashed: draw a dashed line.
        markers: mark the points.
        line: join the points (False: a scatter of markers).
        hollow: draw the markers as larger rings (e.g. to circle chosen points).
    """

    x: Sequence[float]
    y: Sequence[float]
    label: str = ""
    err: Sequence[float] | None = None
    color: str | None = None
    dashed: bool = False
    markers: bool = False
    line: bool = True
    hollow: bool = False

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (numbers to 3 significant digits)."""
        return {
            "x": _floats(self.x), "y": _floats(self.y), "label": self.label,
            "err": None if self.err is None else _floats(self.err), "color": self.color,
            "dashed": self.dashed, "markers": self.markers or not self.line,
            "line": self.line, "hollow": self.hollow,
        }  # fmt: skip


@dataclasses.dataclass
class Lines:
    """A panel of curves.

    Attributes:
        series: the curves.
        title, xlabel, ylabel: text.
        xlog, ylog: logarithmic axes.
        xlim, ylim: axis ranges (None: fit the data).
        vline, hline: a reference line at this x (or y), or None.
        legend: show the legend.
        legend_loc: where: "upper right", "upper left", "lower left" or "lower right".
    """

    series: list[Series]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xlog: bool = False
    ylog: bool = False
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    vline: float | None = None
    hline: float | None = None
    legend: bool = True
    legend_loc: str = "upper right"

    kind = "lines"

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "kind": self.kind, "series": [s.to_json() for s in self.series],
            "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
            "xlog": self.xlog, "ylog": self.ylog,
            "xlim": None if self.xlim is None else _floats(self.xlim),
            "ylim": None if self.ylim is None else _floats(self.ylim),
            "vline": None if self.vline is None else _floats([self.vline])[0],
            "hline": None if self.hline is None else _floats([self.hline])[0],
            "legend": self.legend, "legend_loc": self.legend_loc,
        }  # fmt: skip


@dataclasses.dataclass
class Heatmap:
    """A panel of coloured cells: ``z[row][col]`` over categorical x (columns) and y (rows).

    Attributes:
        z: values, shape (len(y), len(x)); row 0 is drawn at the bottom.
        x, y: tick labels of the columns and rows.
        title, xlabel, ylabel, zlabel: text (zlabel titles the colour bar).
        vmin, vmax: colour range (None: the data's).
        marker: (col, row) of a cell to outline, or None.
        annotate: write each value in its cell.
        fmt: Python format of the annotations and colour-bar ticks.
    """

    z: Any
    x: Sequence[str]
    y: Sequence[str]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    zlabel: str = ""
    vmin: float | None = None
    vmax: float | None = None
    marker: tuple[int, int] | None = None
    annotate: bool = True
    fmt: str = "{:.2f}"

    kind = "heatmap"

    @property
    def limits(self) -> tuple[float, float]:
        """The colour range actually used."""
        z = np.asarray(self.z, dtype=float)
        lo = float(np.nanmin(z)) if self.vmin is None else self.vmin
        hi = float(np.nanmax(z)) if self.vmax is None else self.vmax
        return lo, hi if hi > lo else lo + 1e-9

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form; annotations are formatted here so both renderers print alike."""
        z = np.asarray(self.z, dtype=float)
        return {
            "kind": self.kind, "z": [_floats(row) for row in z],
            "text": [[self.fmt.format(v) for v in row] for row in z] if self.annotate else None,
            "x": [str(v) for v in self.x], "y": [str(v) for v in self.y],
            "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
            "zlabel": self.zlabel, "limits": _floats(self.limits),
            "ticks": [self.fmt.format(v) for v in np.linspace(*self.limits, 5)],
            "marker": None if self.marker is None else [int(m) for m in self.marker],
        }  # fmt: skip


Panel = Lines | Heatmap


@dataclasses.dataclass
class Figure:
    """Panels side by side, with an optional caption line above them.

    Attributes:
        panels: the panels, left to right.
        title: a caption above the panels.
        width, height: size in inches at 100 pixels per inch.
    """

    panels: list[Panel]
    title: str = ""
    width: float = 10.0
    height: float = 3.6

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, the input of the JavaScript renderer."""
        return {
            "panels": [p.to_json() for p in self.panels],
            "title": self.title,
            "width": self.width,
            "height": self.height,
        }


def band(mean: Any, std: Any, x: Any, label: str = "", **kw: Any) -> Series:
    """A :class:`Series` of ``mean`` with a ± ``std`` band."""
    return Series(x=list(np.ravel(x)), y=list(np.ravel(mean)), err=list(np.ravel(std)),
                  label=label, **kw)  # fmt: skip
