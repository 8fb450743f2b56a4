"""A cluster run's timeline: the nodes' seconds added up on the leader, one point per
second, committed a few points at a time, and still whole after the leader dies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.cluster.api_client import TOKEN, node_results, post_run
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_results import METRICS, TIMEOUT_S, final_results, run_of
from tests.cluster.test_cluster_run import rps_plan, three_nodes
from tests.services import Nginx
from tests.support import wait_for


def _ts(points: list[dict[str, Any]]) -> list[int]:
    return [p["t"] for p in points]


def test_the_cluster_timeline_adds_up_the_nodes_seconds(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 240, 6
    cluster, leader, (follower, _) = three_nodes(make_cluster, **METRICS)
    assert post_run(follower, rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = run_of(follower)
    final = wait_for(
        lambda: final_results(follower, run["run_id"]),
        timeout=seconds + TIMEOUT_S,
        what="the final cluster results",
    )

    timeline = final["timeline"]
    points = timeline["points"]
    assert timeline["interval_s"] == 1 and timeline["events"] == []
    assert _ts(points) == list(range(seconds))
    # req/s adds up to the run within one second's worth; requests exactly, here (no
    # node died, so every node's every second reached the leader).
    assert abs(sum(p["rps"] for p in points) - final["requests_total"]) <= rate
    assert sum(p["requests"] for p in points) == final["requests_total"]
    node_ids = {node.node_id for node in cluster.nodes}
    for p in points:
        assert p["nodes_live"] == 3 and set(p["node_rps"]) == node_ids, p
        assert abs(sum(p["node_rps"].values()) - p["rps"]) <= 0.2, p
        assert p["latency_ms"]["p50"] <= p["latency_ms"]["p99"] <= p["latency_ms"]["max"]
        assert p["errors_total"] == 0 and p["errors"] == {}
    # The seconds of the middle of the run hold the cluster's rate.
    for p in points[1:-1]:
        assert abs(p["rps"] - rate) <= 0.1 * rate, points
    # Every node serves the same committed timeline.
    for node in cluster.nodes:
        document = final_results(node, run["run_id"])
        assert document is not None and document["timeline"] == timeline, node.node_id
    assert leader.node_id in node_ids


def test_the_cluster_timeline_survives_a_leader_killed_mid_run(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 240, 12
    _, leader, survivors = three_nodes(make_cluster, **METRICS)
    assert post_run(survivors[0], rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = run_of(survivors[0])
    wait_for(
        lambda: time.time() > run["start_at"] + 0.5 * seconds,
        timeout=TIMEOUT_S,
        what="half the run",
    )
    before = node_results(survivors[0], "cluster")
    assert before is not None and before["served_from"] == "leader"
    seen = _ts(before["timeline"]["points"])
    assert len(seen) >= 3, seen
    leader.kill9()

    final = wait_for(
        lambda: final_results(survivors[0], run["run_id"]),
        timeout=seconds + TIMEOUT_S,
        what="the final cluster results under the new leader",
    )
    points = final["timeline"]["points"]
    ts = _ts(points)
    # Every second the old leader had made is still there, none twice, in order.
    assert set(seen) <= set(ts), (seen, ts)
    assert ts == sorted(set(ts)), ts
    assert ts == list(range(seconds)), ts
    before_kill = {p["t"]: p for p in before["timeline"]["points"]}
    for p in points:
        if p["t"] in before_kill and p["t"] < seen[-1] - 2:  # committed before the kill
            assert p == before_kill[p["t"]], p["t"]
    # The dead leader's part is in the seconds before it died and not after.
    assert leader.node_id in points[1]["node_rps"]
    assert points[-1]["nodes_live"] == 2 and leader.node_id not in points[-1]["node_rps"]
    # Its last seconds, not yet committed, die with it: within a few seconds of its third.
    missing = final["requests_total"] - sum(p["requests"] for p in points)
    assert 0 <= missing <= rate / 3 * 4, missing
    events = final["timeline"]["events"]
    kinds = [(e["kind"], e["node"]) for e in events]
    assert ("node_lost", leader.node_id) in kinds, events
    changed = [e for e in events if e["kind"] == "leader_changed"]
    assert len(changed) == 1 and changed[0]["node"] != leader.node_id, events
    assert changed[0]["term"] > 0 and seen[-1] - 1 <= changed[0]["t"] <= seconds, events
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
