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
import textwrap
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from PIL import Image

from course.ui.figures import PALETTE, Figure, Heatmap, Lines, describe, extent

DPI = 100
# Text sizes are chosen for images shown at most MAX_WIDTH_PX wide and at least ~660 px
# (the book's column): 9-pt text is 12.5 px drawn and ≥ 9 px shown there. A wider figure
# is laid out narrower, with its panels wrapped onto rows, instead of being shrunk whole.
MAX_WIDTH_PX = 900
MIN_PANEL_PX = 240  # narrowest panel before panels wrap onto another row
# compact legend rows (about the twin's 16 px), so figures.LEGEND_ROW_PX holds for both
LEGEND_STYLE = {"labelspacing": 0.3, "handlelength": 1.8, "handletextpad": 0.5,
                "borderaxespad": 0.4}  # fmt: skip
FONT = {"tick": 9, "legend": 9, "label": 10, "title": 10.5, "caption": 11.5, "cell": 9}
MIN_TITLE_PT = 9  # a title shrinks to fit its width, not below this
LEFT, RIGHT, GAP = 0.07, 0.98, 0.38  # margins and gap between panels, as twin.js
MIN_LEFT_PX = 72  # room for the first panel's tick labels and axis label


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
    legend_loc, ylim = panel.legend_place()  # the corner, and the y range with room for it
    xs = [v for s in panel.series for v in np.asarray(s.x, float)]
    ys = [v for s in panel.series for v in s.shown_y()]
    for on, axis, lim, data in (
        (panel.xlog, ax.xaxis, panel.xlim, xs),
        (panel.ylog, ax.yaxis, ylim, ys),
    ):
        if on:
            axis._set_axes_scale("log")
            lo, hi = lim if lim is not None else extent(data, log=True)
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
    if ylim is not None:
        ax.set_ylim(*ylim)
    vline = ax.axvline(
        np.nan if panel.vline is None else panel.vline, color="0.3", lw=1, ls=":", animated=True
    )
    moving.append(vline)
    if panel.hline is not None:
        ax.axhline(panel.hline, color="0.3", lw=1, ls=":")
    ax.grid(True, color="0.9", lw=0.6)
    if panel.legend and any(s.label for s in panel.series):
        ax.legend(fontsize=FONT["legend"], frameon=False, loc=legend_loc, **LEGEND_STYLE)


def _text_px(text: str, points: float) -> float:
    """Rough drawn width of ``text`` at ``points`` (0.6 em per character), in pixels."""
    return 0.6 * points * DPI / 72 * len(text)


def _draw_heatmap(fig: MplFigure, ax: Any, panel: Heatmap, moving: list, width_px: float) -> None:
    z = np.asarray(panel.z, float)
    lo, hi = panel.limits
    im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis", vmin=lo, vmax=hi)
    cell = 0.85 * width_px / max(len(panel.x), 1)  # the colour bar takes the rest
    every = max(1, int(np.ceil((max(_text_px(str(t), FONT["tick"]) for t in panel.x) + 4) / cell)))
    ax.set_xticks(range(0, len(panel.x), every), list(panel.x)[::every], fontsize=FONT["tick"])
    ax.set_yticks(range(len(panel.y)), panel.y, fontsize=FONT["tick"])
    texts = [panel.fmt.format(v) for v in z.ravel()]
    fits = max((_text_px(t, FONT["cell"]) for t in texts), default=0) <= cell - 2
    if panel.annotate and fits:
        mid = (lo + hi) / 2
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                ax.text(
                    c,
                    r,
                    panel.fmt.format(z[r, c]),
                    ha="center",
                    va="center",
                    fontsize=FONT["cell"],
                    color="black" if z[r, c] > mid else "white",
                )
    c, r = panel.marker if panel.marker is not None else (-10, -10)
    rect = mpl.patches.Rectangle(
        (c - 0.5, r - 0.5), 1, 1, fill=False, ec="#d62728", lw=2.2, animated=True
    )
    ax.add_patch(rect)
    moving.append(rect)
    bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    bar.ax.tick_params(labelsize=FONT["tick"])
    if panel.zlabel:
        bar.set_label(panel.zlabel, fontsize=FONT["label"])


def layout(spec: Figure) -> dict[str, float]:
    """Size and grid of the drawn figure: width and height (inches), panels per row, rows."""
    width = min(spec.width, MAX_WIDTH_PX / DPI)
    left = max(LEFT, MIN_LEFT_PX / (width * DPI))
    n = len(spec.panels)
    per_row = max(1, n)
    while per_row > 1 and _panel_px(width, left, per_row) < MIN_PANEL_PX:
        per_row -= 1
    rows = -(-n // per_row)
    top = (0.16 if spec.title else 0.10) * spec.height  # inches above the first row
    box, below, between = 0.68 * spec.height, 0.16 * spec.height, 0.3
    height = top + rows * (box + below) + (rows - 1) * between
    return {"width": width, "height": height, "left": left, "per_row": per_row, "rows": rows,
            "top": top, "box": box, "below": below, "between": between}  # fmt: skip


def _panel_px(width: float, left: float, per_row: int) -> float:
    """Width in pixels of one panel when ``per_row`` panels share a row."""
    return (RIGHT - left) * width * DPI / (per_row + GAP * (per_row - 1))


def _fit_title(text: Any, room_px: float, renderer: Any) -> None:
    """Shrink a title wider than ``room_px`` to fit, down to MIN_TITLE_PT; then wrap it."""
    if renderer is None or not text.get_text():
        return
    drawn = text.get_window_extent(renderer).width
    if drawn > room_px:
        size = max(MIN_TITLE_PT, text.get_fontsize() * room_px / drawn)
        text.set_fontsize(size)
        if text.get_window_extent(renderer).width > room_px:
            chars = max(10, int(room_px / _text_px("x", size)))
            text.set_text("\n".join(textwrap.wrap(text.get_text(), chars)))


def draw(spec: Figure, fig: MplFigure) -> list:
    """Draw ``spec`` into an (emptied) matplotlib figure; return its moving artists.

    The moving artists (curves, bands, the heatmap marker, the caption) are created
    ``animated``: a plain ``canvas.draw()`` leaves them out, :class:`Renderer` (or
    :func:`show`) draws them on top.  The figure is at most MAX_WIDTH_PX wide; where its
    panels would be narrower than MIN_PANEL_PX they wrap onto more rows.
    """
    fig.clear()
    g = layout(spec)
    fig.set_size_inches(g["width"], g["height"])
    fig.subplots_adjust(
        left=g["left"], right=RIGHT, wspace=GAP, bottom=g["below"] / g["height"],
        top=1 - g["top"] / g["height"], hspace=(g["below"] + g["between"]) / g["box"],
    )  # fmt: skip
    panel_px = _panel_px(g["width"], g["left"], g["per_row"])
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    moving: list = []
    for i, panel in enumerate(spec.panels):
        ax = fig.add_subplot(g["rows"], g["per_row"], i + 1)
        if isinstance(panel, Heatmap):
            _draw_heatmap(fig, ax, panel, moving, panel_px)
        else:
            _draw_lines(ax, panel, moving)
        _fit_title(ax.set_title(panel.title, fontsize=FONT["title"]), panel_px * 1.2, renderer)
        ax.set_xlabel(panel.xlabel, fontsize=FONT["label"])
        ax.set_ylabel(panel.ylabel, fontsize=FONT["label"])
        ax.tick_params(labelsize=FONT["tick"])
    caption = fig.suptitle(spec.title, fontsize=FONT["caption"], animated=True)
    _fit_title(caption, 0.98 * g["width"] * DPI, renderer)
    moving.append(caption)
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
    """``spec`` as a PNG image that a notebook cell displays (no pyplot involved).

    The output's metadata carries :func:`course.ui.figures.describe` as ``alt``: the book
    uses it as the image's alt text.
    """
    from IPython.display import Image as IPythonImage

    return IPythonImage(data=Renderer().png(spec), format="png", metadata={"alt": describe(spec)})
