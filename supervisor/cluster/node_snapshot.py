"""A node's cumulative part of a run, as it travels to the leader and into checkpoints.

The wire form is ``NodeSnapshot`` (protos/loadtest.proto): counters as protobuf fields,
latency as HdrHistogram's own compressed encoding (zlib), as raw bytes rather than the
base64 text ``HdrHistogram.encode`` makes. ``NodeReport`` is the decoded form the leader
merges: its ``message`` is what ``RunTotals.put`` takes.

On a PushMetrics stream each snapshot's histograms hold only what was recorded since the
previous snapshot of the same part on that stream (``to_wire(report, since=...)``), and
the receiver adds them to the one it holds (``from_wire(snapshot, base=...)``): a
cumulative histogram's encoding grows with the run's history (1-2 KB each, five of them
for a four-step plan), an interval's with what the interval added. A stream is ordered
and lossless, and a new one starts from whole histograms, so a lost connection costs
nothing; the counters stay cumulative.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest_supervisor.cluster.wire import loadtest_pb2
from loadtest_supervisor.metrics.stats import LATENCY_KEYS, histogram_since, new_histogram
from loadtest_supervisor.metrics.timeline import Second


@dataclass(frozen=True)
class NodeReport:
    node_id: str
    part_id: str
    run_id: str
    seq: int
    term: int
    message: dict[str, Any]  # total, steps, dropped, worker_restarts: cumulative
    joined_at: float
    duration_s: float
    final: bool
    interrupted: bool
    share: float
    # Its timeline seconds the committed timeline lacks, and how many it has closed.
    seconds: tuple[Second, ...] = ()
    seconds_closed: int = 0

    @property
    def key(self) -> str:
        """One part of one node's run: a part started again (after a restart, or back from
        a partition) counts from zero, and adds to the earlier parts."""
        return f"{self.node_id}/{self.part_id}"

    @property
    def requests(self) -> int:
        return int(self.message["total"]["requests"])


def to_wire(report: NodeReport, since: NodeReport | None = None) -> loadtest_pb2.NodeSnapshot:
    """The report on the wire; with ``since``, the previous report of the same part sent on
    the same stream, each histogram holds only what was recorded after it."""
    message = report.message
    earlier: dict[str, Any] = since.message if since is not None else {"steps": {}}
    return loadtest_pb2.NodeSnapshot(
        node_id=report.node_id,
        run_id=report.run_id,
        term=report.term,
        seq=report.seq,
        part_id=report.part_id,
        total=_stats_to_wire(message["total"], earlier.get("total")),
        steps={
            name: _stats_to_wire(stats, earlier["steps"].get(name))
            for name, stats in message["steps"].items()
        },
        dropped_iterations=message["dropped"],
        dropped_saturated=message.get("dropped_saturated", 0),
        generator=_load_to_wire(message.get("generator")),
        latency_ms=message.get("latency_ms") or {},
        worker_restarts=message["worker_restarts"],
        joined_at=report.joined_at,
        duration_s=report.duration_s,
        final=report.final,
        interrupted=report.interrupted,
        share=report.share,
        seconds=[_second_to_wire(second) for second in report.seconds],
        seconds_closed=report.seconds_closed,
    )


def from_wire(snapshot: loadtest_pb2.NodeSnapshot, base: NodeReport | None = None) -> NodeReport:
    """The report, its histograms decoded; ``base`` is the previous report of the same part
    from the same stream, whose histograms those sent since it are added to, in place
    (a copy would cost the leader more than the merge: ~0.4 ms a histogram), so the new
    report holds them and ``base`` must not be read again.

    Raises ValueError for a histogram that cannot be decoded, or sent since a report that
    ``base`` is not.
    """
    earlier: dict[str, Any] = base.message if base is not None else {"steps": {}}
    return NodeReport(
        node_id=snapshot.node_id,
        part_id=snapshot.part_id,
        run_id=snapshot.run_id,
        seq=snapshot.seq,
        term=snapshot.term,
        message={
            "total": _stats_from_wire(snapshot.total, earlier.get("total")),
            "steps": {
                name: _stats_from_wire(stats, earlier["steps"].get(name))
                for name, stats in snapshot.steps.items()
            },
            "dropped": snapshot.dropped_iterations,
            "dropped_saturated": snapshot.dropped_saturated,
            "generator": _load_from_wire(snapshot),
            "latency_ms": _latency_from_wire(snapshot),
            "worker_restarts": snapshot.worker_restarts,
        },
        joined_at=snapshot.joined_at,
        duration_s=snapshot.duration_s,
        final=snapshot.final,
        interrupted=snapshot.interrupted,
        share=snapshot.share,
        seconds=tuple(_second_from_wire(second) for second in snapshot.seconds),
        seconds_closed=snapshot.seconds_closed,
    )


def to_text(report: NodeReport) -> str:
    """The wire bytes as base64 text: how a checkpoint holds a report in the JSON state."""
    return base64.b64encode(to_wire(report).SerializeToString()).decode()


def from_text(text: str) -> NodeReport:
    snapshot = loadtest_pb2.NodeSnapshot()
    snapshot.ParseFromString(base64.b64decode(text))
    return from_wire(snapshot)


def _stats_to_wire(
    stats: dict[str, Any], earlier: dict[str, Any] | None
) -> loadtest_pb2.StatsSnapshot:
    latency, since = stats["latency"], None
    if earlier is not None and latency and earlier["latency"]:
        since = histogram_since(_histogram(latency), _histogram(earlier["latency"]))
    if since is not None:
        raw, latency_since_previous = base64.b64decode(since.encode()), True
    elif isinstance(latency, HdrHistogram):
        raw, latency_since_previous = base64.b64decode(latency.encode()), False
    else:
        raw, latency_since_previous = base64.b64decode(latency) if latency else b"", False
    return loadtest_pb2.StatsSnapshot(
        requests=stats["requests"],
        status={int(code): n for code, n in stats["status"].items()},
        errors=stats["errors"],
        latency=raw,
        latency_since_previous=latency_since_previous,
    )


def _stats_from_wire(
    stats: loadtest_pb2.StatsSnapshot, earlier: dict[str, Any] | None
) -> dict[str, Any]:
    latency: HdrHistogram | bytes = _decoded(stats.latency) if stats.latency else b""
    if stats.latency_since_previous:
        held = earlier["latency"] if earlier is not None else None
        if not isinstance(held, HdrHistogram):
            raise ValueError("a histogram sent since a snapshot this stream did not carry")
        if isinstance(latency, HdrHistogram):
            held.add(latency)
        latency = held
    return {
        "requests": stats.requests,
        "status": dict(stats.status),
        "errors": dict(stats.errors),
        "latency": latency,
    }


def _decoded(raw: bytes) -> HdrHistogram:
    try:
        return HdrHistogram.decode(base64.b64encode(raw))
    except Exception as exc:  # hdrh raises several kinds on a malformed blob
        raise ValueError(f"an undecodable latency histogram: {exc!r}") from exc


def _histogram(latency: HdrHistogram | bytes) -> HdrHistogram:
    return latency if isinstance(latency, HdrHistogram) else HdrHistogram.decode(latency)


def _second_to_wire(second: Second) -> loadtest_pb2.RunSecond:
    hist = second.histogram
    return loadtest_pb2.RunSecond(
        t=second.t,
        stats=loadtest_pb2.StatsSnapshot(
            requests=second.requests,
            errors=second.errors,
            latency=base64.b64decode(hist.encode()) if hist.get_total_count() else b"",
        ),
        in_flight=second.in_flight,
        covered_s=second.covered_s,
    )


def _second_from_wire(second: loadtest_pb2.RunSecond) -> Second:
    stats = second.stats
    return Second(
        t=second.t,
        requests=stats.requests,
        errors=dict(stats.errors),
        in_flight=second.in_flight if second.HasField("in_flight") else None,
        histogram=_decoded(stats.latency) if stats.latency else new_histogram(),
        covered_s=second.covered_s,
    )


def _load_to_wire(load: dict[str, Any] | None) -> loadtest_pb2.GeneratorLoad | None:
    if load is None:
        return None
    return loadtest_pb2.GeneratorLoad(**{key: load[key] for key in _LOAD_KEYS if key in load})


def _load_from_wire(snapshot: loadtest_pb2.NodeSnapshot) -> dict[str, Any] | None:
    if not snapshot.HasField("generator"):
        return None
    load = snapshot.generator
    found = {key: getattr(load, key) for key in _LOAD_KEYS}
    if not load.HasField("first_saturated_s"):
        found["first_saturated_s"] = None
    return found


_LOAD_KEYS = tuple(loadtest_pb2.GeneratorLoad.DESCRIPTOR.fields_by_name)


def _latency_from_wire(snapshot: loadtest_pb2.NodeSnapshot) -> dict[str, float] | None:
    """The sender's latency figures in the document's order (a map has none)."""
    sent = snapshot.latency_ms
    return {key: sent[key] for key in LATENCY_KEYS if key in sent} or None
