"""Synthetic results documents for the report tests that cannot wait for a real run of
the length they need (a 1-hour timeline). They are built with the product's own
``build_results`` on real HdrHistograms, so every key is the real schema's; only the
figures are made up, and the ``timeline`` follows the schema agreed for it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.runner import RunOutcome
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import MergedStats, Stats
from loadtest_supervisor.results.document import build_results

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
NODES = ("node-a", "node-b", "node-c")


def _stats(rng: random.Random, requests: int, slow_every: int) -> Stats:
    stats = Stats()
    for i in range(requests):
        latency_ms = rng.lognormvariate(1.5, 0.4) * (40 if i % slow_every == 0 else 1)
        stats.record(200, int(latency_ms * 1000))
    stats.record(0, 30_000_000, "timeout")
    return stats


def synthetic_results(seconds: int, *, cluster: bool = False, seed: int = 7) -> dict[str, Any]:
    """A results document of a ``seconds``-long Rps run at ~1,000 req/s with two scenario
    steps and a timeline of one point a second; with ``cluster``, three nodes, their
    per-node figures and rates, and a leader change, a node lost and a node joined."""
    rng = random.Random(seed)
    steps = {"browse / home": _stats(rng, 3_000, 97), "browse / item": _stats(rng, 2_000, 89)}
    totals = RunTotals()
    totals.put(
        (0, 0),
        {
            "total": MergedStats.of(s.snapshot() for s in steps.values()).snapshot(),
            "steps": {name: s.snapshot() for name, s in steps.items()},
            "dropped": 0,
        },
    )
    plan = TestPlan.model_validate(
        {
            "target": {"url": "http://127.0.0.1:9/shop"},
            "load": {"model": "Rps", "target_rps": 1000},
            "thresholds": ["p99 < 500ms", "error_rate < 1%"],
        }
    )
    results = build_results(plan, RunOutcome(totals, float(seconds), 0, False))
    results["timeline"] = _timeline(rng, seconds, cluster)
    if cluster:
        results["nodes"] = {
            node: {
                **{k: results[k] for k in ("requests_total", "errors_total", "error_rate")},
                "rps": results["rps"] / 3,
                "latency_ms": results["latency_ms"],
                "latency_hdr": results["latency_hdr"],
                "share": 1 / 3,
                "state": "lost" if node == "node-c" else "finished",
                "late_s": 0.0,
            }
            for node in NODES
        }
        results["nodes_lost"] = [{"node_id": "node-c", "at": START.timestamp() + seconds / 2}]
        results["run"] = {
            "run_id": "r-synthetic",
            "state": "finished",
            "start_at": START.timestamp(),
            "end_at": START.timestamp() + seconds,
            "elapsed_s": float(seconds),
            "nodes_live": 2,
            "nodes_total": 3,
            "reshared_at": None,
            "final": True,
        }
    return results


def _timeline(rng: random.Random, seconds: int, cluster: bool) -> dict[str, Any]:
    points = []
    for t in range(1, seconds + 1):
        requests = int(rng.gauss(1000, 30))
        errors = rng.randrange(3)
        # Every 300th second has no sample: the latency line must break there, not dip.
        latency = (
            None
            if t % 300 == 0
            else {
                "p50": round(rng.uniform(4, 6), 3),
                "p90": round(rng.uniform(8, 12), 3),
                "p99": round(rng.uniform(20, 40) * (10 if t % 600 == 7 else 1), 3),
                "max": round(rng.uniform(60, 200), 3),
            }
        )
        point = {
            "t": t,
            "time": (START + timedelta(seconds=t)).isoformat(),
            "requests": requests,
            "rps": float(requests),
            "errors_total": errors,
            "errors": {"timeout": errors} if errors else {},
            "in_flight": rng.randrange(5, 30),
            "latency_ms": latency,
        }
        if cluster:
            live = NODES if t < seconds // 2 else NODES[:2]
            point["nodes_live"] = len(live)
            point["node_rps"] = {node: round(requests / len(live), 1) for node in live}
        points.append(point)
    events = []
    if cluster:
        for t, kind, node, term in (
            (0.2, "leader_changed", "node-a", 2),
            (seconds / 2, "node_lost", "node-c", 2),
            (seconds / 2 + 1.5, "leader_changed", "node-b", 3),
            (seconds * 0.75, "node_joined", "node-c", 3),
        ):
            events.append(
                {
                    "t": t,
                    "time": (START + timedelta(seconds=t)).isoformat(),
                    "kind": kind,
                    "node": node,
                    "term": term,
                }
            )
    return {"interval_s": 1, "points": points, "events": events}
