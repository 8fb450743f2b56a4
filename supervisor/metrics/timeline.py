"""A run's timeline: one point per second, cut from the workers' cumulative snapshots.

Workers snapshot on a grid of the run's own clock (every ``SNAPSHOT_INTERVAL`` from the
run's start, tagged ``at``, seconds since it), so every worker has a snapshot at each
whole second. A second's figures are the difference of the merged cumulative snapshots
at its two ends: counts subtracted, and the latency histogram subtracted bucket by
bucket, so its percentiles are read from that second's own samples, never averaged.
A second holds what *completed* in it. A cluster node cuts its own seconds the same way
and sends them; the leader adds the nodes' histograms of the same second
(``merge_seconds``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest_supervisor.metrics.stats import (
    ERROR_KINDS,
    MergedStats,
    histogram_since,
    new_histogram,
    percentiles_ms,
)

INTERVAL_S = 1
# A worker that stops reporting (hung, or its loop starved) holds the live timeline back
# at most this long; its samples then land in a later second.
MAX_WAIT_S = 2.0
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The figures each point gives of its second's latency.
POINT_LATENCY = ("p50", "p90", "p99", "max")


@dataclass
class Second:
    """What completed in second ``t`` of a run (``[t, t+1)`` from its start)."""

    t: int
    requests: int
    errors: dict[str, int]
    in_flight: int | None  # requests outstanding at its end
    histogram: HdrHistogram  # this second's latencies alone (µs)
    covered_s: float = 1.0  # the run's last second may be partial
    _figures: dict[str, float] | None = field(default=None, repr=False, compare=False)

    def latency_ms(self) -> dict[str, float] | None:
        """Its ``POINT_LATENCY`` figures in ms, read once (a live document lists every
        second each time); None when it has no sample."""
        if self._figures is None and self.histogram.get_total_count():
            figures = percentiles_ms(self.histogram, POINT_LATENCY)
            self._figures = {key: round(ms, 3) for key, ms in figures.items()}
        return self._figures

    def add(self, other: Second) -> None:
        self._figures = None
        self.requests += other.requests
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        if self.in_flight is not None and other.in_flight is not None:
            self.in_flight += other.in_flight
        else:
            self.in_flight = None
        if other.histogram.get_total_count():
            self.histogram.add(other.histogram)
        self.covered_s = max(self.covered_s, other.covered_s)


@dataclass
class _Cumulative:
    """The merged cumulative totals of every part at one instant."""

    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    histogram: HdrHistogram = field(default_factory=new_histogram)

    @classmethod
    def of(cls, messages: Iterable[dict[str, Any]]) -> _Cumulative:
        merged = MergedStats.of(m["total"] for m in messages)
        return cls(merged.requests, dict(merged.errors), merged.histogram)

    def since(self, earlier: _Cumulative) -> tuple[int, dict[str, int], HdrHistogram]:
        errors = {k: n - earlier.errors.get(k, 0) for k, n in self.errors.items()}
        return (
            self.requests - earlier.requests,
            {k: n for k, n in errors.items() if n},
            # A second's latency is left empty, not wrong, should a part ever hold less.
            histogram_since(self.histogram, earlier.histogram) or new_histogram(),
        )


class SecondsRecorder:
    """Cuts one run's cumulative snapshots, from many parts (a node's workers, each
    incarnation its own part), into seconds.

    ``observe`` every message (``at``: seconds since the run's start on the snapshot
    grid, None for a worker's end-of-run ones); ``close_ready`` closes every second all
    live parts have reported past; ``close_all`` closes the rest at the run's end, its
    last second holding what was answered after the end too, so the seconds' requests add
    up to the run's exactly. The run's last second is only ever closed by ``close_all``.
    """

    def __init__(self, end_s: float, first_t: int = 0) -> None:
        self._end_s = end_s  # the run's planned length
        self._history: dict[Hashable, list[tuple[float, dict[str, Any]]]] = {}
        self._latest: dict[Hashable, dict[str, Any]] = {}
        self._next_t = first_t
        self._before = _Cumulative()
        self._before_last: _Cumulative | None = None
        self.seconds: list[Second] = []

    @property
    def closed_until(self) -> int:
        """Every second before this one is closed."""
        return self._next_t

    def observe(self, key: Hashable, message: dict[str, Any]) -> None:
        self._latest[key] = message
        at = message.get("at")
        if at is not None:
            self._history.setdefault(key, []).append((at, message))

    def close_ready(self, live: Iterable[Hashable], elapsed: float) -> list[Second]:
        """Close the seconds every part in ``live`` (those still sending) has reported
        past, or that ended over ``MAX_WAIT_S`` ago."""
        reported = [self._history[k][-1][0] if k in self._history else 0.0 for k in live]
        horizon = max(min(reported, default=elapsed), elapsed - MAX_WAIT_S)
        # The last second is left to close_all: answers after the end belong to it.
        last_t = math.ceil(self._end_s) - 1
        closed = []
        while self._next_t + 1 <= horizon and self._next_t < last_t:
            boundary = self._next_t + 1
            closed.append(self._close(*self._at(boundary), 1.0))
        return closed

    def close_all(self, duration_s: float) -> list[Second]:
        """Close the run's remaining seconds once every part has sent its last message;
        ``duration_s`` is how long the run went (a stopped one ends early)."""
        last_t = max(math.ceil(duration_s) - 1, 0)
        if self._next_t > last_t and self.seconds and self._before_last is not None:
            # The run stopped on a second's end, which is closed: what was answered after
            # the end goes into it, so it is cut again.
            self.seconds.pop()
            self._next_t -= 1
            self._before = self._before_last
        closed = []
        while self._next_t < last_t:
            boundary = self._next_t + 1
            closed.append(self._close(*self._at(boundary), 1.0))
        if self._next_t == last_t:
            latest = list(self._latest.values())
            in_flight = sum(m.get("in_flight", 0) for m in latest)
            covered = min(max(duration_s - last_t, 0.0), 1.0) or 1.0
            closed.append(self._close(_Cumulative.of(latest), in_flight, covered))
        self._history.clear()
        return closed

    def _at(self, boundary: int) -> tuple[_Cumulative, int]:
        """Every part's cumulative totals and requests in flight as of its snapshot at
        ``boundary`` (or its last before it); entries older than that one are dropped."""
        messages = []
        for history in self._history.values():
            kept = [entry for entry in history if entry[0] <= boundary]
            if kept:
                messages.append(kept[-1][1])
                history[: len(kept) - 1] = []
        return _Cumulative.of(messages), sum(m.get("in_flight", 0) for m in messages)

    def _close(self, now: _Cumulative, in_flight: int | None, covered_s: float) -> Second:
        requests, errors, histogram = now.since(self._before)
        second = Second(self._next_t, requests, errors, in_flight, histogram, covered_s)
        self._before_last, self._before = self._before, now
        self._next_t += 1
        self.seconds.append(second)
        return second


def merge_seconds(seconds: Iterable[Second]) -> Second:
    """Several parts' (or nodes') figures of the same second, added: histograms exactly."""
    merged: Second | None = None
    for second in seconds:
        if merged is None:
            merged = Second(second.t, 0, {}, 0, new_histogram(), 0.0)
        merged.add(second)
    if merged is None:
        raise ValueError("no second to merge")
    return merged


def point(second: Second, start_wall: float, **extra: Any) -> dict[str, Any]:
    """A second as the results document's ``timeline.points`` lists it (docs/design.md §9)."""
    return {
        "t": second.t,
        "time": wall_text(start_wall + second.t),
        "requests": second.requests,
        "rps": round(second.requests / second.covered_s, 1),
        "errors_total": sum(second.errors.values()),
        "errors": _errors(second.errors),
        "in_flight": second.in_flight,
        "latency_ms": second.latency_ms(),
        **extra,
    }


def timeline(points: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"interval_s": INTERVAL_S, "points": points, "events": events}


def wall_text(unix_s: float) -> str:
    """A wall-clock instant as ISO 8601 UTC to the second (``2026-11-29T15:00:03Z``)."""
    return datetime.fromtimestamp(unix_s, UTC).strftime(TIME_FORMAT)


def _errors(errors: dict[str, int]) -> dict[str, int]:
    """Non-zero kinds, in ERROR_KINDS order, then any other kind (as ``errors`` lists them)."""
    ordered = {kind: errors[kind] for kind in ERROR_KINDS if errors.get(kind)}
    ordered.update({k: errors[k] for k in sorted(errors) if k not in ordered and errors[k]})
    return ordered
