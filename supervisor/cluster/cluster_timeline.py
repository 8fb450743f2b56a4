"""A cluster run's timeline: every node's seconds, added up second by second on the leader.

Each node cuts its own part of the run into seconds (``metrics.timeline``, on the run's
clock, the same on every node) and sends the seconds the committed timeline lacks with
each report. The leader adds the nodes' seconds of the same ``t`` (histograms exactly)
into a point once every live part has closed that second, or ``WAIT_S`` after its end
(a node that died or stalled), and commits the new points with ``timeline_append``
about once a merge interval, so the committed timeline grows by a few points at a time
and is never committed whole. A new leader goes on from the committed points; the nodes
resend what is past them. A second that reaches the leader after its point was made is
left out of the timeline (its requests still count in the totals).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from loadtest_supervisor.cluster.node_snapshot import NodeReport
from loadtest_supervisor.metrics.timeline import Second, merge_seconds, point, wall_text

# How long after a second's end the leader waits for a live part that has not closed it.
WAIT_S = 3.0
# A part that began this long after the run's start joined it (a late node, or one back).
JOINED_AFTER_S = 0.5


def committed_timeline(committed: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The committed points and events of ``run_id``."""
    held = (committed.get("timeline") or {}).get(run_id) or {}
    return {"points": held.get("points", []), "events": held.get("events", [])}


def committed_horizon(committed: dict[str, Any], run_id: str) -> int:
    """The first second the committed timeline of ``run_id`` does not hold."""
    points = committed_timeline(committed, run_id)["points"]
    return points[-1]["t"] + 1 if points else 0


def with_committed_points(final: dict[str, Any], committed: dict[str, Any]) -> dict[str, Any]:
    """A committed final document with its timeline's points: it is committed without
    them (they are in the ``timeline`` part already), so that they are not held twice."""
    held = final.get("timeline")
    if held is None or held.get("points") is not None:
        return final
    points = committed_timeline(committed, final["run"]["run_id"])["points"]
    return {**final, "timeline": {**held, "points": points}}


@dataclass
class RunTimeline:
    """The leader's timeline of one run: what is committed, what is made and not yet
    committed, and the nodes' seconds still waiting for the others'."""

    run_id: str
    start_at: float  # the run's start, leader's wall clock
    points: list[dict[str, Any]] = field(default_factory=list)  # committed, then new
    events: list[dict[str, Any]] = field(default_factory=list)
    unsent_points: list[dict[str, Any]] = field(default_factory=list)
    unsent_events: list[dict[str, Any]] = field(default_factory=list)
    _waiting: dict[int, dict[str, Second]] = field(default_factory=dict)  # t -> part -> it
    _closed: dict[str, int] = field(default_factory=dict)  # part -> seconds closed

    @classmethod
    def of(cls, committed: dict[str, Any], run: dict[str, Any]) -> RunTimeline:
        held = committed_timeline(committed, run["run_id"])
        return cls(run["run_id"], run["start_at"], list(held["points"]), list(held["events"]))

    @property
    def horizon(self) -> int:
        return self.points[-1]["t"] + 1 if self.points else 0

    def adopt(self, committed: dict[str, Any]) -> None:
        """Take in what the committed timeline holds and this one lacks. A new leader
        starts from the committed points, and the last ``timeline_append`` of the leader
        before it is committed only with the new leader's first entry: its points (which
        the nodes do not send again, as they are committed) must not be missing from this
        leader's documents, nor made twice."""
        held = committed_timeline(committed, self.run_id)
        theirs = {p["t"]: p for p in held["points"]}
        mine = {p["t"]: p for p in self.points}
        if any(mine.get(t) != p for t, p in theirs.items()):
            # The committed point wins where this leader made its own of the same second.
            merged = mine | theirs
            self.points = [merged[t] for t in sorted(merged)]
            self.unsent_points = [p for p in self.unsent_points if p["t"] not in theirs]
        self.events += [e for e in held["events"] if e not in self.events]

    def offer(self, report: NodeReport) -> None:
        self._closed[report.key] = max(self._closed.get(report.key, 0), report.seconds_closed)
        for second in report.seconds:
            if second.t >= self.horizon:
                self._waiting.setdefault(second.t, {})[report.key] = second

    def note(self, kind: str, node: str, at: float, term: int | None) -> None:
        """An event at ``at`` (leader's wall clock): committed with the next points."""
        event = _event(self.start_at, at, kind, node, term)
        self.events.append(event)
        self.unsent_events.append(event)

    def close(self, waited_for: Iterable[str], now: float, final: bool) -> None:
        """Make the points every part in ``waited_for`` (live parts) has closed, those
        ``WAIT_S`` past their end, and with ``final`` all that are waiting."""
        waited = list(waited_for)
        while self._waiting:
            t = min(self._waiting)
            if t < self.horizon:
                del self._waiting[t]
                continue
            closed_by_all = all(self._closed.get(part, 0) > t for part in waited)
            if not (final or closed_by_all or now >= self.start_at + t + 1 + WAIT_S):
                return
            made = _point(self._waiting.pop(t), self.start_at)
            self.points.append(made)
            self.unsent_points.append(made)

    def append_command(self) -> dict[str, Any] | None:
        """What to commit (``timeline_append``), or None when nothing is new."""
        if not self.unsent_points and not self.unsent_events:
            return None
        return {"run_id": self.run_id, "points": self.unsent_points, "events": self.unsent_events}

    def committed_now(self, command: dict[str, Any]) -> None:
        """``command`` (from ``append_command``) is committed."""
        sent_points, sent_events = len(command["points"]), len(command["events"])
        self.unsent_points = self.unsent_points[sent_points:]
        self.unsent_events = self.unsent_events[sent_events:]


def _point(parts: dict[str, Second], start_at: float) -> dict[str, Any]:
    by_node: dict[str, float] = {}
    for key, second in parts.items():
        node_id = key.split("/", 1)[0]
        by_node[node_id] = by_node.get(node_id, 0.0) + second.requests / (second.covered_s or 1.0)
    return point(
        merge_seconds(parts.values()),
        start_at,
        nodes_live=len(by_node),
        node_rps={node_id: round(rps, 1) for node_id, rps in sorted(by_node.items())},
    )


def timeline_events(
    run: dict[str, Any], reports: Iterable[NodeReport], noted: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every event of the run, by time: the nodes lost (the run record's ``lost``), the
    parts that joined after the start (the reports), and what the leaders noted (their
    changes)."""
    start = run["start_at"]
    events = list(noted)
    for node_id, at in (run.get("lost") or {}).items():
        events.append(_event(start, at, "node_lost", node_id))
    for report in reports:
        if report.joined_at - start > JOINED_AFTER_S:
            events.append(_event(start, report.joined_at, "node_joined", report.node_id))
    return sorted(events, key=lambda e: e["t"])


def _event(
    start: float, at: float, kind: str, node: str, term: int | None = None
) -> dict[str, Any]:
    return {
        "t": round(max(at - start, 0.0), 1),
        "time": wall_text(at),
        "kind": kind,
        "node": node,
        "term": term,
    }
