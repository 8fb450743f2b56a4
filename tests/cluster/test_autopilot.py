"""Autopilot (docs/design.md §12.1): a voter dead for CLUSTER_VOTER_REPLACE_AFTER is
removed and a member that follows the leader is promoted in its place, one change at
a time, without deposing the leader; a replaced voter that comes back follows as a
member. Real processes, kill -9, and nginx counting the run's requests."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_run import results_of, rps_plan
from tests.cluster.test_cluster_run_faults import rate_over
from tests.services import Nginx
from tests.support import wait_for

REPLACE_AFTER_S = 3
ENV = {
    "CLUSTER_API_TOKEN": TOKEN,
    "CLUSTER_VOTERS": "3",
    "CLUSTER_VOTER_REPLACE_AFTER": f"{REPLACE_AFTER_S}s",
}
RATE = 200
TIMEOUT_S = 30


def voters_replaced(cluster: ClusterHarness, gone: set[str]) -> list[str] | None:
    """The voters' node ids once exactly three of the nodes not ``gone`` that run vote,
    and each of those counts three voting members; else None."""
    health = cluster.all_health([n for n in cluster.running() if n.node_id not in gone])
    if not all(isinstance(doc, dict) for doc in health.values()):
        return None
    voters = sorted(node_id for node_id, doc in health.items() if doc["role"] == "voter")
    if len(voters) != 3 or {doc["peers"] for doc in health.values()} != {3}:
        return None
    return voters


def autopilot_changes(leader: NodeProcess) -> list[tuple[str, str]]:
    """The (change, peer) pairs the leader's autopilot logged, in order."""
    changes = []
    for line in leader.log().splitlines():
        if "event=raft_autopilot " in line:
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            changes.append((fields["change"], fields["peer"]))
    return changes


def test_a_dead_voter_is_replaced_during_a_run_and_comes_back_as_a_member(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster = make_cluster(env=ENV)
    cluster.start(5)
    leader_id, term = cluster.wait_for_agreement(TIMEOUT_S)
    leader = cluster.node_by_id(leader_id)
    assert post_run(leader, rps_plan(nginx, RATE, 45), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    wait_for(lambda: time.time() > run["start_at"] + 2, timeout=TIMEOUT_S, what="the run going")

    victim = next(node for node in cluster.nodes[:3] if node.node_id != leader_id)
    victim.kill9()
    killed_at = time.monotonic()
    voters = wait_for(
        lambda: voters_replaced(cluster, {victim.node_id}),
        timeout=REPLACE_AFTER_S + 5,
        what="a member promoted in the dead voter's place",
    )
    assert time.monotonic() - killed_at >= REPLACE_AFTER_S - 0.5, "replaced before its time"
    promoted = cluster.node_by_id(next(v for v in voters if cluster.node_by_id(v).index >= 3))
    # Removed first, then added: the voters left were all live at every step.
    assert autopilot_changes(leader) == [
        ("remove", victim.grpc_addr),
        ("add", promoted.grpc_addr),
    ]
    assert "event=raft_promoted" in promoted.log()
    assert (promoted.data_dir / promoted.node_id / "raft.journal").exists()
    # The leader was neither deposed nor re-elected, and the run holds its rate.
    assert cluster.wait_for_agreement(TIMEOUT_S) == (leader_id, term)
    wait_for(
        lambda: victim.node_id not in leader.health()["run"]["shares"],
        timeout=5,
        what="the dead voter's share re-split",
    )
    time.sleep(1)
    assert abs(rate_over(nginx, 4) - RATE) <= 0.05 * RATE

    # The replaced voter restarts: the leader it finds no longer lists it, so it
    # follows as a member, its Raft files aside; leader and term are unchanged.
    victim.start()
    health = wait_for(
        lambda: doc if (doc := victim.health())["state"] == "follower" else None,
        timeout=TIMEOUT_S,
        what="the replaced voter following again",
    )
    assert (health["role"], health["leader_id"], health["term"]) == ("member", leader_id, term)
    assert "event=raft_leader_found" in victim.log() and "voter=False" in victim.log()
    assert not (victim.data_dir / victim.node_id / "raft.journal").exists()
    assert cluster.wait_for_agreement(TIMEOUT_S) == (leader_id, term)
    assert voters_replaced(cluster, set()) == voters
    cluster.assert_one_leader_per_term()


def test_every_original_voter_killed_one_by_one_the_fleet_still_leads_and_runs(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    cluster = make_cluster(env=ENV)
    cluster.start(6)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    originals = sorted(cluster.nodes[:3], key=lambda node: node.node_id == leader_id)
    gone: set[str] = set()
    for victim in originals:  # the leader last
        victim.kill9()
        gone.add(victim.node_id)
        # A dead leader costs an election first; the new leader then replaces it.
        wait_for(
            lambda: voters_replaced(cluster, gone),
            timeout=REPLACE_AFTER_S + 10,
            what=f"a member in {victim.node_id}'s place",
        )
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    assert cluster.node_by_id(leader_id).index >= 3
    cluster.assert_one_leader_per_term()

    # The three former members, all voters now, take a plan and run it together.
    survivors = cluster.running()
    before = nginx.requests_served()
    seconds = 5
    assert post_run(cluster.node_by_id(leader_id), rps_plan(nginx, RATE, seconds), TOKEN)[0] == 200
    results = wait_for(
        lambda: results_of(survivors), timeout=seconds + TIMEOUT_S, what="the results"
    )
    served = nginx.requests_served() - before - 1  # this stub_status read counts itself
    assert abs(served - RATE * seconds) <= 0.02 * RATE * seconds, served
    assert all(r["requests_total"] > 0 for r in results), results


def test_a_voter_frozen_past_its_replacement_resumes_as_a_member(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    cluster = make_cluster(env=ENV)
    cluster.start(4)
    leader_id, term = cluster.wait_for_agreement(TIMEOUT_S)
    frozen = next(node for node in cluster.nodes[:3] if node.node_id != leader_id)
    frozen.signal(signal.SIGSTOP)
    try:
        # gRPC keepalive notices the silence (~3 s), then CLUSTER_VOTER_REPLACE_AFTER.
        voters = wait_for(
            lambda: voters_replaced(cluster, {frozen.node_id}),
            timeout=REPLACE_AFTER_S + 10,
            what="the frozen voter replaced",
        )
    finally:
        frozen.signal(signal.SIGCONT)
    # Its Raft still lists it, but no voter hears it: asking who leads demotes it.
    health = wait_for(
        lambda: doc if (doc := frozen.health())["role"] == "member" else None,
        timeout=TIMEOUT_S,
        what="the resumed voter following as a member",
    )
    wait_for(
        lambda: (doc := frozen.health())["state"] == "follower" and doc,
        timeout=TIMEOUT_S,
        what="the resumed voter following",
    )
    assert "event=raft_demoted" in frozen.log(), health
    assert cluster.wait_for_agreement(TIMEOUT_S) == (leader_id, term)
    assert voters_replaced(cluster, set()) == voters
    cluster.assert_one_leader_per_term()
