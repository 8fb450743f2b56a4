"""A run's totals: the latest cumulative snapshot of every part that counts.

On a node the parts are its workers, keyed by (slot, incarnation): a restarted worker
starts counting from zero in a new incarnation, and the dead one's last snapshot stays
in the totals, so nothing it counted before it died is lost. On a cluster's leader the
parts are the nodes' parts of the run, keyed by (node id, part id), for the same reason.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from loadtest_supervisor.metrics.stats import MergedStats


class RunTotals:
    def __init__(self) -> None:
        self._latest: dict[Hashable, dict[str, Any]] = {}

    def update(self, message: dict[str, Any]) -> None:
        """Take a worker's snapshot message; only its newest one counts."""
        self.put((message["slot"], message["incarnation"]), message)

    def put(self, key: Hashable, message: dict[str, Any]) -> None:
        """The newest cumulative message (``total``, ``steps``, counters) of part ``key``."""
        self._latest[key] = message

    def message(self, **counters: int) -> dict[str, Any]:
        """All parts as one cumulative message, with ``counters`` added: what a node
        sends its cluster's leader."""
        total = self.total()
        return {
            "total": total.snapshot(),
            "latency_ms": total.latency_ms(),
            "steps": {name: stats.snapshot() for name, stats in self.steps().items()},
            "dropped": self.counter("dropped"),
            "dropped_saturated": self.counter("dropped_saturated"),
            "generator": self.generator(),
            **counters,
        }

    def total(self, latency: bool = True) -> MergedStats:
        """The parts' totals merged (without ``latency``, their counters only)."""
        return MergedStats.of((m["total"] for m in self._latest.values()), latency)

    def steps(self) -> dict[str, MergedStats]:
        """Per scenario step ("scenario / step"), in the order steps were first seen."""
        merged: dict[str, MergedStats] = {}
        for message in self._latest.values():
            for key, snapshot in message["steps"].items():
                stats = merged.get(key)
                if stats is None:  # not setdefault: a new histogram each call costs ~0.1 ms
                    stats = merged[key] = MergedStats()
                stats.add_snapshot(snapshot)
        return merged

    def counter(self, name: str) -> int:
        """Sum of a plain per-part counter such as ``dropped`` over all incarnations."""
        return sum(m.get(name, 0) for m in self._latest.values())

    def dropped_by_cause(self) -> dict[str, int]:
        """The dropped arrivals by why: every connection was busy (the target was slow), or
        the worker was saturated (``engine.saturation``). A part that does not say (a
        cluster node's report from an older version) counts as ``unknown``."""
        busy = saturated = unknown = 0
        for message in self._latest.values():
            dropped = message.get("dropped", 0)
            if "dropped_saturated" in message:
                saturated += message["dropped_saturated"]
                busy += dropped - message["dropped_saturated"]
            else:
                unknown += dropped
        causes = {"connections_busy": busy, "generator_saturated": saturated}
        return {**causes, "unknown": unknown} if unknown else causes

    def generator(self) -> dict[str, Any] | None:
        """The parts' own load (each worker's ``LoadGauge`` sample) merged: the worst of
        each figure, the earliest saturation, and ``saturated`` while any part is; None
        when no part reports one."""
        reports = [m["generator"] for m in self._latest.values() if m.get("generator")]
        if not reports:
            return None
        firsts = [r["first_saturated_s"] for r in reports if r["first_saturated_s"] is not None]
        return {
            "cpu": max(r["cpu"] for r in reports),
            "cpu_wait": max(r.get("cpu_wait", 0.0) for r in reports),
            "loop_lag_ms": max(r["loop_lag_ms"] for r in reports),
            "saturated": any(r["saturated"] for r in reports),
            # Parts run side by side: the longest any was saturated, not their sum.
            "saturated_s": max(r["saturated_s"] for r in reports),
            "first_saturated_s": min(firsts) if firsts else None,
            "peak_cpu": max(r["peak_cpu"] for r in reports),
            "peak_cpu_wait": max(r.get("peak_cpu_wait", 0.0) for r in reports),
            "peak_loop_lag_ms": max(r["peak_loop_lag_ms"] for r in reports),
            "parts_saturated": sum(r.get("parts_saturated", r["saturated_s"] > 0) for r in reports),
        }
