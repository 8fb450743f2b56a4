"""Real nodes (Raft and all) that find each other through DNS alone: Consul's DNS interface.

No CLUSTER_NODES and no Consul plugin: the test registers each node's service entry
in a real Consul agent through its HTTP API, the way Nomad or a Consul agent's service
file would, and the nodes only ever ask the agent's DNS port (DISCOVERY_MODE=dns).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cluster.harness import ClusterHarness, NodeProcess, node_host
from tests.services import ConsulAgent
from tests.support import LOOPBACK, free_port, wait_for

SERVICE = "loadtest-cluster"
A_NAME = f"{SERVICE}.service.consul"
SRV_NAME = f"_{SERVICE}._tcp.service.consul"  # RFC 2782 form: every instance, any tag


def dns_cluster(
    make_cluster: Callable[..., ClusterHarness], agent: ConsulAgent, name: str
) -> ClusterHarness:
    """Three nodes' harness (on 127.0.0.11-13, one gRPC port) asking ``agent`` for ``name``."""
    grpc_port = free_port(hosts=[node_host(i) for i in range(3)])
    return make_cluster(
        env={
            "DISCOVERY_MODE": "dns",
            "CLUSTER_NODES": "",
            "DISCOVERY_DNS_NAME": name,
            "DISCOVERY_DNS_SERVER": f"{LOOPBACK}:{agent.dns_port}",
            "DISCOVERY_DNS_INTERVAL": "500ms",
            "DISCOVERY_DNS_EXPECT": "3",
        },
        grpc_port=grpc_port,
    )


def register(agent: ConsulAgent, node: NodeProcess, port: int) -> None:
    """The node's service entry, as whatever runs the node would register it."""
    agent.client.agent.service.register(
        SERVICE, service_id=node.node_id, address=node.host, port=port
    )


def deregister(agent: ConsulAgent, node: NodeProcess) -> None:
    agent.client.agent.service.deregister(node.node_id)


class HealthWatch:
    """Polls every node's /health/cluster in a thread; ``seen`` keeps every answer."""

    def __init__(self, cluster: ClusterHarness) -> None:
        self.cluster = cluster
        self.seen: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for node_id, doc in self.cluster.all_health().items():
                self.seen.append({"node": node_id, "doc": doc, "at": time.monotonic()})
            self._stop.wait(0.2)


@pytest.fixture
def agent(consul_factory: Callable[[], ConsulAgent]) -> Iterator[ConsulAgent]:
    """An agent of this test's own: its catalog holds only this test's entries."""
    yield consul_factory()


def test_three_nodes_wait_through_nxdomain_then_form_from_consul_a_records(
    make_cluster: Callable[..., ClusterHarness], agent: ConsulAgent
) -> None:
    cluster = dns_cluster(make_cluster, agent, A_NAME)
    nodes = cluster.start(3)
    port = cluster.grpc_port
    assert port is not None

    # Nothing registered yet: the name does not exist. The nodes wait, healthy, and
    # say why.
    def all_waiting_on_nxdomain() -> bool:
        return cluster.all_show(
            lambda d: d["state"] == "forming" and "NXDOMAIN" in d.get("discovery_error", "")
        )

    wait_for(
        all_waiting_on_nxdomain,
        timeout=20,
        what="forming nodes naming NXDOMAIN",
        detail=lambda: str(cluster.all_health()),
    )

    # Two of three: still short of DISCOVERY_DNS_EXPECT, nobody starts consensus.
    register(agent, nodes[0], port)
    register(agent, nodes[1], port)
    wait_for(
        lambda: all(
            "lists 2 of the 3" in cluster.all_health()[n.node_id].get("discovery_error", "")
            for n in nodes[:2]
        ),
        timeout=10,
        what="two listed nodes waiting for the third",
    )
    wait_for(
        lambda: "does not list this node" in nodes[2].health().get("discovery_error", ""),
        timeout=10,
        what="the unlisted node saying so",
    )
    assert cluster.all_show(lambda d: d["state"] == "forming")

    register(agent, nodes[2], port)
    leader_id, _ = cluster.wait_for_agreement(timeout=30)
    assert cluster.all_show(lambda d: d["peers"] == 3 and "discovery_error" not in d)
    for node in nodes:
        seen = re.findall(r"event=dns_peers_seen .*addresses=(\S+)", node.log())
        assert seen and seen[-1] == ",".join(f"{n.host}:{port}" for n in nodes), seen
    cluster.assert_one_leader_per_term()
    assert leader_id in {n.node_id for n in nodes}


def test_srv_formation_keeps_quorum_while_consul_answers_flap(
    make_cluster: Callable[..., ClusterHarness], agent: ConsulAgent
) -> None:
    cluster = dns_cluster(make_cluster, agent, SRV_NAME)
    port = cluster.grpc_port
    assert port is not None
    nodes = cluster.start(3)
    for node in nodes:
        register(agent, node, port)
    leader_id, term = cluster.wait_for_agreement(timeout=30)
    leader = cluster.node_by_id(leader_id)
    follower = next(n for n in nodes if n is not leader)

    # Answers flap: a follower's entry goes and comes back, the leader's own, and all
    # of them at once (NXDOMAIN). Each gap is several lookups (every 0.5 s) long.
    flaps: list[tuple[str, list[NodeProcess]]] = [
        ("follower", [follower]),
        ("leader", [leader]),
        ("everyone", nodes),
        ("follower", [follower]),
        ("leader and follower", [leader, follower]),
    ]
    with HealthWatch(cluster) as watch:
        for _round in range(2):
            for _what, gone in flaps:
                for node in gone:
                    deregister(agent, node)
                time.sleep(1.5)
                for node in gone:
                    register(agent, node, port)
                time.sleep(1.0)
    assert cluster.wait_for_agreement(timeout=10) == (leader_id, term)

    # Every answer during the flapping: the same leader, the same term, three voting
    # members, and every node follower or leader; DNS flapping justifies no election.
    assert len(watch.seen) > 100
    bad = [
        s
        for s in watch.seen
        if not isinstance(s["doc"], dict)
        or s["doc"]["state"] not in ("leader", "follower")
        or s["doc"]["term"] != term
        or s["doc"]["leader_id"] != leader_id
        or s["doc"]["peers"] != 3
        or not s["doc"]["cluster_ready"]
    ]
    assert not bad, (bad[:5], str(cluster))
    cluster.assert_one_leader_per_term()

    # The nodes did see the flapping: short answers (handed on) and failed lookups or
    # answers without themselves (kept the last good one).
    logs = {n.node_id: n.log() for n in nodes}
    assert any(re.search(r"event=dns_peers_seen .*count=2", text) for text in logs.values())
    assert all("NXDOMAIN" in text for text in logs.values())
    assert "does not list this node" in logs[leader_id]
