"""Charts drawn by the server as SVG: no script, no library to download, readable in print.

Only the geometry is computed here (pure, tested); the templates draw it
(``templates/charts.html``), each chart with its figures as a table beside it, so that
neither colour nor the drawing is the only way to read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its label, its value, and its length in percent of the longest."""

    label: str
    value: float | None  # None: no figure (nothing to measure); drawn as an empty bar
    percent: float


def bars(values: list[tuple[str, float | None]], *, top: float | None = None) -> list[Bar]:
    """Bars for ``values``, scaled to ``top`` (the largest value when None)."""
    known = [v for _, v in values if v is not None]
    scale = top if top is not None else max(known, default=0.0)
    return [
        Bar(label, value, 0.0 if value is None or scale <= 0 else min(value / scale, 1.0) * 100)
        for label, value in values
    ]


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar: which part, how many, where it starts and how wide (percent)."""

    part: str
    count: int
    start: float
    width: float


@dataclass(frozen=True)
class StackedBar:
    """A whole split in parts (e.g. recommendations: accepted, declined, overdue...)."""

    label: str
    total: int
    segments: list[Segment]


def stacked(label: str, parts: list[tuple[str, int]]) -> StackedBar:
    """A bar of ``parts`` side by side, each as wide as its share of the whole."""
    total = sum(count for _, count in parts)
    segments: list[Segment] = []
    start = 0.0
    for part, count in parts:
        width = count / total * 100 if total else 0.0
        segments.append(Segment(part, count, start, width))
        start += width
    return StackedBar(label, total, segments)


@dataclass(frozen=True)
class Line:
    """One series of a line chart, as SVG points in a 100 x 40 box (y grows downwards)."""

    name: str
    values: list[float | None]  # one per step (None: nothing to measure that day)
    points: list[tuple[float, float, float]]  # (x, y, value) of the known values only


@dataclass(frozen=True)
class LineChart:
    """Series over the same labelled steps (days), on one scale starting at zero."""

    steps: list[str]
    lines: list[Line]
    top: float  # the value at the top of the box
    width: float = 100.0
    height: float = 40.0


def line_chart(steps: list[str], series: dict[str, list[float | None]]) -> LineChart:
    """A line per series; a step with no value is left out (the line joins its neighbours)."""
    known = [v for values in series.values() for v in values if v is not None]
    top = max(known, default=0.0) or 1.0
    chart = LineChart(steps, [], top)
    span = max(len(steps) - 1, 1)
    for name, values in series.items():
        points = [
            (i / span * chart.width, chart.height - v / top * chart.height, v)
            for i, v in enumerate(values)
            if v is not None
        ]
        chart.lines.append(Line(name, values, points))
    return chart
