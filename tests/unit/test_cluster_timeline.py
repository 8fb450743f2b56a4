"""The cluster timeline's parts: seconds on the wire, the leader's points, the
append-only committed timeline."""

from __future__ import annotations

import pytest

from loadtest_supervisor.cluster.cluster_timeline import RunTimeline, with_committed_points
from loadtest_supervisor.cluster.node_snapshot import NodeReport, from_wire, to_wire
from loadtest_supervisor.metrics.stats import Stats
from loadtest_supervisor.metrics.timeline import SecondsRecorder
from loadtest_supervisor.plugins.raft.replicated_state import apply_command

EMPTY = {"total": Stats().snapshot(), "steps": {}, "dropped": 0, "worker_restarts": 0}
START = 1_800_000_000.0


def seconds_of(latencies_us: list[list[int]]) -> tuple:
    stats, rec = Stats(), SecondsRecorder(end_s=len(latencies_us))
    for t, second in enumerate(latencies_us):
        for us in second:
            stats.record(200, us)
        at = t + 1 if t + 1 < len(latencies_us) else None
        rec.observe("w", {"total": stats.snapshot(), "at": at, "in_flight": t})
        rec.close_ready(["w"], elapsed=t + 1)
    rec.close_all(len(latencies_us))
    return tuple(rec.seconds)


def report(node: str, seconds: tuple, closed: int, final: bool = False) -> NodeReport:
    return NodeReport(
        node, "p", "run-1", 1, 1, EMPTY, START, 1.0, final, False, 0.5, seconds, closed
    )


def test_seconds_survive_the_wire():
    seconds = seconds_of([[1_000, 2_000], [], [900_000]])
    back = from_wire(to_wire(report("node-a", seconds, 3)))
    assert back.seconds_closed == 3
    assert [(s.t, s.requests, s.in_flight) for s in back.seconds] == [
        (0, 2, 0),
        (1, 0, 1),
        (2, 1, 2),
    ]
    assert back.seconds[2].histogram.get_max_value() == pytest.approx(900_000, rel=1e-3)
    assert back.seconds[1].histogram.get_total_count() == 0


def test_a_point_waits_for_every_live_part_or_until_late():
    timeline = RunTimeline("run-1", START)
    a = seconds_of([[1_000], [1_000], [1_000]])
    b = seconds_of([[500_000], [500_000], [500_000]])
    timeline.offer(report("node-a", a[:2], 2))
    timeline.offer(report("node-b", b[:1], 1))
    timeline.close(["node-a/p", "node-b/p"], now=START + 2.5, final=False)
    assert [p["t"] for p in timeline.points] == [0]
    first = timeline.points[0]
    assert first["requests"] == 2 and first["nodes_live"] == 2
    assert first["node_rps"] == {"node-a": 1.0, "node-b": 1.0}
    assert first["latency_ms"]["max"] == pytest.approx(500.0, rel=1e-3)
    # node-b says nothing more: second 1 is made without it once WAIT_S is over.
    timeline.close(["node-a/p", "node-b/p"], now=START + 5.1, final=False)
    assert [p["t"] for p in timeline.points] == [0, 1]
    assert timeline.points[1]["node_rps"] == {"node-a": 1.0}
    # Late seconds of a made point are left out; a point is never made twice.
    timeline.offer(report("node-b", b[:2], 2))
    timeline.close(["node-a/p", "node-b/p"], now=START + 6, final=True)
    assert [p["t"] for p in timeline.points] == [0, 1]
    command = timeline.append_command()
    assert [p["t"] for p in command["points"]] == [0, 1]
    timeline.committed_now(command)
    assert timeline.append_command() is None


def test_the_committed_timeline_only_grows_and_keeps_two_runs():
    state = {"term": 1, "timeline": None}
    point = lambda t: {"t": t, "requests": t}  # noqa: E731
    event = {"t": 1.5, "kind": "leader_changed", "node": "a", "term": 2}
    for run_id, ts in (("r1", [0, 1]), ("r1", [1, 2]), ("r1", [2]), ("r2", [0]), ("r3", [0])):
        append = {"run_id": run_id, "points": [point(t) for t in ts], "events": [event]}
        state = apply_command(state, {"term": 1, "timeline_append": append})
        if run_id == "r1":
            r1 = state["timeline"]["r1"]
    assert [p["t"] for p in r1["points"]] == [0, 1, 2]
    assert r1["events"] == [event]
    assert list(state["timeline"]) == ["r2", "r3"]
    with pytest.raises(ValueError, match="timeline_append"):
        apply_command(state, {"term": 1, "timeline": {}})


def test_a_committed_final_document_gets_its_points_back():
    committed = {"timeline": {"run-1": {"points": [{"t": 0}], "events": []}}}
    final = {"run": {"run_id": "run-1"}, "timeline": {"interval_s": 1, "points": None}}
    assert with_committed_points(final, committed)["timeline"]["points"] == [{"t": 0}]


def test_a_new_leader_takes_in_the_points_its_predecessor_committed_last():
    """The old leader's last ``timeline_append`` commits only with the new leader's first
    entry, after the new leader started from the committed points; the nodes do not send
    those seconds again (they are committed), so the new leader adopts them."""
    point = lambda t, n=1: {"t": t, "requests": n}  # noqa: E731
    state = {"term": 1, "timeline": None}
    append = {"run_id": "run-1", "points": [point(t) for t in range(4)], "events": []}
    state = apply_command(state, {"term": 1, "timeline_append": append})
    timeline = RunTimeline.of(state, {"run_id": "run-1", "start_at": START})
    # The new leader made second 5, and its own (partial) second 6, before the old
    # leader's append of 4 and 6 was committed.
    timeline.points += [point(5), point(6, n=0)]
    timeline.unsent_points += [point(5), point(6, n=0)]
    late = {"run_id": "run-1", "points": [point(4), point(6, n=3)], "events": []}
    state = apply_command(state, {"term": 1, "timeline_append": late})

    timeline.adopt(state)

    assert [(p["t"], p["requests"]) for p in timeline.points] == [
        (0, 1),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 3),
    ]
    assert [p["t"] for p in timeline.append_command()["points"]] == [5]
    timeline.adopt(state)  # nothing new: nothing changes
    assert len(timeline.points) == 7
