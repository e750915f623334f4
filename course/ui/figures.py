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

    def shown_y(self) -> np.ndarray:
        """The y values and, where there is a band, y ± err (what the axis must show)."""
        y = np.asarray(self.y, float)
        if self.err is None:
            return y
        err = np.asarray(self.err, float)
        return np.concatenate([y, y - err, y + err])

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (numbers to 3 significant digits)."""
        return {
            "x": _floats(self.x), "y": _floats(self.y), "label": self.label,
            "err": None if self.err is None else _floats(self.err), "color": self.color,
            "dashed": self.dashed, "markers": self.markers or not self.line,
            "line": self.line, "hollow": self.hollow,
        }  # fmt: skip


# The legend's place is chosen here, once, so both renderers put it in the same corner (and
# a cached background knows where it is).  Sizes in px of the smallest panel either
# renderer draws and of the twin's legend (the larger of the two renderers' legends).
LEGEND_PANEL_PX = (250.0, 230.0)  # (width, height) of the plot box
LEGEND_ROW_PX, LEGEND_CHAR_PX, LEGEND_KEY_PX = 18.0, 7.2, 40.0
CORNERS = ("upper right", "upper left", "lower left", "lower right")


def extent(values: Any, log: bool) -> tuple[float, float]:
    """The finite (positive, on a log axis) range of ``values``, as the twin's ``extent``.

    Tick choice on a log axis depends on how many decades it spans; both renderers must
    count them from the same range, or their ticks drift apart.
    """
    values = np.asarray(values, float)
    v = values[np.isfinite(values) & ((values > 0) if log else True)]
    if v.size == 0:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    return (lo, hi) if hi > lo else (lo, lo + (lo if log else 1.0))


def _fractions(values: np.ndarray, lim: tuple[float, float], log: bool) -> np.ndarray:
    """Positions as fractions of the axis (0 at ``lim[0]``, 1 at ``lim[1]``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.log10 if log else (lambda v: v)
        return (f(values) - f(lim[0])) / (f(lim[1]) - f(lim[0]))


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
        legend_loc: "best" (resolved by ``legend_place`` for both renderers), or
            "upper right", "upper left", "lower left" or "lower right".
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
    legend_loc: str = "best"

    kind = "lines"

    def _ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The x and y ranges the renderers show (a linear y range padded by 5 %)."""
        xs = np.concatenate([np.asarray(s.x, float) for s in self.series] or [np.zeros(0)])
        ys = np.concatenate([s.shown_y() for s in self.series] or [np.zeros(0)])
        xr = tuple(self.xlim) if self.xlim is not None else extent(xs, self.xlog)
        yr = tuple(self.ylim) if self.ylim is not None else extent(ys, self.ylog)
        if self.ylim is None and not self.ylog:
            pad = 0.05 * (yr[1] - yr[0])
            yr = (yr[0] - pad, yr[1] + pad)
        return xr, yr

    def _drawn_points(self, xr: tuple, yr: tuple) -> np.ndarray:
        """Every marker and points along every line, as (n, 2) axis fractions."""
        out = []
        for s in self.series:
            p = np.stack([_fractions(np.asarray(s.x, float), xr, self.xlog),
                          _fractions(np.asarray(s.y, float), yr, self.ylog)], 1)  # fmt: skip
            ok = np.isfinite(p).all(1)
            out.append(p[ok])
            if s.line:  # a point every 1 % of the axes along each drawn segment
                for a, b in zip(p[:-1][ok[:-1] & ok[1:]], p[1:][ok[:-1] & ok[1:]], strict=True):
                    n = int(min(200, np.ceil(np.hypot(*(b - a)) / 0.01)))
                    out.append(a + np.linspace(0, 1, n + 1)[:, None] * (b - a))
        return np.concatenate(out) if out else np.zeros((0, 2))

    def legend_place(self) -> tuple[str, tuple[float, float] | None]:
        """Where the legend goes and the y range to draw: ``(corner, ylim)``.

        With ``legend_loc="best"`` the corner is the one whose legend box covers the fewest
        drawn points (in the smallest panel either renderer draws); when every corner covers
        some, the y range is raised until the data sit below a legend in the upper right —
        unless some data already run off the top (a diverging run), where no range clears
        them and the least-covered corner stays.
        """
        labels = [s.label for s in self.series if s.label]
        if self.legend_loc != "best":
            return self.legend_loc, self.ylim
        if not (self.legend and labels):
            return "upper right", self.ylim
        w_px, h_px = LEGEND_PANEL_PX
        width = (LEGEND_KEY_PX + LEGEND_CHAR_PX * max(map(len, labels))) / w_px
        height = (LEGEND_ROW_PX * len(labels) + 12) / h_px
        xr, yr = self._ranges()
        points = self._drawn_points(xr, yr)
        off_range = bool((points[:, 1] > 1 + 1e-9).any())  # some data run off the top
        points = points[((points >= 0) & (points <= 1)).all(1)]  # what is drawn, not clipped
        margin = 4 / w_px
        covered = {}
        for corner in CORNERS:
            x0 = 1 - width - margin if "right" in corner else -margin
            y0 = 1 - height - margin if "upper" in corner else -margin
            u, v = points[:, 0] - x0, points[:, 1] - y0
            inside = (u >= 0) & (u <= width + 2 * margin) & (v >= 0) & (v <= height + 2 * margin)
            covered[corner] = int(inside.sum())
        corner = min(CORNERS, key=lambda c: covered[c])  # ties: the earlier corner
        if covered[corner] == 0 or off_range:  # raising the top would not clear them
            return corner, self.ylim
        share = max(0.3, 1 - height - 2 * margin)  # the data keep this share of the height
        if self.ylog:
            lo, hi = np.log10(yr[0]), np.log10(yr[1])
            return "upper right", (yr[0], float(10 ** (lo + (hi - lo) / share)))
        return "upper right", (yr[0], yr[0] + (yr[1] - yr[0]) / share)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (the legend's corner and the y range resolved: ``legend_place``)."""
        legend_loc, ylim = self.legend_place()
        return {
            "kind": self.kind, "series": [s.to_json() for s in self.series],
            "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
            "xlog": self.xlog, "ylog": self.ylog,
            "xlim": None if self.xlim is None else _floats(self.xlim),
            "ylim": None if ylim is None else _floats(ylim),
            "vline": None if self.vline is None else _floats([self.vline])[0],
            "hline": None if self.hline is None else _floats([self.hline])[0],
            "legend": self.legend, "legend_loc": legend_loc,
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


def describe(spec: Figure, most: int = 6) -> str:
    """A sentence or two saying what ``spec`` shows: the figure's alt text.

    Both renderers label their image with it (the PNG's alt text in the book, the twin's
    ``aria-label``, which ``twin.js`` writes the same way), for readers who cannot see it.

    Args:
        spec: the figure.
        most: series named per panel before the rest are counted ("and 3 more").
    """
    parts = [f"{spec.title}." if spec.title else "A figure."]
    for i, p in enumerate(spec.panels):
        head = f"Panel {i + 1}" + (f", {p.title}" if p.title else "")
        if isinstance(p, Heatmap):
            what = f"heatmap of {p.zlabel or 'values'} over {p.xlabel or 'columns'} "
            what += f"({len(p.x)}) and {p.ylabel or 'rows'} ({len(p.y)})"
        else:
            scale = {(True, True): ", both axes logarithmic", (True, False): ", x logarithmic",
                     (False, True): ", y logarithmic"}.get((p.xlog, p.ylog), "")  # fmt: skip
            names = [s.label for s in p.series if s.label]
            what = f"{p.ylabel or 'y'} against {p.xlabel or 'x'}{scale}; {len(p.series)} series"
            if names:
                more = f" and {len(names) - most} more" if len(names) > most else ""
                what += f": {', '.join(names[:most])}{more}"
        parts.append(f"{head}: {what}.")
    return " ".join(parts)


def band(mean: Any, std: Any, x: Any, label: str = "", **kw: Any) -> Series:
    """A :class:`Series` of ``mean`` with a ± ``std`` band."""
    return Series(x=list(np.ravel(x)), y=list(np.ravel(mean)), err=list(np.ravel(std)),
                  label=label, **kw)  # fmt: skip
