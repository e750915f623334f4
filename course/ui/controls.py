"""Controls of an explorer: a name, the grid of values it can take, and how to show them.

The live explorer (:mod:`course.ui.widgets`) turns each control into an ipywidgets
slider or dropdown; the static twin (:mod:`course.ui.static`) into an HTML range
input or select.  Both move over the same grid of values.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from course.engine.checks import check_choice

KINDS = ("slider", "dropdown")


@dataclasses.dataclass(frozen=True)
class Control:
    """One control of an explorer.

    Attributes:
        name: the keyword the values are passed under (e.g. ``"n_train"``).
        values: the grid, in display order (sliders: increasing).
        label: text shown beside the control.
        kind: ``"slider"`` or ``"dropdown"``.
        default: the starting value (a grid value; default: the middle one).
        labels: how each grid value is shown.
    """

    name: str
    values: tuple
    label: str
    kind: str = "slider"
    default: Any = None
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        if (
            not isinstance(self.name, str)
            or not self.name.isidentifier()
            or keyword.iskeyword(self.name)
        ):
            raise ValueError(
                f"name must be usable as a keyword argument (a Python identifier that is not "
                f"a reserved word), got {self.name!r}"
            )
        if self.kind == "slider":
            for i, v in enumerate(self.values):
                if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
                    raise TypeError(
                        f"slider {self.name!r} needs finite numbers, got values[{i}] = {v!r}"
                    )
        if self.labels and len(self.labels) != len(self.values):
            raise ValueError(
                f"labels of {self.name!r} must match its {len(self.values)} values one to one, "
                f"got {len(self.labels)}"
            )
        if not self.values:
            raise ValueError(f"control {self.name!r} needs at least one value")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"control {self.name!r} repeats values: {list(self.values)}")
        if self.kind == "slider" and list(self.values) != sorted(self.values):
            raise ValueError(
                f"slider {self.name!r} needs increasing values, got {list(self.values)}"
            )
        if self.default is None:
            object.__setattr__(self, "default", self.values[(len(self.values) - 1) // 2])
        if self.default not in self.values:
            raise ValueError(f"default {self.default!r} of {self.name!r} is not one of its values")
        if not self.labels:
            object.__setattr__(self, "labels", tuple(_label(v) for v in self.values))

    @property
    def start(self) -> int:
        """Position of the default value."""
        return self.values.index(self.default)

    def index(self, value: Any) -> int | None:
        """Position of ``value`` on the grid, or None when it is off the grid."""
        for i, v in enumerate(self.values):
            if v == value or (
                isinstance(v, Real)
                and isinstance(value, Real)
                and abs(v - value) <= 1e-9 * max(abs(v), 1)
            ):
                return i
        return None

    def check(self, value: Any) -> Any:
        """Return ``value`` if the control can take it (sliders: anything within the grid's range).

        Raises:
            TypeError: a slider value that is not a number.
            ValueError: a value outside the range, or not an option of a dropdown.
        """
        if self.kind == "dropdown":
            if self.index(value) is None:
                raise ValueError(f"{self.name} must be one of {list(self.values)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{self.name} must be a number, got {value!r}")
        lo, hi = self.values[0], self.values[-1]
        whole = all(isinstance(v, Integral) for v in self.values)
        if whole and not float(value).is_integer():
            raise ValueError(
                f"{self.name} must be a whole number in [{lo}, {hi}] (its grid is whole "
                f"numbers), got {value}"
            )
        if not lo <= value <= hi:
            raise ValueError(f"{self.name} must be in [{lo}, {hi}], got {value}")
        return value


def _label(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def slider(
    name: str,
    values: Sequence[Any],
    *,
    label: str | None = None,
    default: Any = None,
    fmt: str | None = None,
    labels: Sequence[str] | None = None,
) -> Control:
    """A slider over ``values`` (increasing; log-spaced values give a log-scaled slider).

    Each position is shown as ``fmt.format(value)``, or as the given ``labels`` (one per
    value), or plainly.
    """
    values = tuple(v.item() if hasattr(v, "item") else v for v in values)
    if fmt and labels:
        raise ValueError("slider takes fmt or labels, not both")
    shown = tuple(labels) if labels else tuple(fmt.format(v) for v in values) if fmt else ()
    return Control(name, values, label or name, "slider", default, shown)


def dropdown(
    name: str,
    options: Sequence[Any] | Mapping[str, Any],
    *,
    label: str | None = None,
    default: Any = None,
) -> Control:
    """A dropdown over ``options`` (a list of values, or a mapping label → value)."""
    if isinstance(options, Mapping):
        labels, values = tuple(options), tuple(options.values())
    else:
        values = tuple(options)
        labels = tuple(_label(v) for v in values)
    return Control(name, values, label or name, "dropdown", default, labels)
