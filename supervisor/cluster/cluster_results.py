"""The cluster results document: every node's latest cumulative report, merged exactly.

The document has the standalone schema (``results.document``), computed on the merged
histograms and counters of all nodes, plus ``nodes`` (each node's own figures under the
same names, its share and state), ``nodes_lost`` and ``run``. Thresholds are judged on
the cluster totals, so a run can fail on the cluster's p99 while every node alone passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loadtest_supervisor.cluster.node_snapshot import NodeReport
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.results.document import judged, measured

# A node whose part began this long after the run's start says it started late.
LATE_AFTER_S = 0.5


def cluster_document(
    plan: TestPlan,
    run: dict[str, Any],
    reports: Iterable[NodeReport],
    now: float,
    final: bool,
    timeline: dict[str, Any],
) -> dict[str, Any]:
    """The results of ``run`` (its committed record) from ``reports`` at leader time ``now``,
    with its ``timeline`` (``cluster_timeline``)."""
    totals = RunTotals()
    by_node: dict[str, list[NodeReport]] = {}
    for report in reports:
        totals.put(report.key, report.message)
        by_node.setdefault(report.node_id, []).append(report)
    ended = min(now, run["end_at"], run.get("stopped_at") or now)
    duration = max(ended - run["start_at"], 0.0)
    document = measured(
        totals,
        duration,
        worker_restarts=totals.counter("worker_restarts"),
        interrupted=run["state"] in ("stopped", "superseded"),
        target=plan.target.url,
        load_model=plan.load.model,
    )
    lost = run.get("lost") or {}
    document["nodes"] = {
        node_id: _node_entry(run, mine, lost, final) for node_id, mine in sorted(by_node.items())
    }
    document["nodes_lost"] = [
        {"node_id": node_id, "at": at} for node_id, at in sorted(lost.items(), key=lambda i: i[1])
    ]
    document["run"] = {
        "run_id": run["run_id"],
        "state": run["state"],
        "start_at": run["start_at"],
        "end_at": run["end_at"],
        "elapsed_s": round(duration, 3),
        "nodes_live": len(run["shares"]),
        "nodes_total": len(by_node.keys() | run["shares"].keys()),
        "reshared_at": run.get("reshared_at"),
        "final": final,
    }
    document["timeline"] = timeline
    return judged(plan, document)


def _node_entry(
    run: dict[str, Any], reports: list[NodeReport], lost: dict[str, float], final: bool
) -> dict[str, Any]:
    totals = RunTotals()
    for report in reports:
        totals.put(report.key, report.message)
    # One part: its sender read its histogram already (a part's, not the node's, else).
    read = reports[0].message.get("latency_ms") if len(reports) == 1 else None
    entry = measured(
        totals,
        sum(r.duration_s for r in reports),
        per_step=final,
        latency_ms=read,
        worker_restarts=totals.counter("worker_restarts"),
        interrupted=any(r.interrupted for r in reports),
    )
    node_id = reports[0].node_id
    latest = max(reports, key=lambda r: r.joined_at)
    share = run["shares"].get(node_id)
    entry["share"] = share["fraction"] if share else latest.share
    entry["state"] = _node_state(node_id, share, latest, lost)
    first = min(reports, key=lambda r: r.joined_at)
    late = first.joined_at - run["start_at"]
    entry["joined_at"] = first.joined_at
    entry["late_s"] = round(late, 3) if late > LATE_AFTER_S else 0.0
    entry["parts"] = len(reports)
    return entry


def _node_state(
    node_id: str, share: dict[str, Any] | None, latest: NodeReport, lost: dict[str, float]
) -> str:
    if share is None and node_id in lost:
        return "lost"
    if latest.final:
        return "interrupted" if latest.interrupted else "finished"
    return "running"
