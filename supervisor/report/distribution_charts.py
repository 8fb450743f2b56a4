"""The latency distribution charts: the run's, with each step's where the document has
its histogram, and in a cluster each node's."""

from __future__ import annotations

import math
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest_supervisor.report.latency_distribution import (
    decode,
    depth,
    nines_label,
    percentile_curve,
)
from loadtest_supervisor.report.svg_chart import Axis, Series, line_chart, no_chart, value_axis


def _chart(chart_id: str, title: str, named: dict[str, HdrHistogram]) -> str:
    deepest = max(depth(hist) for hist in named.values())
    series = [Series(name, percentile_curve(hist, deepest)) for name, hist in named.items()]
    whole = math.floor(deepest)
    x_axis = Axis(
        0.0,
        deepest,
        [(float(n), nines_label(n)) for n in range(whole + 1)],
        "percentile (log scale of 1/(1-p))",
    )
    highest = max(y for one in series for _, y in one.points if y is not None)
    return line_chart(chart_id, title, series, x_axis, value_axis(highest, "latency (ms)"))


def distribution_charts(results: dict[str, Any]) -> list[str]:
    run = decode(results.get("latency_hdr"))
    if run is None:
        return [
            no_chart("distribution", "Latency distribution", "no latency was recorded in this run")
        ]
    named = {"all requests": run}
    for name, step in (results.get("steps") or {}).items():
        hist = decode(step.get("latency_hdr"))
        if hist is not None:
            named[f"step {name}"] = hist
    charts = [_chart("distribution", "Latency distribution", named)]
    by_node = {
        node_id: hist
        for node_id, node in (results.get("nodes") or {}).items()
        if (hist := decode(node.get("latency_hdr"))) is not None
    }
    if by_node:
        charts.append(_chart("node-distribution", "Latency distribution by node", by_node))
    return charts
