"""Charts drawn on the server as SVG: geometry here, markup in ``kit/_chart.html`` (both services' pages use them).

No chart library and no script: the pages work offline and without JavaScript, and every chart sits beside a
table with the same numbers (the table is what a screen reader, a copy-paste and a test read). A suppressed
value (``None``) draws no bar and is labelled "<5".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Bar", "Chart", "Tick", "columns", "horizontal_bars", "nice_ceiling"]

_LABEL_CHARS: Final = 30


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    x: float
    y: float
    width: float
    height: float
    suppressed: bool
    label_x: float
    label_y: float
    value_x: float
    value_y: float
    emphasis: bool = False


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick] = field(default_factory=list)
    line: str | None = None
    """Points of a polyline (``"x,y x,y ..."``) over the columns, if any."""
    baseline_y: float = 0.0
    plot_left: float = 0.0
    plot_right: float = 0.0


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (a scale's end)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10.0 * power


def horizontal_bars(
    items: Sequence[tuple[str, float | None, str]],
    *,
    width: int = 720,
    row: int = 24,
    label_width: int = 230,
    value_width: int = 70,
    scale: Callable[[float], str] | None = None,
) -> Chart:
    """One bar per ``(label, value or None, value text)``. Without ``scale`` the longest bar is the plot's width;
    with it, the plot runs from 0 to a round number at or above the largest value, with a tick and a grid line at
    each quarter labelled by ``scale(value)``: bars of small rates (0.11 %) are read against their axis, not as
    "full", and differences between them show."""
    largest = max((v for _, v, _ in items if v is not None), default=0) or 1
    end = nice_ceiling(largest) if scale is not None else largest
    plot = width - label_width - value_width
    bars = []
    for index, (label, value, text) in enumerate(items):
        y = 4 + index * row
        length = 0.0 if value is None else plot * value / end
        bars.append(
            Bar(
                label=_short(label),
                value_text=text,
                x=label_width,
                y=y + 3,
                width=round(length, 1),
                height=row - 6,
                suppressed=value is None,
                label_x=label_width - 8,
                label_y=y + row / 2 + 4,
                value_x=label_width + length + 6,
                value_y=y + row / 2 + 4,
            )
        )
    plot_bottom = 8 + row * len(items)
    ticks = []
    if scale is not None:
        for quarter in range(5):
            value = end * quarter / 4
            ticks.append(Tick(round(label_width + plot * quarter / 4, 1), plot_bottom + 14, scale(value)))
    return Chart(
        width=width,
        height=plot_bottom + (22 if ticks else 0),
        bars=bars,
        ticks=ticks,
        baseline_y=plot_bottom,
        plot_left=label_width,
        plot_right=label_width + plot,
    )


def columns(
    items: Sequence[tuple[str, int, bool]],
    *,
    line: Sequence[int] | None = None,
    line_max: int = 0,
    width: int = 720,
    height: int = 240,
) -> Chart:
    """One column per ``(label, value, emphasised)`` left to right (a day's submissions, after the deadline
    emphasised), with an optional line (municipalities so far) on its own scale 0..``line_max``."""
    left, right, top, bottom = 40.0, 40.0, 12.0, 44.0
    plot_w, plot_h = width - left - right, height - top - bottom
    largest = max((v for _, v, _ in items), default=0) or 1
    step = min(plot_w / max(len(items), 1), 48.0)  # a few days do not make a few very wide columns
    gap = min(4.0, step * 0.2)
    baseline = top + plot_h
    label_every = max(1, round(len(items) / 12))
    bars, ticks, points = [], [], []
    for index, (label, value, emphasis) in enumerate(items):
        h = plot_h * value / largest
        x = left + index * step
        bars.append(
            Bar(
                label=label,
                value_text=str(value),
                x=round(x + gap / 2, 1),
                y=round(baseline - h, 1),
                width=round(max(step - gap, 1.0), 1),
                height=round(h, 1),
                suppressed=False,
                label_x=round(x + step / 2, 1),
                label_y=baseline + 16,
                value_x=round(x + step / 2, 1),
                value_y=round(baseline - h - 3, 1),
                emphasis=emphasis,
            )
        )
        if index % label_every == 0:
            ticks.append(Tick(round(x + step / 2, 1), baseline + 16, label))
        if line is not None and line_max:
            points.append(f"{round(x + step / 2, 1)},{round(baseline - plot_h * line[index] / line_max, 1)}")
    return Chart(
        width=width,
        height=height,
        bars=bars,
        ticks=ticks,
        line=" ".join(points) if points else None,
        baseline_y=baseline,
        plot_left=left,
        plot_right=width - right,
    )
