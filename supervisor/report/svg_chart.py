"""Line charts as inline SVG: axes with ticks, one path per series, marked instants.

The report draws its charts here, in Python, so the file needs no script, no font and
no network to show them (docs/design.md §11.2 "HTML report"). A series longer than the
plot is wide is thinned to the lowest and highest point of each pixel column, so a
1-hour run costs no more than a 15-minute one and a one-second spike still shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from itertools import groupby

WIDTH = 960
HEIGHT = 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 16, 40
PLOT_WIDTH = WIDTH - _LEFT - _RIGHT
PLOT_HEIGHT = HEIGHT - _TOP - _BOTTOM

# Colour-blind-safe (Okabe-Ito), then repeated: more series than this are told apart by
# their legend order.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")

Point = tuple[float, float | None]  # (x, y); y None = no value there: the line breaks


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Marker:
    """An instant marked across the plot, such as a node joining."""

    x: float
    label: str
    kind: str  # a CSS class: the page colours each kind


@dataclass(frozen=True)
class Axis:
    """Where values fall on an axis (``position`` maps a value to 0..1 of its length),
    and the ticks labelled on it."""

    low: float
    high: float
    ticks: Sequence[tuple[float, str]]
    title: str
    transform: Callable[[float], float] = field(default=lambda v: v)

    def position(self, value: float) -> float:
        low, high = self.transform(self.low), self.transform(self.high)
        return 0.0 if high == low else (self.transform(value) - low) / (high - low)


def nice_step(span: float, most: int) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ step that cuts ``span`` into at most ``most`` parts."""
    if span <= 0:
        return 1.0
    rough = span / most
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return factor * power
    return 10 * power


def value_axis(highest: float, title: str, most_ticks: int = 5) -> Axis:
    """A linear axis from 0 to a round value at or above ``highest``."""
    step = nice_step(highest, most_ticks) if highest > 0 else 1.0
    top = step * max(1, math.ceil(highest / step - 1e-9))
    count = round(top / step)
    ticks = [(i * step, _number(i * step)) for i in range(count + 1)]
    return Axis(0.0, top, ticks, title)


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _runs(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """``points`` cut at each gap into runs of points that have values."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def thin(points: Sequence[Point], columns: int) -> list[Point]:
    """``points`` with at most about two per column of ``columns`` equal x ranges: each
    column keeps its lowest and highest point, in x order; gaps (None) stay gaps."""
    if len(points) <= 2 * columns:
        return list(points)
    low_x = points[0][0]
    width = (points[-1][0] - low_x) / columns or 1.0
    kept: list[Point] = []
    for run in _runs(points):
        if kept:
            kept.append((run[0][0], None))
        for _, column in groupby(run, key=lambda p: int((p[0] - low_x) / width)):
            column_points = list(column)
            lowest = min(column_points, key=lambda p: p[1])
            highest = max(column_points, key=lambda p: p[1])
            kept.extend(sorted({lowest, highest}))
    return kept


def _path(points: Sequence[Point], x_axis: Axis, y_axis: Axis) -> tuple[str, int]:
    """The SVG path of ``points`` and how many points it draws. A point with no
    neighbour on the line (its run is one point long) is drawn as a dot."""
    parts: list[str] = []
    drawn = 0
    run = 0
    for x, y in points:
        if y is None:
            if run == 1:
                parts.append("h0")
            run = 0
            continue
        px = _LEFT + x_axis.position(x) * PLOT_WIDTH
        py = _TOP + (1 - y_axis.position(y)) * PLOT_HEIGHT
        parts.append(f"{'L' if run else 'M'}{px:.1f},{py:.1f}")
        run += 1
        drawn += 1
    if run == 1:
        parts.append("h0")
    return "".join(parts), drawn


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    x_axis: Axis,
    y_axis: Axis,
    markers: Sequence[Marker] = (),
) -> str:
    """A ``<figure>`` with the chart's title, its SVG and a legend of its series."""
    svg = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}"/>',
    ]
    for value, label in y_axis.ticks:
        y = _TOP + (1 - y_axis.position(value)) * PLOT_HEIGHT
        svg.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + PLOT_WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    for value, label in x_axis.ticks:
        x = _LEFT + x_axis.position(value) * PLOT_WIDTH
        svg.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + PLOT_HEIGHT}"/>'
            f'<text class="tick" x="{x:.1f}" y="{_TOP + PLOT_HEIGHT + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    svg.append(
        f'<text class="axis-title" x="{_LEFT + PLOT_WIDTH / 2}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{escape(x_axis.title)}</text>'
        f'<text class="axis-title" transform="translate(14 {_TOP + PLOT_HEIGHT / 2}) '
        f'rotate(-90)" text-anchor="middle">{escape(y_axis.title)}</text>'
    )
    for i, marker in enumerate(markers):
        x = _LEFT + x_axis.position(marker.x) * PLOT_WIDTH
        # Labels step down in three rows, so instants close together stay readable.
        label_y = _TOP + 12 + 12 * (i % 3)
        svg.append(
            f'<g class="marker {escape(marker.kind)}"><title>{escape(marker.label)}</title>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + PLOT_HEIGHT}"/>'
            f'<text x="{x + 3:.1f}" y="{label_y}">{escape(marker.label)}</text></g>'
        )
    legend = []
    for i, one in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        d, drawn = _path(thin(one.points, PLOT_WIDTH), x_axis, y_axis)
        svg.append(
            f'<path class="series" data-series="{escape(one.name)}" data-points="{drawn}" '
            f'stroke="{colour}" d="{d}"/>'
        )
        legend.append(
            f'<li><span class="swatch" style="background:{colour}"></span>{escape(one.name)}</li>'
        )
    svg.append("</svg>")
    return (
        f'<figure class="chart-box" id="{escape(chart_id)}"><figcaption>{escape(title)}'
        f'</figcaption>{"".join(svg)}<ul class="legend">{"".join(legend)}</ul></figure>'
    )


def no_chart(chart_id: str, title: str, reason: str) -> str:
    """The place of a chart that has nothing to draw, saying why."""
    return (
        f'<figure class="chart-box empty" id="{escape(chart_id)}"><figcaption>'
        f'{escape(title)}</figcaption><p class="no-data">{escape(reason)}</p></figure>'
    )
