"""Prometheus metrics computed from the run totals at scrape time.

Nothing is recorded twice: the collector reads the same merged snapshots the summary
uses, so a scrape and the final summary always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import ERROR_KINDS

# (quantile label, results document key): spelled out, not computed from the quantile,
# so float rounding can never miss a key.
QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"), ("0.999", "p999"))


class RunTotalsCollector(Collector):
    def __init__(self, totals: Callable[[], RunTotals | None]) -> None:
        self._totals = totals

    def describe(self) -> list[Metric]:
        # Describing without collecting keeps registration free of a totals merge.
        return []

    def collect(self) -> Iterator[Metric]:
        run = self._totals()
        if run is None:
            return
        total = run.total()

        yield CounterMetricFamily(
            "loadtest_requests", "Requests finished in the current run.", value=total.requests
        )

        errors = CounterMetricFamily(
            "loadtest_errors", "Failed requests in the current run, by kind.", labels=["kind"]
        )
        for kind in (*ERROR_KINDS, *sorted(set(total.errors) - set(ERROR_KINDS))):
            errors.add_metric([kind], total.errors.get(kind, 0))
        yield errors

        responses = CounterMetricFamily(
            "loadtest_responses", "Responses in the current run, by status code.", labels=["code"]
        )
        for code in sorted(total.status):
            responses.add_metric([str(code)], total.status[code])
        yield responses

        yield CounterMetricFamily(
            "loadtest_dropped_iterations",
            "Iterations a rate-driven model could not start in time.",
            value=run.counter("dropped"),
        )

        # The workers' own load in their latest reports (engine.saturation).
        generator = run.generator() or {}
        yield GaugeMetricFamily(
            "loadtest_generator_saturated",
            "1 while a load worker is saturated (using or waiting for over 90 % of a core, or "
            "its event loop lagging over 20 ms on average, in its latest report): add "
            "workers or nodes.",
            value=int(generator.get("saturated", False)),
        )
        yield GaugeMetricFamily(
            "loadtest_generator_cpu_ratio",
            "CPU used by the busiest load worker over its latest report, in cores.",
            value=generator.get("cpu", 0.0),
        )
        yield GaugeMetricFamily(
            "loadtest_generator_cpu_wait_ratio",
            "CPU the most starved load worker waited for on a run queue over its latest "
            "report, in cores (a machine shared with other work).",
            value=generator.get("cpu_wait", 0.0),
        )
        yield GaugeMetricFamily(
            "loadtest_generator_loop_lag_seconds",
            "Event-loop lag of the most lagging load worker over its latest report.",
            value=generator.get("loop_lag_ms", 0.0) / 1e3,
        )

        count = total.histogram.get_total_count()
        latency_ms = total.latency_ms()
        latency = SummaryMetricFamily(
            "loadtest_request_latency_seconds",
            "Request latency over the current run, from merged HdrHistograms.",
            # HdrHistogram keeps no exact sum; count x mean is exact to its precision.
            count_value=count,
            sum_value=latency_ms["mean"] * count / 1e3,
        )
        if count:
            for quantile, key in QUANTILES:
                seconds = latency_ms[key] / 1e3
                latency.add_sample(latency.name, {"quantile": quantile}, seconds)
        yield latency


class ClusterResultsCollector(Collector):
    """The cluster's merged results on its leader: each series once for the cluster (no
    label) and once per node (``node``), so a dashboard sums nothing itself."""

    def __init__(self, document: Callable[[], dict[str, Any] | None]) -> None:
        self._document = document

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        document = self._document()
        if document is None:
            return
        parts = [({}, document)] + [({"node": n}, doc) for n, doc in document["nodes"].items()]
        requests = CounterMetricFamily(
            "loadtest_cluster_requests", "Requests finished in the cluster's current run."
        )
        errors = CounterMetricFamily(
            "loadtest_cluster_errors", "Failed requests in the cluster's current run, by kind."
        )
        latency = GaugeMetricFamily(
            "loadtest_cluster_request_latency_seconds",
            "Request latency over the cluster's current run, from merged HdrHistograms.",
        )
        for labels, part in parts:
            requests.add_sample("loadtest_cluster_requests_total", labels, part["requests_total"])
            for kind, count in part["errors"].items():
                errors.add_sample("loadtest_cluster_errors_total", {**labels, "kind": kind}, count)
            if part["requests_total"]:
                for quantile, key in QUANTILES:
                    seconds = part["latency_ms"][key] / 1e3
                    latency.add_sample(latency.name, {**labels, "quantile": quantile}, seconds)
        yield requests
        yield errors
        yield latency
        yield GaugeMetricFamily(
            "loadtest_cluster_nodes_live",
            "Nodes with a share of the cluster's current run.",
            value=document["run"]["nodes_live"],
        )


def build_registry(
    totals: Callable[[], RunTotals | None],
    cluster: Callable[[], dict[str, Any] | None] = lambda: None,
) -> CollectorRegistry:
    """A registry of its own, so that apps (and tests) never share the global one."""
    registry = CollectorRegistry()
    registry.register(RunTotalsCollector(totals))
    registry.register(ClusterResultsCollector(cluster))
    return registry
