"""The live explorer: sliders that move a model's results, and their static twin.

An :class:`Explorer` is declared, not wired by hand::

    Explorer(
        controls=[slider("n_train", sizes), slider("width", widths)],
        view=lambda values, point: make_figure(values, point),   # -> course.ui.figures.Figure
        lookup=lambda values: grid.sel(**values),                 # precomputed results
        live=lambda values: retrain(values),                      # optional: the engine, now
    )

* Every value a slider can reach was computed in advance (one vmapped sweep), so a
  slider move is a **lookup and a redraw**: the figure is redrawn in place (one
  PNG image, no flicker, no pile of figures), usually by blitting only its
  moving parts.
* A value off the grid (set from code with :meth:`Explorer.set`) or the "retrain
  live" box sends the values through the engine instead (``live``).  The first such
  retrain compiles the live path (the status line says so); later ones do not.  A
  student who never retrains never waits for that compile.
* Fast drags are debounced: changes that arrive while the kernel is busy are
  merged and the last value always wins.
* Bad values and failing computations show a message in the status line and keep
  the last good figure.
* Displayed in a notebook, the explorer also carries its **static twin**
  (:func:`course.ui.static.twin_html`) as HTML: JupyterLab shows the live widget, the
  book (which has no kernel) shows the twin, whose sliders swap precomputed frames.
"""

from __future__ import annotations

import asyncio
import base64
import html
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from course.engine.checks import check_float
from course.ui.controls import Control, dropdown, slider
from course.ui.figures import Figure, describe
from course.ui.plots import MAX_WIDTH_PX, Renderer
from course.ui.static import twin_html

__all__ = ["Explorer", "dropdown", "slider"]


class Timings(dict):
    """How long the last update took (a dict), shown as one line rather than a raw dict."""

    def __repr__(self) -> str:
        if "error" in self:
            return f"error: {self['error']}"
        how = "retrained live" if self.get("live") else "looked up"
        return f"{how} in {self['compute_ms']:.0f} ms, drawn in {self['draw_ms']:.0f} ms"


def label_width(controls: Sequence[Control]) -> int:
    """Width (em) that shows every control's label whole: at least 11, about 0.6 em a character."""
    return max(11, *(math.ceil(0.6 * len(c.label)) + 1 for c in controls))


class Explorer:
    """A live explorer over a grid of precomputed results (see the module docstring).

    Args:
        controls: the controls, in display order.
        view: ``view(values, point) -> Figure``: what to draw for the control values
            and the result at that point.
        lookup: ``lookup(values) -> point`` for values on the grid.
        live: ``live(values) -> point`` retraining through the engine, or None.
        title: a heading.
        note: a line under the controls (how the grid was computed).
        debounce: seconds to wait for further changes before redrawing.
        live_runs: what one live retrain trains, for the note under the checkbox.
    """

    def __init__(
        self,
        controls: Sequence[Control],
        view: Callable[[dict[str, Any], Any], Figure],
        lookup: Callable[[dict[str, Any]], Any],
        *,
        live: Callable[[dict[str, Any]], Any] | None = None,
        title: str = "",
        note: str = "",
        debounce: float = 0.03,
        live_runs: str = "every seed",
    ):
        if isinstance(controls, Control) or not isinstance(controls, Sequence):
            raise TypeError(
                f"controls must be a list of slider()/dropdown() controls, got {controls!r}"
            )
        if not controls:
            raise ValueError("controls must hold at least one control, got an empty list")
        for i, c in enumerate(controls):
            if not isinstance(c, Control):
                raise TypeError(f"controls[{i}] must be made by slider() or dropdown(), got {c!r}")
        for name, fn in (("view", view), ("lookup", lookup)):
            if not callable(fn):
                raise TypeError(f"{name} must be a function of the control values, got {fn!r}")
        if live is not None and not callable(live):
            raise TypeError(f"live must be a function of the control values or None, got {live!r}")
        debounce = check_float("debounce", debounce, 0.0, 5.0)
        if not isinstance(live_runs, str):
            raise TypeError(f"live_runs must be a string, got {live_runs!r}")
        names = [c.name for c in controls]
        if len(set(names)) != len(names):
            raise ValueError(f"control names repeat: {names}")
        self.controls = list(controls)
        self.view, self.lookup, self.live = view, lookup, live
        self.title, self.note, self.debounce = title, note, debounce
        self.renderer = Renderer()
        self.timings: dict[str, float] = {}
        self._override: dict[str, Any] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._twin: str | None = None
        self.last_spec: Figure | None = None

        label_em = label_width(self.controls)  # one label column for every control
        self.inputs = {c.name: self._make_input(c, label_em) for c in self.controls}
        self.live_box = w.Checkbox(
            value=False,
            description="retrain live through the engine",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.image = w.Image(
            format="png", layout=w.Layout(width="100%", max_width=f"{MAX_WIDTH_PX}px")
        )
        self.status = w.HTML()
        self.status.add_class("course-status")
        rows = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        rows += list(self.inputs.values())
        self.live_note = w.HTML()  # kernel-only: the book page shows the twin, not this
        if live is not None:
            rows += [self.live_box, self.live_note]
            self.live_box.observe(self._on_change, names="value")
        if note:
            rows.append(w.HTML(f"<span style='color:#666'>{html.escape(note)}</span>"))
        rows += [self.image, self.status]
        self.widget = w.VBox(rows)
        self.widget.add_class("course-explorer")  # how tests find an explorer on the page

        self.live_runs = live_runs
        self._warm = False  # the live path compiles on its first use, not here
        if live is not None:
            self._note_live("the first retrain compiles the live path (a few seconds, once)")
        self.refresh()

    # ---- controls ---------------------------------------------------------------------

    def _make_input(self, c: Control, label_em: int) -> w.ValueWidget:
        options = list(zip(c.labels, c.values, strict=True))
        style = {"description_width": f"{label_em}em"}
        layout = w.Layout(width=f"{label_em + 25}em")
        if c.kind == "dropdown":
            widget = w.Dropdown(
                options=options, value=c.default, description=c.label, style=style, layout=layout
            )
        else:
            widget = w.SelectionSlider(
                options=options,
                value=c.default,
                description=c.label,
                continuous_update=True,
                style=style,
                layout=layout,
            )
        widget.observe(self._on_change, names="value")
        return widget

    def values(self) -> dict[str, Any]:
        """The current control values (those set from code take precedence)."""
        current = {name: widget.value for name, widget in self.inputs.items()}
        current.update(self._override)
        return current

    def set(self, **values: Any) -> Timings:
        """Set control values from code — off the grid too — and redraw; return the timings.

        A value between grid points is retrained live.  A value the explorer cannot honour
        (an unknown control, a value outside a control's range, a fraction for a control
        whose grid is whole numbers) raises ``ValueError``/``TypeError`` — from code, a bad
        value must not pass unseen — and is also shown in the status line; the figure and
        the current values stay.  So does an error while computing or drawing the point.

        Returns:
            :class:`Timings` (a dict: ``compute_ms``, ``draw_ms``, ``total_ms``, ``live``)
            that a notebook shows as one short line.
        """
        unknown = sorted(set(values) - set(self.inputs))
        if unknown:
            err = ValueError(f"unknown control(s) {unknown}; controls: {list(self.inputs)}")
            self._fail(err)
            raise err
        controls = {c.name: c for c in self.controls}
        try:
            for name, value in values.items():
                controls[name].check(value)
        except (TypeError, ValueError) as err:  # refuse the values, keep the current ones
            self._fail(err)
            raise
        self._override = {}
        for name, value in values.items():
            control = controls[name]
            i = control.index(value)
            if i is not None:
                with self._quiet():
                    self.inputs[name].value = control.values[i]
            else:
                self._override[name] = value
        timings = self.refresh()
        if "error" in timings:
            raise RuntimeError(f"the explorer could not show {values}: {timings['error']}")
        return timings

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("owner") in self.inputs.values():
            self._override.pop(
                next(n for n, x in self.inputs.items() if x is change["owner"]), None
            )
        if getattr(self, "_muted", False):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script or a test): redraw now
            self.refresh()
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = loop.call_later(self.debounce, self.refresh)

    class _Quiet:
        def __init__(self, explorer: Explorer):
            self.explorer = explorer

        def __enter__(self) -> None:
            self.explorer._muted = True

        def __exit__(self, *exc: object) -> None:
            self.explorer._muted = False

    def _quiet(self) -> Explorer._Quiet:
        return Explorer._Quiet(self)

    # ---- the update path ----------------------------------------------------------------

    def refresh(self) -> Timings:
        """Compute the current point (lookup or live), redraw, report; return the timings."""
        self._handle = None
        values = self.values()
        start = time.perf_counter()
        try:
            for c in self.controls:
                c.check(values[c.name])
            off_grid = [c.name for c in self.controls if c.index(values[c.name]) is None]
            if off_grid or self.live_box.value:
                if self.live is None:
                    raise ValueError(
                        f"{', '.join(off_grid)} off the grid, and this explorer cannot retrain live"
                    )
                point, how = self._retrain(values), "retrained live"
            else:
                point, how = self.lookup(values), "looked up"
            computed = time.perf_counter()
            spec = self.view(values, point)
            self.image.value = self.renderer.png(spec)
            self.last_spec = spec
        except Exception as err:  # show it, keep the last good figure
            return self._fail(err)
        drawn = time.perf_counter()
        self.timings = Timings(
            compute_ms=1e3 * (computed - start),
            draw_ms=1e3 * (drawn - computed),
            total_ms=1e3 * (drawn - start),
            live=how != "looked up",
        )
        shown = ", ".join(f"{k} = {self._shown(k, v)}" for k, v in values.items())
        took = f"{how} in {self.timings['compute_ms']:.0f} ms"
        drew = f"drawn in {self.timings['draw_ms']:.0f} ms"
        self.status.value = (
            f"<span style='color:#444'>{html.escape(shown)} · {took} · {drew}</span>"
        )
        return self.timings

    def _retrain(self, values: dict[str, Any]) -> Any:
        """The live path; its first call compiles, and the note under the box says so."""
        if self._warm:
            return self.live(values)
        self.status.value = (
            "<span style='color:#444'>compiling the live path (once) and retraining…</span>"
        )
        start = time.perf_counter()
        point = self.live(values)
        self._warm = True
        took = time.perf_counter() - start
        self._note_live(f"live retraining is warm ({took:.1f} s to compile and run the first)")
        return point

    def _note_live(self, state: str) -> None:
        """The note under the live box: the live path's state, and what a retrain runs."""
        self.live_note.value = (
            f"<span style='color:#666'>{state}; each retrain runs "
            f"{html.escape(self.live_runs)} through the engine</span>"
        )

    def _shown(self, name: str, value: Any) -> str:
        """A value as its control shows it (its label on the grid, e.g. "20%"), else plainly."""
        control = next((c for c in self.controls if c.name == name), None)
        i = None if control is None else control.index(value)
        return control.labels[i] if i is not None else _fmt(value)

    def _fail(self, err: Exception) -> Timings:
        message = f"{type(err).__name__}: {err}"
        self.status.value = (
            f"<span style='color:#b00020'>⚠ {html.escape(message)} "
            "(the figure shows the last good values)</span>"
        )
        self.timings = Timings(error=message)
        return self.timings

    # ---- display ------------------------------------------------------------------------

    def twin(self) -> str:
        """The static twin's HTML (computed once)."""
        if self._twin is None:
            self._twin = twin_html(
                self.controls,
                lambda values: self.view(values, self.lookup(values)),
                title=self.title,
                note=self.note or "Precomputed results: no kernel needed.",
            )
        return self._twin

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The live widget, the static twin, and the figure as shown now.

        JupyterLab shows the widget; the book shows the twin (HTML); the PNG, with its alt
        text, is for viewers that run neither, and gives the book its chapter pictures.
        """
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["text/html"] = self.twin()
        metadata: dict[str, Any] = {}
        if self.last_spec is not None and self.image.value:
            bundle["image/png"] = base64.b64encode(self.image.value).decode()
            metadata["image/png"] = {"alt": describe(self.last_spec)}
        bundle["text/plain"] = (
            f"Explorer({', '.join(c.name for c in self.controls)}): "
            "live in JupyterLab; a static twin elsewhere"
        )
        return bundle, metadata


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
