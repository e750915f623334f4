"""Explorer, renderer and static twin on a toy grid (no training: fast and exact)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from course.ui import figures, plots, static
from course.ui.controls import dropdown, slider
from course.ui.figures import Figure, Heatmap, Lines, Series, band
from course.ui.widgets import Explorer

A = [1, 2, 4, 8]
B = [10, 20, 30]


def toy_view(values, point):
    a, b = values["a"], values["b"]
    z = np.add.outer(np.arange(len(B)), np.arange(len(A))) / 10
    col = int(np.argmin(np.abs(np.asarray(A) - a)))
    row = int(np.argmin(np.abs(np.asarray(B) - b)))
    x = np.arange(1, 6)
    return Figure(
        [
            Heatmap(z, [str(v) for v in A], [str(v) for v in B], marker=(col, row), title="map"),
            Lines(
                [band(point["y"], point["y"] * 0.1, x, "curve"), Series(x, x / 5, "ref")],
                xlim=(1, 5),
                ylim=(0, 3),
                title="curve",
                vline=3.0,
            ),
        ],
        title=f"a = {a}, b = {b}",
    )


def toy_point(values):
    return {"y": np.linspace(0, 1, 5) * values["a"] / 8 + values["b"] / 30}


class Calls:
    def __init__(self):
        self.lookup = []
        self.live = []


@pytest.fixture
def explorer():
    calls = Calls()

    def lookup(v):
        calls.lookup.append(dict(v))
        return toy_point(v)

    def live(v):
        calls.live.append(dict(v))
        return toy_point(v)

    ex = Explorer(
        [slider("a", A), slider("b", B, default=20)], toy_view, lookup, live=live, title="toy"
    )
    ex.calls = calls
    return ex


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


def test_initial_figure_and_a_slider_move_redraw_in_place(explorer):
    first = explorer.image.value
    assert first[:4] == b"\x89PNG"
    explorer.inputs["a"].value = 8  # what a slider drag does
    assert explorer.image.value != first
    assert "looked up" in explorer.status.value and "drawn in" in explorer.status.value
    assert explorer.calls.lookup[-1] == {"a": 8, "b": 20}
    assert explorer.last_spec.title == "a = 8, b = 20"


def test_off_grid_values_and_the_live_box_retrain_through_live(explorer):
    timings = explorer.set(a=3, b=20)
    assert timings["live"] is True
    assert re.fullmatch(r"retrained live in \d+ ms, drawn in \d+ ms", repr(timings))
    assert explorer.calls.live[-1] == {"a": 3, "b": 20}
    assert "retrained live" in explorer.status.value
    explorer.set(a=2)
    assert explorer.calls.lookup[-1]["a"] == 2
    explorer.live_box.value = True
    assert explorer.calls.live[-1]["a"] == 2


def test_the_live_path_compiles_on_first_use_not_at_construction(explorer):
    """Building an explorer retrains nothing (Run All pays no compile for a box nobody
    ticks); the note under the box says the first retrain compiles, then reports it warm."""
    assert explorer.calls.live == []
    assert "the first retrain compiles" in explorer.live_note.value
    explorer.set(a=3)  # off the grid: live
    assert len(explorer.calls.live) == 1
    assert "live retraining is warm" in explorer.live_note.value
    assert "each retrain runs every seed" in explorer.live_note.value


def test_bad_values_and_failing_views_keep_the_last_figure(explorer):
    """From code a bad value raises (and shows in the status); a slider error only shows."""
    before = explorer.image.value
    with pytest.raises(ValueError, match=r"a must be in \[1, 8\], got 100"):
        explorer.set(a=100)
    assert "a must be in [1, 8], got 100" in explorer.status.value
    assert explorer.image.value == before
    with pytest.raises(ValueError, match=r"a must be a whole number in \[1, 8\].*got 2.5"):
        explorer.set(a=2.5)  # its grid is whole numbers: 2.5 cannot be honoured
    with pytest.raises(ValueError, match=r"unknown control\(s\) \['c'\]"):
        explorer.set(c=1)
    assert "unknown control(s) [&#x27;c&#x27;]" in explorer.status.value
    assert explorer.values() == {"a": 2, "b": 20}  # nothing of the refused calls was kept
    explorer.view = lambda values, point: 1 / 0
    explorer.inputs["b"].value = 30
    assert "ZeroDivisionError" in explorer.status.value
    assert explorer.image.value == before
    assert "Traceback" not in explorer.status.value


def test_fast_drags_are_debounced_and_the_last_value_wins(explorer):
    redraws = []
    original = explorer.refresh

    def counting():
        redraws.append(explorer.values())
        return original()

    explorer.refresh = counting

    async def drag():
        for a in [2, 4, 8, 1, 4]:
            explorer.inputs["a"].value = a
        await asyncio.sleep(0.2)

    asyncio.run(drag())
    assert redraws == [{"a": 4, "b": 20}]
    assert explorer.last_spec.title == "a = 4, b = 20"


def strongly_different_pixels(a: np.ndarray, b: np.ndarray) -> int:
    """Pixels where some colour channel differs by more than a quarter of its range."""
    return int((np.abs(a - b).max(axis=-1) > 64).sum())


BLIT_TOLERANCE = 10  # pixels: antialiased edges where a moving artist meets the background


def test_blitted_frame_equals_a_full_redraw(explorer):
    """The blitted frame is the full redraw, to a handful of antialiased edge pixels.

    The same comparison is shown to see each fault it guards against: a frame whose heatmap
    marker is missing, whose vertical line is missing, or whose marker sits one cell off
    differs from the blitted one in far more pixels than the tolerance.
    """
    explorer.set(a=1, b=10)
    explorer.set(a=8, b=30)  # blitted on the cached background
    assert explorer.renderer.full_redraws == 1
    spec = explorer.last_spec
    blitted = png_array(explorer.image.value)

    def drawn(s):
        return png_array(plots.Renderer().png(s))

    same = strongly_different_pixels(blitted, drawn(spec))
    assert same <= BLIT_TOLERANCE, same
    heat, lines = spec.panels
    col, row = heat.marker
    faults = {
        "marker missing": [dataclasses.replace(heat, marker=None), lines],
        "marker one cell off": [dataclasses.replace(heat, marker=(col - 1, row)), lines],
        "vertical line missing": [heat, dataclasses.replace(lines, vline=None)],
    }
    for fault, panels in faults.items():
        seen = strongly_different_pixels(blitted, drawn(dataclasses.replace(spec, panels=panels)))
        assert seen > 5 * BLIT_TOLERANCE, (fault, seen)


def twin_frames(html: str) -> dict:
    payload = re.search(r'mount\("twin-\w+", (\{.*\})\);</script>', html).group(1)
    return json.loads(payload.replace("<\\/", "</"))


def test_twin_shows_the_same_numbers_as_the_live_explorer(explorer):
    data = twin_frames(explorer.twin())
    assert len(data["frames"]) == len(A) * len(B)
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            explorer.set(a=a, b=b)
            assert data["frames"][f"{i},{j}"] == explorer.last_spec.to_json()
    assert [c["name"] for c in data["controls"]] == ["a", "b"]


def test_twin_is_self_contained_and_within_budget(explorer):
    html = explorer.twin()
    assert "<script src" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']https?:""", html)
    with pytest.raises(ValueError, match="over the budget"):
        static.twin_html(explorer.controls, lambda v: toy_view(v, toy_point(v)), budget=1000)


def test_display_bundle_has_the_live_widget_the_twin_and_the_figure_with_its_alt_text(explorer):
    bundle, metadata = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "course-twin" in bundle["text/html"]
    assert "Explorer(a, b)" in bundle["text/plain"]
    png = base64.b64decode(bundle["image/png"])
    assert png == explorer.image.value and png.startswith(b"\x89PNG")  # the figure shown now
    assert metadata["image/png"]["alt"] == figures.describe(explorer.last_spec)


def test_controls_validate_themselves():
    with pytest.raises(ValueError, match="needs increasing values"):
        slider("n", [3, 1, 2])
    with pytest.raises(ValueError, match="repeats values"):
        slider("n", [1, 1])
    with pytest.raises(ValueError, match="default 5 of 'n' is not one of its values"):
        slider("n", [1, 2], default=5)
    d = dropdown("act", {"ReLU": "relu", "tanh": "tanh"})
    assert d.labels == ("ReLU", "tanh")
    with pytest.raises(ValueError, match="act must be one of"):
        d.check("gelu")
    with pytest.raises(TypeError, match="n must be a number"):
        slider("n", [1, 2]).check("3")
    with pytest.raises(ValueError, match="controls must hold at least one control"):
        Explorer([], toy_view, toy_point)


def test_status_shows_values_as_their_controls_do_and_labels_fit():
    """A value on the grid reads as its label ("20%", "off"); a long label is not cut."""
    long_label = "learning rate η of the largest batch size"
    ex = Explorer(
        [slider("a", [0.1, 0.2], fmt="{:.0%}", label=long_label),
         slider("b", B, labels=["off", "2", "3"], default=20)],
        lambda values, point: toy_view({"a": 1, "b": 10}, point),
        lambda values: toy_point({"a": 1, "b": 10}), title="labels",
    )  # fmt: skip
    ex.set(a=0.2, b=10)
    assert "a = 20%" in ex.status.value and "b = off" in ex.status.value
    width = float(ex.inputs["a"].style.description_width.removesuffix("em"))
    assert width >= 0.55 * len(long_label)  # about 0.55 em a character: the label shows whole
    with pytest.raises(ValueError, match="fmt or labels"):
        slider("c", [1, 2], fmt="{}", labels=["x", "y"])


def _smallest_text_pt(spec) -> tuple[float, int, list[float]]:
    """Smallest font (pt) of any visible text the matplotlib renderer draws; PNG width; and
    how far (px) the drawn artists stick out of the figure on the left and right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.text import Text

    fig = MplFigure(dpi=plots.DPI)
    FigureCanvasAgg(fig)
    plots.draw(spec, fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)  # pixels
    outside = [x for x in (-tight.x0, tight.x1 - width) if x > 1]
    return min(t.get_fontsize() for t in texts), int(width), outside


def test_figure_text_is_at_least_9_px_where_it_is_shown():
    """The live widget and the book show the matplotlib image at most 900 px and (the book's
    column) about 660 px wide: every text, ticks and heatmap numbers included, must be ≥ 9 px
    there, and none may stick out of the figure — for one, two and three panels."""
    x = [125, 205, 336, 552, 906, 1486, 2438, 4000]
    rows = [str(2**k) for k in range(1, 9)]
    heat = Heatmap(np.full((8, 8), 0.61), [str(v) for v in x], rows, title="test error",
                   zlabel="test error", marker=(3, 4))  # fmt: skip
    curve = Lines([Series(x, np.linspace(0.8, 0.6, 8), "test error")], title="learning curves",
                  xlabel="step", ylabel="error", xlog=True)  # fmt: skip
    long_title = "a caption long enough to overflow a narrow figure " * 3
    for spec in [
        Figure([curve], title="one panel", width=6, height=3.5),
        Figure([curve, curve], title="two panels", width=10, height=4),
        Figure([heat, curve, curve], title=long_title, width=12.5, height=3.9),
    ]:
        smallest_pt, width_px, outside = _smallest_text_pt(spec)
        assert width_px <= plots.MAX_WIDTH_PX
        shown = smallest_pt * plots.DPI / 72 * min(1.0, 660 / width_px)
        assert shown >= 9.0, f"{len(spec.panels)} panels: text shown at {shown:.1f} px"
        assert outside == [], f"{len(spec.panels)} panels: sticks out by {outside} px"


def _legend_covers(spec: Figure) -> int:
    """How many data points the matplotlib-drawn legend of a one-panel figure covers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(dpi=plots.DPI)
    FigureCanvasAgg(fig)
    plots.draw(spec, fig)
    fig.canvas.draw()
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    xy = np.concatenate([np.c_[s.x, s.y] for s in spec.panels[0].series])
    return sum(box.contains(*p) for p in ax.transData.transform(xy))


def test_a_legend_by_default_sits_where_it_covers_no_data():
    """The default legend place ("best") avoids the data.  A falling diagonal and a cluster
    in the upper right leave only the lower-left corner free (a fixed "upper right" legend
    covers the cluster); two diagonals and two rails at the top and bottom leave no corner
    free, so the y range rises until the data sit below the legend."""
    x = np.linspace(0, 1, 41)
    cluster = np.linspace(0.75, 1.0, 11)
    one_free = Lines([Series(x, 1 - x, "falling diagonal"),
                      Series(cluster, 0.95 + 0 * cluster, "cluster", markers=True)])  # fmt: skip
    assert one_free.legend_place() == ("lower left", None)
    none_free = Lines([Series(x, x, "rising"), Series(x, 1 - x, "falling"),
                       Series(x, 0 * x, "floor"), Series(x, 1 + 0 * x, "ceiling")])  # fmt: skip
    corner, ylim = none_free.legend_place()
    assert corner == "upper right" and ylim[1] > 1.2, ylim
    for panel in (one_free, none_free):
        assert _legend_covers(Figure([panel], width=6, height=3.5)) == 0


def test_a_figure_is_described_in_words_for_its_alt_text():
    """The alt text names what a reader would look for: the caption, each panel's title and
    axes (and which are logarithmic), the curves' labels, a heatmap's grid — and stays short
    when a panel has many curves."""
    spec = Figure(
        [Lines([Series([1, 2], [3, 4], label=f"w = {w}") for w in range(8)], title="test loss",
               xlabel="n", ylabel="loss", xlog=True, ylog=True),
         Heatmap([[1, 2, 3], [4, 5, 6]], ["a", "b", "c"], ["r", "s"], xlabel="width",
                 ylabel="n", zlabel="error")],
        title="The scale map",
    )  # fmt: skip
    alt = figures.describe(spec)
    assert alt.startswith("The scale map.")
    assert "Panel 1, test loss: loss against n, both axes logarithmic; 8 series" in alt
    assert "w = 0" in alt and "w = 5" in alt and "w = 6" not in alt and "and 2 more" in alt
    assert "Panel 2: heatmap of error over width (3) and n (2)" in alt
    bare = figures.describe(Figure([Lines([Series([1], [1])])]))
    assert bare == "A figure. Panel 1: y against x; 1 series."
    shown = plots.show(spec)
    assert shown.metadata == {"alt": alt}  # what the book writes as the image's alt text
