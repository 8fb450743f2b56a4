"""A cluster node's workers: prepared when a plan is committed, so the run starts on time,
and kept through a re-split, a closed model's users moving in place.

The target is the demo target: it counts the /slow requests in flight (a closed model's
users at work) and can log each request's arrival (when the run's first ones came)."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_run import TIMEOUT_S, results_of, three_nodes
from tests.services import HttpTarget
from tests.support import wait_for, worker_pids


def _in_flight(target: HttpTarget) -> int:
    with urllib.request.urlopen(f"{target.url}/slow/stats", timeout=5) as response:
        return json.loads(response.read())["in_flight"]


def _users_now(node: NodeProcess) -> int:
    """The users the node's log says it runs now: its last share change, or its start."""
    found = re.findall(
        r"event=(?:cluster_run_started|share_changed) .*?users=(\d+)", node.log_path.read_text()
    )
    return int(found[-1])


def test_a_dead_followers_users_go_to_the_survivors_in_place(
    make_cluster: Callable[..., ClusterHarness], http_target_factory: Callable[..., HttpTarget]
) -> None:
    users, seconds = 9, 9
    target = http_target_factory()
    _, leader, (victim, survivor) = three_nodes(make_cluster)
    plan = (
        f"target: {{url: '{target.url}/slow?ms=200'}}\n"
        f"load: {{model: Concurrent, concurrency: {users}, duration: {seconds}s, workers: 1}}\n"
    )
    assert post_run(leader, plan.encode(), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    wait_for(lambda: _in_flight(target) == users, timeout=TIMEOUT_S, what="every user at work")
    survivors = [leader, survivor]
    assert [_users_now(node) for node in (*survivors, victim)] == [3, 3, 3]
    pids = {node.node_id: worker_pids(node.pid) for node in survivors}
    assert all(len(found) == 1 for found in pids.values()), pids

    victim.kill9()
    killed = time.monotonic()
    wait_for(lambda: _in_flight(target) < users, timeout=TIMEOUT_S, what="the victim's users gone")
    wait_for(
        lambda: _in_flight(target) == users and sum(_users_now(n) for n in survivors) == users,
        timeout=TIMEOUT_S,
        what="the survivors running the plan's users again",
    )
    assert time.monotonic() - killed <= 4.0  # CLUSTER_RESHARE_AFTER (3 s), plus polling
    assert time.time() < run["end_at"]
    # In place: the same worker processes, no restart.
    assert {node.node_id: worker_pids(node.pid) for node in survivors} == pids

    results = wait_for(
        lambda: results_of(survivors), timeout=seconds + TIMEOUT_S, what="the survivors' results"
    )
    assert all(r["errors_total"] == 0 and r["worker_restarts"] == 0 for r in results), results


def test_prepared_workers_send_the_first_requests_at_start_at(
    make_cluster: Callable[..., ClusterHarness], http_target_factory: Callable[..., HttpTarget]
) -> None:
    rate, seconds = 300, 3
    target = http_target_factory(access_log=True)
    cluster, leader, followers = three_nodes(make_cluster)
    plan = (
        f"target: {{url: '{target.url}/'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s, workers: 1}}\n"
    )
    # Plan and run request in one commit: the nodes spawn their workers at that commit,
    # and the leader dates the run once its own are up.
    assert post_run(followers[0], plan.encode(), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    results = wait_for(
        lambda: results_of(cluster.nodes), timeout=seconds + TIMEOUT_S, what="the results"
    )
    arrivals = sorted(at for at, path in target.requests() if path == "/")
    assert len(arrivals) == sum(r["requests_total"] for r in results)
    first_ms = (arrivals[0] - run["start_at"]) * 1000
    # Each 100 ms of the first second has its 30 arrivals (about 10 from each node): no
    # node late, then catching up.
    per_window = [
        sum(run["start_at"] + i / 10 <= at < run["start_at"] + (i + 1) / 10 for at in arrivals)
        for i in range(10)
    ]
    print(f"first request {first_ms:+.1f} ms after start_at; per 100 ms: {per_window}")
    assert -5 <= first_ms <= 20, first_ms
    assert all(abs(count - rate / 10) <= 8 for count in per_window), per_window

    # After the run, each node has the next set up and idle; a new plan stops it (and runs
    # with its own): no node keeps workers of a plan no longer committed.
    idle = wait_for(
        lambda: (
            all(len(worker_pids(n.pid)) == 1 for n in cluster.nodes)
            and {n.node_id: worker_pids(n.pid)[0] for n in cluster.nodes}
        ),
        timeout=TIMEOUT_S,
        what="the next workers prepared",
    )
    other = plan.replace(f"duration: {seconds}s", "duration: 1s")
    assert post_run(leader, other.encode(), TOKEN)[0] == 200

    def settled() -> bool:
        return all(
            n.log_path.read_text().count("event=cluster_run_finished") == 2
            and len(pids := worker_pids(n.pid)) == 1
            and pids[0] != idle[n.node_id]
            for n in cluster.nodes
        )

    wait_for(settled, timeout=TIMEOUT_S, what="one set of workers per node, for the new plan")
