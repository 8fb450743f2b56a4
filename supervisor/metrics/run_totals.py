"""The supervisor's view of a run: the latest cumulative snapshot of every worker.

Workers are keyed by (slot, incarnation): a restarted worker starts counting from
zero in a new incarnation, and the dead one's last snapshot stays in the totals, so
nothing it counted before it died is lost.
"""

from __future__ import annotations

from typing import Any

from loadtest_supervisor.metrics.stats import MergedStats


class RunTotals:
    def __init__(self) -> None:
        self._latest: dict[tuple[int, int], dict[str, Any]] = {}

    def update(self, message: dict[str, Any]) -> None:
        """Take a worker's snapshot message; only its newest one counts."""
        self._latest[(message["slot"], message["incarnation"])] = message

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
        """Sum of a plain per-worker counter such as ``dropped`` over all incarnations."""
        return sum(m.get(name, 0) for m in self._latest.values())
