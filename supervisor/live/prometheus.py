"""Prometheus metrics computed from the run totals at scrape time.

Nothing is recorded twice: the collector reads the same merged snapshots the summary
uses, so a scrape and the final summary always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import ERROR_KINDS

# (quantile label, HdrHistogram percentile): percentiles spelled out, not computed from
# the quantile, so float rounding can never miss a dictionary key.
QUANTILES = (("0.5", 50.0), ("0.9", 90.0), ("0.99", 99.0), ("0.999", 99.9))


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

        hist = total.histogram
        count = hist.get_total_count()
        latency = SummaryMetricFamily(
            "loadtest_request_latency_seconds",
            "Request latency over the current run, from merged HdrHistograms.",
            # HdrHistogram keeps no exact sum; count x mean is exact to its precision.
            count_value=count,
            sum_value=hist.get_mean_value() * count / 1e6 if count else 0.0,
        )
        if count:
            at = hist.get_percentile_to_value_dict([p for _, p in QUANTILES])
            for quantile, percentile in QUANTILES:
                latency.add_sample(
                    "loadtest_request_latency_seconds", {"quantile": quantile}, at[percentile] / 1e6
                )
        yield latency


def build_registry(totals: Callable[[], RunTotals | None]) -> CollectorRegistry:
    """A registry of its own, so that apps (and tests) never share the global one."""
    registry = CollectorRegistry()
    registry.register(RunTotalsCollector(totals))
    return registry
