"""The results document of a finished run: its numbers, its thresholds and its verdict.

``build_results`` is the one place that turns a run into what users see: the summary,
``--out results.json``, the ``/results`` API and a cluster node's results all show its
output, and its keys are a public contract (docs/design.md §11.1).
"""

from __future__ import annotations

from typing import Any

from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.runner import RunOutcome
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import ERROR_KINDS, MergedStats
from loadtest_supervisor.metrics.timeline import point, timeline
from loadtest_supervisor.results.thresholds import ThresholdResult, evaluate_thresholds


def build_results(plan: TestPlan, outcome: RunOutcome) -> dict[str, Any]:
    """The results document of ``outcome``, a run of ``plan``."""
    results = measured(
        outcome.totals,
        outcome.duration_s,
        worker_restarts=outcome.worker_restarts,
        interrupted=outcome.interrupted,
        target=plan.target.url,
        load_model=plan.load.model,
    )
    points = [point(second, outcome.start_wall) for second in outcome.seconds]
    results["timeline"] = timeline(points, events=[])
    return judged(plan, results)


def measured(
    totals: RunTotals,
    duration_s: float,
    per_step: bool = True,
    latency_ms: dict[str, float] | None = None,
    **about: Any,
) -> dict[str, Any]:
    """What ``totals`` counted over ``duration_s``, with ``about`` the run: the document's
    figures in its order, and the merged latency histogram itself (``latency_hdr``,
    HdrHistogram's base64 V2 encoding) so that documents merge exactly, by hand or in a
    cluster. Without ``per_step``, ``steps`` is left out (a cluster's live per-node
    entries: their steps would cost the leader most of a merge). ``latency_ms``, when
    given, are the figures of ``totals``' histogram already read (by the node that sent
    it); with them and without ``per_step`` the histogram is not merged at all, and
    ``latency_hdr`` is left out too."""
    exact = per_step or not latency_ms
    total = totals.total(latency=exact)
    results = {
        "requests_total": total.requests,
        "errors_total": total.errors_total,
        "error_rate": _error_rate(total.errors_total, total.requests),
        "rps": _rps(total.requests, duration_s),
        "duration_s": round(duration_s, 3),
        "latency_ms": (
            {key: round(ms, 3) for key, ms in latency_ms.items()}
            if latency_ms
            else _latency_ms(total)
        ),
        "status_codes": _status_codes(total),
        "errors": _errors(total),
        "dropped_iterations": totals.counter("dropped"),
        "dropped_by_cause": totals.dropped_by_cause(),
        "generator_saturated": _saturation(totals.generator()),
        **about,
        "steps": (
            {name: _step_results(stats, duration_s) for name, stats in totals.steps().items()}
            if per_step
            else None
        ),
        "latency_hdr": total.snapshot()["latency"].decode() or None if exact else None,
    }
    if not per_step:
        del results["steps"]
    if not exact:
        del results["latency_hdr"]
    return results


def judged(plan: TestPlan, results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with the plan's thresholds checked against them, and the verdict."""
    checked = evaluate_thresholds(plan.thresholds, results)
    results["thresholds"] = [c.as_dict() for c in checked]
    results["failures"] = _failure_reasons(results, checked)
    results["passed"] = not results["failures"]
    return results


def _saturation(generator: dict[str, Any] | None) -> dict[str, Any] | None:
    """When and how much a load worker was saturated (``engine.saturation``); None when
    none was, or none said."""
    if generator is None or generator["first_saturated_s"] is None:
        return None
    return {
        "first_at_s": generator["first_saturated_s"],
        "saturated_s": generator["saturated_s"],
        "workers": generator["parts_saturated"],
        "peak_cpu": generator["peak_cpu"],
        "peak_cpu_wait": generator["peak_cpu_wait"],
        "peak_loop_lag_ms": generator["peak_loop_lag_ms"],
    }


def _latency_ms(stats: MergedStats) -> dict[str, float]:
    return {key: round(ms, 3) for key, ms in stats.latency_ms().items()}


def _errors(stats: MergedStats) -> dict[str, int]:
    """Every kind in ERROR_KINDS order, zeros included."""
    errors = {kind: stats.errors.get(kind, 0) for kind in ERROR_KINDS}
    # A kind outside ERROR_KINDS still counts in errors_total, so it is listed too.
    errors.update({kind: stats.errors[kind] for kind in sorted(stats.errors) if kind not in errors})
    return errors


def _status_codes(stats: MergedStats) -> dict[str, int]:
    return {str(code): stats.status[code] for code in sorted(stats.status)}


def _error_rate(errors: int, requests: int) -> float:
    return round(errors / requests, 6) if requests else 0.0


def _rps(requests: int, duration_s: float) -> float:
    return round(requests / duration_s, 2) if duration_s > 0 else 0.0


def _step_results(stats: MergedStats, duration_s: float) -> dict[str, Any]:
    return {
        "requests_total": stats.requests,
        "errors_total": stats.errors_total,
        "error_rate": _error_rate(stats.errors_total, stats.requests),
        "rps": _rps(stats.requests, duration_s),
        "latency_ms": _latency_ms(stats),
        "status_codes": _status_codes(stats),
        "errors": {kind: n for kind, n in _errors(stats).items() if n},
    }


def _failure_reasons(results: dict[str, Any], checked: list[ThresholdResult]) -> list[str]:
    reasons = [
        f"threshold {c.threshold.text} not met (actual {c.actual:,.3f})"
        for c in checked
        if not c.passed
    ]
    if results["errors"]["assertion"]:
        reasons.append(f"{results['errors']['assertion']:,} requests failed an assertion")
    # A run where nothing succeeded measured only the failure (a target that is down,
    # a wrong port, a certificate it refused): CI must not read that as a pass.
    if results["requests_total"] == 0:
        reasons.append("no request was sent")
    elif results["errors_total"] == results["requests_total"]:
        reasons.append("no request succeeded")
    return reasons
