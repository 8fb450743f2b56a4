"""The over-time charts of a results document, from its ``timeline`` (one point per
interval, and the cluster's events: nodes joining and lost, leader changes, each marked
on every chart's time axis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loadtest_supervisor.report.svg_chart import (
    Axis,
    Marker,
    Point,
    Series,
    line_chart,
    no_chart,
    value_axis,
)

# Tick steps a time axis may use, in seconds: round to a reader of a clock.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
_MOST_TIME_TICKS = 10
LATENCY_KEYS = ("p50", "p90", "p99", "max")

_EVENT_LABELS: dict[str, Callable[[dict[str, Any]], str]] = {
    "node_joined": lambda e: f"+ {e.get('node', '?')}",
    "node_lost": lambda e: f"− {e.get('node', '?')} lost",
    "leader_changed": lambda e: (
        f"leader {e.get('node', '?')}"
        + (f" (term {e['term']})" if e.get("term") is not None else "")
    ),
}

NO_TIMELINE = "no timeline: this results document has none (it predates timelines)"


def time_axis(end_s: float) -> Axis:
    """Seconds into the run, from 0 to ``end_s``, labelled as a clock past a minute."""
    step = next((s for s in _TIME_STEPS if end_s / s <= _MOST_TIME_TICKS), _TIME_STEPS[-1])
    clock = end_s >= 120
    ticks = []
    t = 0
    while t <= end_s:
        ticks.append((float(t), f"{t // 60}:{t % 60:02d}" if clock else f"{t} s"))
        t += step
    title = "time into the run (m:ss)" if clock else "time into the run"
    return Axis(0.0, max(end_s, 1.0), ticks, title)


def event_markers(events: list[dict[str, Any]]) -> list[Marker]:
    return [
        Marker(event["t"], _EVENT_LABELS[event["kind"]](event), event["kind"])
        for event in events
        if event.get("kind") in _EVENT_LABELS and isinstance(event.get("t"), int | float)
    ]


def _highest(series: list[Series]) -> float:
    return max((y for one in series for _, y in one.points if y is not None), default=0.0)


def timeline_charts(results: dict[str, Any]) -> list[str]:
    """Throughput, errors, latency percentiles and in-flight requests over time, and in a
    cluster each node's req/s and the live nodes; "no timeline" where there is none."""
    timeline = results.get("timeline") or {}
    points = timeline.get("points") or []
    if not points:
        return [
            no_chart(chart_id, title, NO_TIMELINE)
            for chart_id, title in (
                ("throughput", "Throughput over time"),
                ("errors", "Errors over time"),
                ("latency-over-time", "Latency percentiles over time"),
            )
        ]
    interval = timeline.get("interval_s") or 1
    events = timeline.get("events") or []
    end = max([p["t"] for p in points] + [e["t"] for e in events if "t" in e])
    x_axis = time_axis(end)
    markers = event_markers(events)

    def chart(chart_id: str, title: str, y_title: str, series: list[Series]) -> str:
        return line_chart(
            chart_id, title, series, x_axis, value_axis(_highest(series), y_title), markers
        )

    def over_time(value: Callable[[dict[str, Any]], float | None]) -> list[Point]:
        return [(p["t"], value(p)) for p in points]

    kinds = sorted({kind for p in points for kind, n in (p.get("errors") or {}).items() if n})
    charts = [
        chart(
            "throughput",
            "Throughput over time",
            "req/s",
            [Series("req/s", over_time(lambda p: p.get("rps")))],
        ),
        chart(
            "errors",
            "Errors over time",
            "errors/s",
            [Series("all errors", over_time(lambda p: p.get("errors_total", 0) / interval))]
            # One kind is the same line as all of them: it is named in the errors table.
            + [
                Series(
                    kind,
                    over_time(lambda p, k=kind: (p.get("errors") or {}).get(k, 0) / interval),
                )
                for kind in kinds
                if len(kinds) > 1
            ],
        ),
        chart(
            "latency-over-time",
            "Latency percentiles over time",
            "ms",
            [Series(key, over_time(lambda p, k=key: _latency(p, k))) for key in LATENCY_KEYS],
        ),
    ]
    if any("in_flight" in p for p in points):
        charts.append(
            chart(
                "in-flight",
                "Requests in flight",
                "requests",
                [Series("in flight", over_time(lambda p: p.get("in_flight")))],
            )
        )
    nodes = sorted({node for p in points for node in p.get("node_rps") or {}})
    if nodes:
        charts.append(
            chart(
                "node-throughput",
                "Throughput by node",
                "req/s",
                [
                    Series(node, over_time(lambda p, n=node: (p.get("node_rps") or {}).get(n)))
                    for node in nodes
                ],
            )
        )
    if any("nodes_live" in p for p in points):
        charts.append(
            chart(
                "nodes-live",
                "Live nodes",
                "nodes",
                [Series("live nodes", over_time(lambda p: p.get("nodes_live")))],
            )
        )
    return charts


def _latency(point: dict[str, Any], key: str) -> float | None:
    # An interval without a sample has no latency (null), drawn as a gap, not as 0 ms.
    latency = point.get("latency_ms")
    return None if not latency else latency.get(key)
