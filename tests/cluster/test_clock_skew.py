"""A node whose wall clock is 2 s ahead (run under faketime) measures its offset from the
leader's clock, says so in its health, and still runs in step with the others."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_run import rps_plan
from tests.services import Nginx
from tests.support import wait_for

SKEW_S = 2.0
RATE, SECONDS = 300, 10
TIMEOUT_S = 30


def rate_between(nginx: Nginx, since: float, until: float) -> float:
    """nginx's requests per second between two instants of this (true) wall clock."""
    time.sleep(max(0.0, since - time.time()))
    first, began = nginx.requests_served(), time.time()
    time.sleep(max(0.0, until - time.time()))
    return (nginx.requests_served() - first - 1) / (time.time() - began)


def test_a_skewed_node_reports_its_offset_and_runs_in_step(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN})
    nodes = cluster.start(3, order=[])
    skewed = nodes[2]
    # faketime shifts the monotonic clock too, which nothing compares across processes;
    # leaving it alone (FAKETIME_DONT_FAKE_MONOTONIC) breaks Python's time.sleep.
    skewed.process.argv = ["faketime", "-f", f"+{SKEW_S:g}s", *skewed.process.argv]
    for node in nodes[:2]:
        node.start()
    cluster.wait_for_agreement(TIMEOUT_S, nodes=nodes[:2])  # the leader's clock is true
    skewed.start()
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    assert leader_id != skewed.node_id

    doc = wait_for(
        lambda: (d := skewed.health()).get("clock_skew") and d,
        timeout=TIMEOUT_S,
        what="the skewed node to measure its clock",
    )
    assert abs(doc["clock"]["offset_ms"] + SKEW_S * 1000) < 100, doc["clock"]
    assert "beyond CLUSTER_MAX_CLOCK_SKEW (250 ms)" in doc["clock_skew"]
    for node in nodes[:2]:
        assert "clock_skew" not in node.health()

    assert post_run(cluster.node_by_id(leader_id), rps_plan(nginx, RATE, SECONDS), TOKEN)[0] == 200
    run = wait_for(lambda: skewed.health().get("run"), timeout=TIMEOUT_S, what="the run")
    # Unaligned, the skewed node would start and end 2 s early: the cluster would send a
    # third less in the run's last seconds. (The first second is left out: workers that
    # start after start_at catch up on the curve then.)
    middle = rate_between(nginx, run["start_at"] + 3, run["start_at"] + 5)
    at_end = rate_between(nginx, run["end_at"] - 2.5, run["end_at"] - 0.5)
    assert abs(middle - RATE) <= 0.1 * RATE, middle
    assert abs(at_end - RATE) <= 0.1 * RATE, at_end
