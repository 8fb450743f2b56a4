"""Fleet scale, slice 1 (docs/design.md §12.1): CLUSTER_VOTERS caps who votes. Five nodes
with CLUSTER_VOTERS=3 form three Raft voters and two members that follow the leader's
committed state over one stream, and one run takes all five; nginx counts it. A member
that dies loses its share; after the leader's death the members follow the new one."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_run import results_of, rps_plan
from tests.cluster.test_cluster_run_faults import rate_over
from tests.services import Nginx
from tests.support import wait_for

RATE, SECONDS = 300, 10
TIMEOUT_S = 30


def test_five_nodes_three_voters_two_members_one_run(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN, "CLUSTER_VOTERS": "3"})
    cluster.start(5)
    leader_id, term = cluster.wait_for_agreement(TIMEOUT_S)

    health = cluster.all_health()
    roles = {node_id: doc["role"] for node_id, doc in health.items()}
    # The voters are the first three addresses of the list every node started with.
    assert roles == {
        node.node_id: "voter" if node.index < 3 else "member" for node in cluster.nodes
    }
    assert roles[leader_id] == "voter"
    assert {doc["peers"] for doc in health.values()} == {3}, health  # voting members only
    for node in cluster.nodes[3:]:  # a member runs no Raft: no journal, no vote to store
        assert not (node.data_dir / node.node_id / "raft.journal").exists()
        assert "event=raft_started" in node.log() and "role=member" in node.log()

    # A member takes a plan like any node: it forwards it to the leader.
    member = cluster.nodes[4]
    before = nginx.requests_served()
    status, reply = post_run(member, rps_plan(nginx, RATE, SECONDS), TOKEN)
    assert status == 200, reply
    results = wait_for(
        lambda: results_of(cluster.nodes), timeout=SECONDS + TIMEOUT_S, what="the results"
    )
    served = nginx.requests_served() - before - 1  # this stub_status read counts itself
    sent = {
        node.node_id: r["requests_total"] for node, r in zip(cluster.nodes, results, strict=True)
    }
    expected = RATE * SECONDS
    assert abs(sum(sent.values()) - expected) <= 0.02 * expected, sent
    assert abs(served - sum(sent.values())) <= 3, (served, sent)
    for count in sent.values():  # each of the five, members included, did a fifth
        assert abs(count - expected / 5) <= 0.05 * expected / 5, sent
    assert {r["run"]["count"] for r in results} == {5}, [r["run"] for r in results]
    assert all(r["errors_total"] == 0 for r in results), results

    # Nobody voted again: the leader and its term held through the run.
    assert cluster.wait_for_agreement(TIMEOUT_S) == (leader_id, term)
    cluster.assert_one_leader_per_term()


def test_members_follow_a_new_leader_and_a_dead_member_loses_its_share(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    seconds = 40
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN, "CLUSTER_VOTERS": "3"})
    cluster.start(5)
    leader_id, term = cluster.wait_for_agreement(TIMEOUT_S)
    leader = cluster.node_by_id(leader_id)
    dead_member, member = cluster.nodes[3], cluster.nodes[4]
    assert post_run(leader, rps_plan(nginx, RATE, seconds), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    assert set(run["shares"]) == {node.node_id for node in cluster.nodes}
    wait_for(lambda: time.time() > run["start_at"] + 3, timeout=TIMEOUT_S, what="the run going")

    # A member that dies is dropped from the shares, as a dead follower is (within
    # CLUSTER_RESHARE_AFTER, 3 s), and the others carry the rate.
    dead_member.kill9()
    wait_for(
        lambda: dead_member.node_id not in leader.health()["run"]["shares"],
        timeout=3 + 2,
        what="the dead member's share re-split",
    )
    time.sleep(1)  # the new shares reach every node's workers
    assert abs(rate_over(nginx, 4) - RATE) <= 0.05 * RATE

    # The leader dies: the voters elect one of them, the member follows it and keeps
    # its share of the same run.
    leader.kill9()
    new_leader_id, new_term = cluster.wait_for_agreement(TIMEOUT_S)
    assert new_leader_id != leader_id and new_term > term
    assert cluster.node_by_id(new_leader_id).index < 3, "only a voter leads"
    health = member.health()
    assert (health["role"], health["state"], health["leader_id"]) == (
        "member",
        "follower",
        new_leader_id,
    )
    new_leader = cluster.node_by_id(new_leader_id)
    shares = wait_for(
        lambda: (s := new_leader.health()["run"]["shares"]) and leader_id not in s and s,
        timeout=3 + 2,
        what="the dead leader's share re-split",
    )
    assert member.node_id in shares and new_leader.health()["run"]["run_id"] == run["run_id"]
    time.sleep(1)
    assert abs(rate_over(nginx, 4) - RATE) <= 0.05 * RATE
    cluster.assert_one_leader_per_term()
