"""A run's totals: the latest cumulative snapshot of every part that counts.

On a node the parts are its workers, keyed by (slot, incarnation): a restarted worker
starts counting from zero in a new incarnation, and the dead one's last snapshot stays
in the totals, so nothing it counted before it died is lost. On a cluster's leader the
parts are the nodes, keyed by (node id, boot id), for the same reason.
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
        return {
            "total": self.total().snapshot(),
            "steps": {name: stats.snapshot() for name, stats in self.steps().items()},
            "dropped": self.counter("dropped"),
            **counters,
        }

    def total(self) -> MergedStats:
        return MergedStats.of(m["total"] for m in self._latest.values())

    def steps(self) -> dict[str, MergedStats]:
        """Per scenario step ("scenario / step"), in the order steps were first seen."""
        merged: dict[str, MergedStats] = {}
        for message in self._latest.values():
            for key, snapshot in message["steps"].items():
                merged.setdefault(key, MergedStats()).add_snapshot(snapshot)
        return merged

    def counter(self, name: str) -> int:
        """Sum of a plain per-part counter such as ``dropped`` over all incarnations."""
        return sum(m.get(name, 0) for m in self._latest.values())
