"""Draw a :class:`course.ui.figures.Figure` with matplotlib.

:class:`Renderer` keeps one matplotlib figure (no pyplot, so nothing piles up
in the notebook) and turns specifications into PNG bytes for the live
explorer's image.  When only the *moving* parts change — curves, bands, the
heatmap's marker, the caption — and the axes have fixed limits, it redraws just
those on a cached background (blitting), which takes a few milliseconds instead
of a full redraw's hundred or more.  :func:`show` draws a specification once.
"""

from __future__ import annotations

import io
import json
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from PIL import Image

from course.ui.figures import PALETTE, Figure, Heatmap, Lines

DPI = 100


def _band_verts(x: np.ndarray, y: np.ndarray, e: np.ndarray) -> np.ndarray:
    ok = np.isfinite(y) & np.isfinite(e)
    x, lo, hi = x[ok], (y - e)[ok], (y + e)[ok]
    return np.concatenate([np.c_[x, lo], np.c_[x[::-1], hi[::-1]]]) if x.size else np.zeros((0, 2))


def _log_label(v: float, _: Any = None) -> str:
    """Tick label on a log axis, as the JavaScript twin writes it."""
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        mantissa, exponent = f"{v:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{float(f'{v:.3g}'):g}"


def _draw_lines(ax: Any, panel: Lines, moving: list) -> None:
    for i, s in enumerate(panel.series):
        color = s.color or PALETTE[i % len(PALETTE)]
        x = np.asarray(s.x, float)
        y = np.asarray(s.y, float)
        (line,) = ax.plot(
            x,
            y,
            color=color,
            lw=1.8,
            ls="none" if not s.line else "--" if s.dashed else "-",
            marker="o" if s.markers or not s.line else None,
            ms=7 if s.hollow else 3.5,
            mfc="none" if s.hollow else color,
            mew=1.2,
            label=s.label or None,
            animated=True,
        )
        moving.append(line)
        if s.err is not None:
            coll = mpl.collections.PolyCollection(
                [_band_verts(x, y, np.asarray(s.err, float))],
                facecolor=color,
                alpha=0.18,
                lw=0,
                animated=True,
            )
            ax.add_collection(coll)
            moving.append(coll)
    xs = [v for s in panel.series for v in np.asarray(s.x, float)]
    ys = [v for s in panel.series for v in _with_bands(s)]
    for on, axis, lim, data in (
        (panel.xlog, ax.xaxis, panel.xlim, xs),
        (panel.ylog, ax.yaxis, panel.ylim, ys),
    ):
        if on:
            axis._set_axes_scale("log")
            lo, hi = lim if lim is not None else _log_extent(data)
            decades = np.log10(hi / lo)
            if decades <= 3:
                axis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            else:  # one tick every k decades
                step = int(np.ceil(decades / 6))
                axis.set_major_locator(mpl.ticker.LogLocator(base=10.0**step, subs=(1.0,)))
            axis.set_major_formatter(mpl.ticker.FuncFormatter(_log_label))
            axis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.autoscale_view()
    if panel.xlim is not None:
        ax.set_xlim(*panel.xlim)
    if panel.ylim is not None:
        ax.set_ylim(*panel.ylim)
    vline = ax.axvline(
        np.nan if panel.vline is None else panel.vline, color="0.3", lw=1, ls=":", animated=True
    )
    moving.append(vline)
    if panel.hline is not None:
        ax.axhline(panel.hline, color="0.3", lw=1, ls=":")
    ax.grid(True, color="0.9", lw=0.6)
    if panel.legend and any(s.label for s in panel.series):
        ax.legend(fontsize=8, frameon=False, loc=panel.legend_loc)


def _with_bands(s: Any) -> np.ndarray:
    """A series' y values and, where it has a band, y ± err (what the axis must show)."""
    y = np.asarray(s.y, float)
    if s.err is None:
        return y
    err = np.asarray(s.err, float)
    return np.concatenate([y, y - err, y + err])


def _log_extent(values: list[float]) -> tuple[float, float]:
    """The positive finite range of ``values``, as the twin's ``extent`` computes it.

    Tick choice on a log axis depends on how many decades it spans; both renderers must
    count them from the same range, or their ticks drift apart.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 1.0, 10.0
    lo, hi = float(v.min()), float(v.max())
    return (lo, 2 * lo) if hi == lo else (lo, hi)


def _draw_heatmap(fig: MplFigure, ax: Any, panel: Heatmap, moving: list) -> None:
    z = np.asarray(panel.z, float)
    lo, hi = panel.limits
    im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis", vmin=lo, vmax=hi)
    ax.set_xticks(range(len(panel.x)), panel.x, fontsize=8)
    ax.set_yticks(range(len(panel.y)), panel.y, fontsize=8)
    if panel.annotate:
        mid = (lo + hi) / 2
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                ax.text(
                    c,
                    r,
                    panel.fmt.format(z[r, c]),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="black" if z[r, c] > mid else "white",
                )
    c, r = panel.marker if panel.marker is not None else (-10, -10)
    rect = mpl.patches.Rectangle(
        (c - 0.5, r - 0.5), 1, 1, fill=False, ec="#d62728", lw=2.2, animated=True
    )
    ax.add_patch(rect)
    moving.append(rect)
    bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    if panel.zlabel:
        bar.set_label(panel.zlabel, fontsize=8)


def draw(spec: Figure, fig: MplFigure) -> list:
    """Draw ``spec`` into an (emptied) matplotlib figure; return its moving artists.

    The moving artists (curves, bands, the heatmap marker, the caption) are created
    ``animated``: a plain ``canvas.draw()`` leaves them out, :class:`Renderer` (or
    :func:`show`) draws them on top.
    """
    fig.clear()
    fig.set_size_inches(spec.width, spec.height)
    n = len(spec.panels)
    fig.subplots_adjust(
        left=0.07, right=0.98, bottom=0.16, top=0.84 if spec.title else 0.9, wspace=0.38
    )
    moving: list = []
    for i, panel in enumerate(spec.panels):
        ax = fig.add_subplot(1, n, i + 1)
        if isinstance(panel, Heatmap):
            _draw_heatmap(fig, ax, panel, moving)
        else:
            _draw_lines(ax, panel, moving)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel, fontsize=9)
        ax.set_ylabel(panel.ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
    moving.append(fig.suptitle(spec.title, fontsize=11, animated=True))
    return moving


def _update_moving(spec: Figure, moving: list) -> None:
    """Give the moving artists of an identically structured figure their new data."""
    it = iter(moving)
    for panel in spec.panels:
        if isinstance(panel, Heatmap):
            c, r = panel.marker if panel.marker is not None else (-10, -10)
            next(it).set_xy((c - 0.5, r - 0.5))
            continue
        for s in panel.series:
            x, y = np.asarray(s.x, float), np.asarray(s.y, float)
            next(it).set_data(x, y)
            if s.err is not None:
                next(it).set_verts([_band_verts(x, y, np.asarray(s.err, float))])
        v = np.nan if panel.vline is None else panel.vline
        next(it).set_xdata([v, v])
    next(it).set_text(spec.title)


def _background_key(spec: Figure) -> str:
    """Everything that is drawn into the cached background, as a string."""
    j = spec.to_json()
    j["title"] = None
    for pj, panel in zip(j["panels"], spec.panels, strict=True):
        if isinstance(panel, Heatmap):
            pj["marker"] = None
        elif panel.xlim is not None and panel.ylim is not None:  # fixed axes: data may move
            pj["vline"] = None
            for sj in pj["series"]:
                sj.update(x=len(sj["x"]), y=None, err=sj["err"] is not None)
    return json.dumps(j)


def _encode(canvas: FigureCanvasAgg) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
    return buf.getvalue()


class Renderer:
    """One reusable matplotlib figure that turns specifications into PNG bytes."""

    def __init__(self, dpi: int = DPI):
        self.dpi = dpi
        self.figure = MplFigure(dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self._key: str | None = None
        self._background: Any = None
        self._moving: list = []
        self.full_redraws = 0

    def png(self, spec: Figure) -> bytes:
        """Draw ``spec`` and return it as PNG bytes (blitting when the background holds)."""
        key = _background_key(spec)
        if key != self._key:
            self._moving = draw(spec, self.figure)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._key = key
            self.full_redraws += 1
        else:
            self.canvas.restore_region(self._background)
            _update_moving(spec, self._moving)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        return _encode(self.canvas)


def show(spec: Figure) -> Any:
    """``spec`` as a PNG image that a notebook cell displays (no pyplot involved)."""
    from IPython.display import Image as IPythonImage

    return IPythonImage(data=Renderer().png(spec), format="png")
