"""One plan, three nodes, one run: the leader commits a run record and every node runs its
share from the same instant; nginx counts what the cluster sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.cluster.api_client import TOKEN, node_results, post_run
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.services import Nginx
from tests.support import wait_for

RATE, SECONDS = 300, 10
TIMEOUT_S = 30


def rps_plan(nginx: Nginx, rate: int, seconds: int, path: str = "/") -> bytes:
    return (
        f"target: {{url: '{nginx.url}{path}'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s, workers: 1}}\n"
    ).encode()


def three_nodes(
    make_cluster: Callable[..., ClusterHarness], **env: str
) -> tuple[ClusterHarness, NodeProcess, list[NodeProcess]]:
    """A formed 3-node cluster that takes plans: its leader and its followers."""
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN, **env})
    cluster.start(3)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    leader = cluster.node_by_id(leader_id)
    return cluster, leader, [node for node in cluster.nodes if node is not leader]


def results_of(nodes: list[NodeProcess]) -> list[dict[str, Any]] | None:
    """Each node's results, once every one of them has finished its part."""
    found = [node_results(node) for node in nodes]
    return [r for r in found if r] if all(found) else None


# Plan variables in a node's environment never shadow the committed plan (the bug
# rust_loadtest shipped): the nodes' own plan would aim at a closed port, at 999/s.
CONFLICTING = {"TARGET_URL": "http://127.0.0.1:9/", "LOAD_MODEL_TYPE": "Rps", "TARGET_RPS": "999"}


def test_three_nodes_run_one_plan_at_the_cluster_rate(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster, _, (follower, _) = three_nodes(make_cluster, **CONFLICTING)
    before = nginx.requests_served()
    status, reply = post_run(follower, rps_plan(nginx, RATE, SECONDS), TOKEN)
    assert status == 200, reply

    runs = wait_for(
        lambda: {doc["run"]["run_id"] for doc in cluster.all_health().values() if "run" in doc},
        timeout=TIMEOUT_S,
        what="the run record on the nodes",
    )
    assert len(runs) == 1

    results = wait_for(
        lambda: results_of(cluster.nodes), timeout=SECONDS + TIMEOUT_S, what="the results"
    )
    served = nginx.requests_served() - before - 1  # this stub_status read counts itself
    sent = [r["requests_total"] for r in results]
    expected = RATE * SECONDS
    assert abs(sum(sent) - expected) <= 0.02 * expected, sent
    assert abs(served - sum(sent)) <= 3, (served, sent)  # the status reads in between
    for count in sent:  # every node did its third
        assert abs(count - expected / 3) <= 0.05 * expected / 3, sent
    assert all(r["errors_total"] == 0 for r in results), results
    wait_for(
        lambda: all(
            doc.get("run", {}).get("state") == "finished" for doc in cluster.all_health().values()
        ),
        timeout=TIMEOUT_S,
        what="the run marked finished",
    )


def test_a_run_goes_on_under_a_new_leader_with_the_same_run_id(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster, leader, survivors = three_nodes(make_cluster)
    follower = survivors[0]
    assert post_run(follower, rps_plan(nginx, 100, SECONDS), TOKEN)[0] == 200
    run = wait_for(lambda: follower.health().get("run"), timeout=TIMEOUT_S, what="the run record")
    leader_id = leader.node_id
    wait_for(
        lambda: all("event=cluster_run_started" in n.log_path.read_text() for n in survivors),
        timeout=TIMEOUT_S,
        what="the survivors' runs started",
    )
    cluster.node_by_id(leader_id).kill9()
    new_leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    assert new_leader_id != leader_id

    results = wait_for(
        lambda: results_of(survivors), timeout=SECONDS + TIMEOUT_S, what="the survivors' results"
    )
    for node in survivors:
        log = node.log_path.read_text()
        assert log.count("event=cluster_run_started") == 1, node.node_id  # no second start
        assert node.health()["run"]["run_id"] == run["run_id"]
    assert all(r["requests_total"] > 0 for r in results)
    wait_for(
        lambda: all(n.health()["run"]["state"] == "finished" for n in survivors),
        timeout=TIMEOUT_S,
        what="the new leader marked the run finished",
    )


def test_a_dead_followers_share_goes_to_the_survivors_and_the_rate_holds(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 300, 24
    _, leader, (victim, survivor) = three_nodes(make_cluster)
    assert post_run(leader, rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    wait_for(lambda: time.time() > run["start_at"] + 4, timeout=TIMEOUT_S, what="the run under way")
    victim.kill9()
    killed = time.monotonic()
    wait_for(
        lambda: "event=share_changed" in survivor.log_path.read_text(),
        timeout=TIMEOUT_S,
        what="the survivor's new share",
    )
    applied_s = time.monotonic() - killed
    assert applied_s <= 3.5, applied_s  # CLUSTER_RESHARE_AFTER (3 s), plus this poll
    # After the re-split window the two survivors carry the whole rate.
    time.sleep(max(0.0, 4 - (time.monotonic() - killed)))
    first, at_first = nginx.requests_served(), time.monotonic()
    time.sleep(10)
    second, at_second = nginx.requests_served(), time.monotonic()
    measured = (second - first - 1) / (at_second - at_first)
    assert abs(measured - rate) <= 0.05 * rate, measured
    log = leader.log_path.read_text()
    assert f"event=run_reshared run_id={run['run_id']} nodes=2 lost={victim.node_id}" in log


def test_shares_follow_each_nodes_workers(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 200, 8
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN})
    nodes = cluster.start(3, order=[])  # created, not started: node 0 gets more workers
    for node, workers in zip(nodes, ("2", "1", "1"), strict=True):
        assert node.process.env is not None
        node.process.env["CLUSTER_WORKERS"] = workers
        node.start()
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    plan = (
        f"target: {{url: '{nginx.url}/'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s}}\n"
    )
    assert post_run(cluster.node_by_id(leader_id), plan.encode(), TOKEN)[0] == 200
    results = wait_for(
        lambda: results_of(nodes), timeout=seconds + TIMEOUT_S, what="every node's results"
    )
    sent = [r["requests_total"] for r in results]
    expected = rate * seconds
    for count, part in zip(sent, (0.5, 0.25, 0.25), strict=True):
        assert abs(count - part * expected) <= 0.05 * part * expected, sent
    assert "event=run_started workers=2" in nodes[0].log_path.read_text()


def test_a_node_that_joins_a_run_gets_a_share_and_the_others_give_theirs_up(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 300, 20
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN})
    nodes = cluster.start(4, order=[0, 1, 2])  # all four listed; the fourth comes later
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S, nodes=nodes[:3])
    leader, newcomer = cluster.node_by_id(leader_id), nodes[3]
    assert post_run(leader, rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    wait_for(lambda: len(run_shares(leader)) == 3, timeout=TIMEOUT_S, what="3 shares")
    wait_for(lambda: time.time() > run["start_at"] + 3, timeout=TIMEOUT_S, what="the run going")

    newcomer.start()
    wait_for(
        lambda: "event=cluster_run_started" in newcomer.log_path.read_text(),
        timeout=TIMEOUT_S,
        what="the newcomer's part of the same run",
    )
    assert newcomer.health()["run"]["run_id"] == run["run_id"]
    wait_for(
        lambda: sorted(run_shares(leader).values()) == [0.25] * 4,
        timeout=TIMEOUT_S,
        what="four equal shares",
    )
    for node in nodes[:3]:  # each gave up a quarter of its third, in place
        assert "event=share_changed" in node.log_path.read_text() and "share=0.25" in (
            node.log_path.read_text()
        )
    time.sleep(1)  # its workers were prepared; give them the start
    first, at_first = nginx.requests_served(), time.monotonic()
    time.sleep(5)
    measured = (nginx.requests_served() - first - 1) / (time.monotonic() - at_first)
    assert abs(measured - rate) <= 0.05 * rate, measured


def run_shares(node: NodeProcess) -> dict[str, float]:
    """The committed run's share of each node, as ``node``'s health shows them."""
    return node.health()["run"]["shares"]


def test_a_node_slow_to_spawn_its_workers_still_starts_at_start_at(
    make_cluster: Callable[..., ClusterHarness], logged_nginx: Nginx
) -> None:
    """Node 2 spawns 6 workers, the others 1: the leader sets start_at only once every
    node's workers are up, so no node's first request is late (before, node 2 opened the
    run over a second late on this machine)."""
    rate, seconds = 150, 3
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN})
    nodes = cluster.start(3, order=[])
    for node, workers in zip(nodes, ("1", "1", "6"), strict=True):
        assert node.process.env is not None
        node.process.env["CLUSTER_WORKERS"] = workers
        node.start()
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    leader = cluster.node_by_id(leader_id)
    plan = (
        f"target: {{url: '{logged_nginx.url}'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s}}\n"
        "scenarios: [{name: s, steps: [{path: '/n${node_index}'}]}]\n"
    )
    assert post_run(leader, plan.encode(), TOKEN)[0] == 200
    results = wait_for(
        lambda: results_of(nodes), timeout=seconds + TIMEOUT_S, what="every node's results"
    )
    run = leader.health()["run"]
    hits = logged_nginx.hits()
    for result in results:
        index = result["run"]["index"]
        first = min(h.at for h in hits if h.path.startswith(f"/n{index}"))
        # Its first arrival is due 1/rate after start_at; 0.25 s allows a busy machine's
        # scheduling, far under the spawn time of 6 workers.
        assert first - run["start_at"] < 0.25, (index, first - run["start_at"])
    assert "event=peers_prepared peers=2" in leader.log_path.read_text()
