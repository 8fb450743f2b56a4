"""Real nodes (Raft and all) that find each other through a real Consul agent only.

No CLUSTER_NODES anywhere: every node learns its peers from the agent, and Consul
DNS names the leader. Checks run every second here (CONSUL_CHECK_INTERVAL=1s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.consul.consul_cluster import (
    CatalogWatch,
    consul_cluster,
    hook_and_consul_transitions,
    is_subsequence,
    service_dns,
)
from tests.services import ConsulAgent
from tests.support import wait_for


def hosts(nodes: list[NodeProcess]) -> set[str]:
    return {node.host for node in nodes}


def peers_reported(cluster: ClusterHarness, nodes: list[NodeProcess]) -> set[int]:
    return {doc["peers"] for doc in cluster.all_health(nodes).values() if isinstance(doc, dict)}


def test_three_nodes_form_through_consul_and_dns_names_the_leader(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    cluster = consul_cluster(tmp_path / "cluster", consul)
    service = cluster.service  # type: ignore[attr-defined]
    with cluster, CatalogWatch(consul, service) as watch:
        nodes = cluster.start(3)
        leader_id, _ = cluster.wait_for_agreement(timeout=30)
        leader = cluster.node_by_id(leader_id)
        followers = [n for n in nodes if n is not leader]
        assert peers_reported(cluster, nodes) == {3}

        wait_for(
            lambda: service_dns(consul, service, "leader") == {leader.host},
            timeout=2,
            what="leader. DNS",
        )
        wait_for(
            lambda: service_dns(consul, service, "follower") == hosts(followers),
            timeout=2,
            what="follower. DNS",
        )
        assert service_dns(consul, service) == hosts(nodes)

        time.sleep(0.3)  # let the watch see the last tags
        for node in nodes:
            told, registered = hook_and_consul_transitions(node.log_path.read_text())
            assert registered == told, (node.node_id, told, registered)
            seen = watch.seen[node.node_id]
            assert is_subsequence(seen, told) and seen[-1] == told[-1], (told, seen)


def test_kill9_leader_moves_dns_leader_and_drops_the_dead_node(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    cluster = consul_cluster(tmp_path / "cluster", consul)
    service = cluster.service  # type: ignore[attr-defined]
    with cluster:
        nodes = cluster.start(3)
        old_id, old_term = cluster.wait_for_agreement(timeout=30)
        old = cluster.node_by_id(old_id)
        wait_for(
            lambda: service_dns(consul, service, "leader") == {old.host},
            timeout=2,
            what="leader. DNS",
        )

        old.kill9()
        killed = time.monotonic()
        new_id, new_term = cluster.wait_for_agreement(timeout=15)
        assert new_id != old_id and new_term > old_term
        new = cluster.node_by_id(new_id)
        wait_for(
            lambda: service_dns(consul, service, "leader") == {new.host},
            timeout=5,
            what="leader. DNS names the new leader only",
        )
        dns_moved_s = time.monotonic() - killed
        survivors = [n for n in nodes if n is not old]
        wait_for(
            lambda: service_dns(consul, service) == hosts(survivors),
            timeout=5,
            what="dead node dropped",
        )
        # Whichever check failed first dropped it (the TTL expires within 1 s, the 1 s
        # HTTP check may run sooner); both are critical soon after.
        checks = consul.client.agent.checks
        wait_for(
            lambda: (
                {checks()[f"service:{old_id}{c}"]["Status"] for c in ("", ":liveness")}
                == {"critical"}
            ),
            timeout=3,
            what="the dead node's HTTP and liveness checks both critical",
        )
        assert dns_moved_s < 5.0


def test_stale_registration_does_not_change_quorum_for_later_nodes(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    cluster = consul_cluster(tmp_path / "cluster", consul)
    with cluster:
        cluster.start(4, order=[3])  # only node 3: it registers and waits for peers
        stale = cluster.node(3)
        checks = consul.client.agent.checks
        wait_for(
            lambda: checks().get(f"service:{stale.node_id}", {}).get("Status") == "passing",
            timeout=15,
            what="the lone node's registration passes",
        )
        stale.kill9()
        wait_for(
            lambda: checks()[f"service:{stale.node_id}"]["Status"] == "critical",
            timeout=5,
            what="its check goes critical (the registration stays, for the deregister window)",
        )
        later = [cluster.node(i).start() for i in range(3)]
        cluster.wait_for_agreement(timeout=30, nodes=later)
        assert peers_reported(cluster, later) == {3}
        assert f"service:{stale.node_id}" in checks(), "the stale registration is still there"


def test_fourth_node_joins_a_running_cluster_through_consul_alone(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    cluster = consul_cluster(tmp_path / "cluster", consul)
    with cluster:
        cluster.start(4, order=[0, 1, 2])
        first = [cluster.node(i) for i in range(3)]
        leader_id, _ = cluster.wait_for_agreement(timeout=30, nodes=first)
        fourth = cluster.node(3).start()
        wait_for(
            lambda: peers_reported(cluster, [*first, fourth]) == {4},
            timeout=30,
            what="all four report 4 voting members",
        )
        assert cluster.wait_for_agreement(timeout=10)[0] == leader_id
        assert "consul_bootstrap_join" in fourth.log_path.read_text()


def test_agent_restart_brings_registrations_and_tags_back(
    consul_factory: Callable[[], ConsulAgent], tmp_path: Path
) -> None:
    agent = consul_factory()
    cluster = consul_cluster(tmp_path / "cluster", agent)
    service = cluster.service  # type: ignore[attr-defined]
    with cluster:
        nodes = cluster.start(3)
        leader_id, _ = cluster.wait_for_agreement(timeout=30)
        expected = {n.node_id: "leader" if n.node_id == leader_id else "follower" for n in nodes}

        agent.restart()
        restarted = time.monotonic()

        def tags() -> dict[str, str]:
            _, entries = agent.client.catalog.service(service)
            return {e["ServiceID"]: (e["ServiceTags"] or [""])[0] for e in entries}

        wait_for(
            lambda: tags() == expected, timeout=2 + 3, what="every registration back with its tag"
        )
        assert time.monotonic() - restarted <= 2 + 3  # one anti-entropy period + backoff
        leader = cluster.node_by_id(leader_id)
        wait_for(
            lambda: service_dns(agent, service, "leader") == {leader.host},
            timeout=5,
            what="leader. DNS",
        )
        assert cluster.wait_for_agreement(timeout=10)[0] == leader_id
        assert peers_reported(cluster, nodes) == {3}


def four_nodes_formed(cluster: ClusterHarness) -> list[NodeProcess]:
    """Three nodes bootstrap through Consul, a fourth joins; all report 4 members."""
    cluster.start(4, order=[0, 1, 2])
    cluster.wait_for_agreement(timeout=30, nodes=[cluster.node(i) for i in range(3)])
    cluster.node(3).start()
    wait_for(
        lambda: peers_reported(cluster, cluster.nodes) == {4}, timeout=30, what="4 voting members"
    )
    cluster.wait_for_agreement(timeout=10)
    return cluster.nodes


def test_a_cleanly_stopped_node_leaves_the_membership_and_can_rejoin(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    remove_after_s = 3.0
    cluster = consul_cluster(
        tmp_path / "cluster", consul, CLUSTER_MEMBER_REMOVE_AFTER=f"{remove_after_s:g}s"
    )
    with cluster:
        nodes = four_nodes_formed(cluster)
        leader_id, _ = cluster.wait_for_agreement(timeout=10)
        gone = next(n for n in nodes if n.node_id != leader_id)  # a follower
        others = [n for n in nodes if n is not gone]

        assert gone.stop() == 0
        stopped = time.monotonic()
        assert gone.node_id not in consul.client.agent.services(), "SIGTERM deregisters"
        # Missing from discovery -> removed after the grace; the node runtime polls
        # discovery every 2 s, and a membership change takes a moment to commit.
        wait_for(
            lambda: peers_reported(cluster, others) == {3},
            timeout=remove_after_s + 2 + 5,
            what="the three others report 3 members",
        )
        removed_s = time.monotonic() - stopped
        assert removed_s >= remove_after_s, f"removed before the grace: {removed_s:.1f}s"
        assert cluster.wait_for_agreement(timeout=10, nodes=others)[0] == leader_id
        cluster.assert_one_leader_per_term()
        leader_log = cluster.node_by_id(leader_id).log_path.read_text()
        assert "event=raft_membership_changed" in leader_log
        assert f"change=remove peer={gone.grpc_addr}" in leader_log

        gone.start()  # same id and data dir: it joins again through Consul
        wait_for(
            lambda: peers_reported(cluster, nodes) == {4},
            timeout=30,
            what="4 members everywhere again",
        )
        cluster.wait_for_agreement(timeout=15)
        cluster.assert_one_leader_per_term()


def test_a_briefly_dead_node_is_not_removed_within_the_default_grace(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    """CLUSTER_MEMBER_REMOVE_AFTER defaults to 60 s: a node killed with -9 (its check
    critical, so missing from discovery) must not shrink the quorum in 10 s."""
    cluster = consul_cluster(tmp_path / "cluster", consul)
    with cluster:
        nodes = four_nodes_formed(cluster)
        leader_id, _ = cluster.wait_for_agreement(timeout=10)
        dead = next(n for n in nodes if n.node_id != leader_id)
        survivors = [n for n in nodes if n is not dead]

        dead.kill9()
        killed = time.monotonic()
        checks = consul.client.agent.checks
        wait_for(
            lambda: checks()[f"service:{dead.node_id}:liveness"]["Status"] == "critical",
            timeout=3,
            what="the dead node's liveness check goes critical",
        )
        while time.monotonic() - killed < 10.0:
            assert peers_reported(cluster, survivors) == {4}
            assert cluster.wait_for_agreement(timeout=3, nodes=survivors)[0] == leader_id
            time.sleep(0.5)
        cluster.assert_one_leader_per_term()


def test_unreachable_consul_at_start_keeps_forming_then_forms(tmp_path: Path) -> None:
    # Ports chosen, agent not started: CONSUL_ADDR points at a closed port on loopback.
    (tmp_path / "late-agent").mkdir()
    agent = ConsulAgent(tmp_path / "late-agent")
    cluster = consul_cluster(tmp_path / "cluster", agent)
    try:
        with cluster:
            cluster.start(3, order=[0])
            first = cluster.node(0)
            # /health/cluster opens just before discovery's first call to the agent, so
            # the very first answers may precede the first refused connection.
            wait_for(
                lambda: (_health_or_none(first) or {}).get("discovery_error"),
                timeout=30,
                what="/health/cluster answers 200 with discovery_error",
            )
            started = time.monotonic()
            problems: set[str] = set()
            while time.monotonic() - started < 5.0:
                doc = wait_for(
                    lambda: _health_or_none(first), timeout=3, what="/health/cluster answers 200"
                )
                assert doc["state"] == "forming" and not doc["cluster_ready"], doc
                assert doc.get("discovery_error"), doc
                problems.add(doc["discovery_error"])
                time.sleep(0.25)
            assert first.running(), first.log_tail()
            assert any(f"consul unreachable at {agent.url}" in p for p in problems), problems
            log = first.log_path.read_text()
            assert "event=consul_unreachable" in log and f"consul_addr={agent.url}" in log

            agent.start()
            cluster.node(1).start()
            cluster.node(2).start()
            cluster.wait_for_agreement(timeout=60)
            assert peers_reported(cluster, cluster.nodes) == {3}
            wait_for(
                lambda: _answers_without_discovery_error(first),
                timeout=15,
                what="discovery_error gone from the first node's health",
            )
            assert "event=consul_reachable" in first.log_path.read_text()
    finally:
        agent.stop()


def _health_or_none(node: NodeProcess) -> dict[str, Any] | None:
    try:
        return node.health()
    except Exception:  # not listening yet, or not 200: keep asking
        return None


def _answers_without_discovery_error(node: NodeProcess) -> bool:
    doc = _health_or_none(node)
    return doc is not None and "discovery_error" not in doc


def test_the_role_is_a_tag_and_voter_resolves_the_voters(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    """CLUSTER_VOTERS=3: a fourth node joining through Consul follows as a member; the
    registrations carry [state, role] and voter.<service> / member.<service> resolve."""
    cluster = consul_cluster(tmp_path / "cluster", consul, CLUSTER_VOTERS="3")
    service = cluster.service  # type: ignore[attr-defined]
    with cluster:
        cluster.start(4, order=[0, 1, 2])
        voters = [cluster.node(i) for i in range(3)]
        leader_id, _ = cluster.wait_for_agreement(timeout=30, nodes=voters)
        fourth = cluster.node(3).start()
        assert cluster.wait_for_agreement(timeout=30)[0] == leader_id
        assert fourth.health()["role"] == "member"
        assert peers_reported(cluster, cluster.nodes) == {3}

        def tags() -> dict[str, list[str]]:
            _, entries = consul.client.catalog.service(service)
            return {e["ServiceID"]: e["ServiceTags"] for e in entries}

        expected = {n.node_id: ["follower", "voter"] for n in voters}
        expected[leader_id] = ["leader", "voter"]
        expected[fourth.node_id] = ["follower", "member"]
        wait_for(lambda: tags() == expected, timeout=10, what=f"the tags {expected}")
        wait_for(
            lambda: service_dns(consul, service, "voter") == {n.host for n in voters},
            timeout=10,
            what="voter. DNS",
        )
        wait_for(
            lambda: service_dns(consul, service, "member") == {fourth.host},
            timeout=10,
            what="member. DNS (passing checks only)",
        )
