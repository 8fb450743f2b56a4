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


def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}; last: {last!r}")


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

        until(lambda: service_dns(consul, service, "leader") == {leader.host}, 2, "leader. DNS")
        until(
            lambda: service_dns(consul, service, "follower") == hosts(followers),
            2,
            "follower. DNS",
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
        until(lambda: service_dns(consul, service, "leader") == {old.host}, 2, "leader. DNS")

        old.kill9()
        killed = time.monotonic()
        new_id, new_term = cluster.wait_for_agreement(timeout=15)
        assert new_id != old_id and new_term > old_term
        new = cluster.node_by_id(new_id)
        until(
            lambda: service_dns(consul, service, "leader") == {new.host},
            5,
            "leader. DNS names the new leader only",
        )
        dns_moved_s = time.monotonic() - killed
        survivors = [n for n in nodes if n is not old]
        until(lambda: service_dns(consul, service) == hosts(survivors), 5, "dead node dropped")
        assert consul.client.agent.checks()[f"service:{old_id}"]["Status"] == "critical"
        assert dns_moved_s < 5.0


def test_stale_registration_does_not_change_quorum_for_later_nodes(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    cluster = consul_cluster(tmp_path / "cluster", consul)
    with cluster:
        cluster.start(4, order=[3])  # only node 3: it registers and waits for peers
        stale = cluster.node(3)
        checks = consul.client.agent.checks
        until(
            lambda: checks().get(f"service:{stale.node_id}", {}).get("Status") == "passing",
            15,
            "the lone node's registration passes",
        )
        stale.kill9()
        until(
            lambda: checks()[f"service:{stale.node_id}"]["Status"] == "critical",
            5,
            "its check goes critical (the registration stays, for the deregister window)",
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
        until(
            lambda: peers_reported(cluster, [*first, fourth]) == {4},
            30,
            "all four report 4 voting members",
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

        until(lambda: tags() == expected, 2 + 3, "every registration back with its tag")
        assert time.monotonic() - restarted <= 2 + 3  # one anti-entropy period + backoff
        leader = cluster.node_by_id(leader_id)
        until(lambda: service_dns(agent, service, "leader") == {leader.host}, 5, "leader. DNS")
        assert cluster.wait_for_agreement(timeout=10)[0] == leader_id
        assert peers_reported(cluster, nodes) == {3}
