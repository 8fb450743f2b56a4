"""A run ends early in two ways: ``DELETE /runs/current`` on any node stops it, and a new
plan supersedes it. Either way every node stops its part and keeps its results, marked
with how the run ended."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, node_results, post_run, stop_run
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_results import final_results
from tests.cluster.test_cluster_run import results_of, rps_plan, three_nodes
from tests.services import Nginx
from tests.support import wait_for

TIMEOUT_S = 30
LONG_S = 60  # far longer than the test waits: only a stop ends these runs in time


def _run_ids(cluster: ClusterHarness) -> set[str]:
    return {doc["run"]["run_id"] for doc in cluster.all_health().values() if "run" in doc}


def test_a_run_is_stopped_from_a_follower_or_superseded_and_its_results_say_so(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster, _, (follower, _) = three_nodes(make_cluster)
    assert stop_run(follower, TOKEN)[0] == 409  # nothing to stop yet

    assert post_run(follower, rps_plan(nginx, 30, LONG_S), TOKEN)[0] == 200
    (first,) = wait_for(lambda: _run_ids(cluster), timeout=TIMEOUT_S, what="the first run")
    wait_for(
        lambda: (
            (live := node_results(follower, "cluster"))
            and len(live["nodes"]) == 3
            and all(node["requests_total"] for node in live["nodes"].values())
        ),
        timeout=TIMEOUT_S,
        what="every node sending",
    )

    # A second plan supersedes the first run: every node ends its part and keeps it.
    assert post_run(follower, rps_plan(nginx, 40, LONG_S), TOKEN)[0] == 200
    results = wait_for(lambda: results_of(cluster.nodes), timeout=TIMEOUT_S, what="results")
    assert {(r["run"]["run_id"], r["run"]["state"]) for r in results} == {(first, "superseded")}
    assert all(r["requests_total"] > 0 and r["interrupted"] for r in results), results
    (second,) = wait_for(
        lambda: _run_ids(cluster) - {first} or None, timeout=TIMEOUT_S, what="the second run"
    )
    # The cluster's results of the superseded run are final, and add up its nodes'.
    merged = wait_for(
        lambda: final_results(follower, first), timeout=TIMEOUT_S, what="the first run's results"
    )
    assert merged["run"]["state"] == "superseded" and merged["interrupted"]
    assert merged["requests_total"] == sum(r["requests_total"] for r in results)

    assert stop_run(follower)[0] == 401
    assert stop_run(follower, "wrong")[0] == 401
    status, reply = stop_run(follower, TOKEN)
    assert (status, reply["accepted"], reply["run_id"]) == (200, True, second), reply
    wait_for(
        lambda: all(doc["run"]["state"] == "stopped" for doc in cluster.all_health().values()),
        timeout=TIMEOUT_S,
        what="the run stopped on every node",
    )
    results = wait_for(
        lambda: (
            (found := results_of(cluster.nodes))
            and all(r["run"]["run_id"] == second for r in found)
            and found
        ),
        timeout=TIMEOUT_S,
        what="the second run's results",
    )
    assert {r["run"]["state"] for r in results} == {"stopped"}
    merged = wait_for(
        lambda: final_results(follower, second), timeout=TIMEOUT_S, what="the stopped results"
    )
    assert merged["run"]["state"] == "stopped"
    assert merged["requests_total"] == sum(r["requests_total"] for r in results)
    # Stopped means stopped: nginx sees no more load from the cluster.
    served = nginx.requests_served()
    time.sleep(1.0)  # 40 requests at the run's rate
    assert nginx.requests_served() - served <= 1  # the second status read
    status, reply = stop_run(follower, TOKEN)
    assert status == 409 and "no run is in progress" in reply["error"], reply
