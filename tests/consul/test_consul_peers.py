"""Which registrations count as peers: passing checks only, one per node id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loadtest_supervisor.cluster.contracts import Peer
from tests.consul.plugin_node import PluginNode, node_settings
from tests.services import ConsulAgent
from tests.support import eventually

# The CONSUL_* timings these tests are written against (conftest.py).
pytestmark = pytest.mark.usefixtures("fast_checks")


def test_peers_only_from_passing_checks_once_per_node_id(
    consul: ConsulAgent, http_target: object, service: str, tmp_path: Path
) -> None:
    target_url = http_target.url  # type: ignore[attr-defined]
    client = consul.client

    def fake(service_id: str, node_id: str, status_path: str, address: str | None) -> None:
        client.agent.service.register(
            service,
            service_id=service_id,
            address=address,
            port=7999,
            tags=["forming"],
            meta={"node_id": node_id},
            check={"HTTP": f"{target_url}{status_path}", "Interval": "1s", "Timeout": "1s"},
        )

    fake("node-bad", "node-bad", "/status/500", "127.0.0.50")  # check critical: never counts
    fake("node-dup-a", "node-dup", "/", "127.0.0.51")  # one node registered twice
    fake("node-dup-b", "node-dup", "/", "127.0.0.51")
    fake("node-noaddr", "node-noaddr", "/", None)  # no service address: the node's is used

    async def scenario() -> None:
        node = await PluginNode(node_settings(consul.url, service, "node-p"), tmp_path).open()
        try:
            await node.discovery.start()
            await node.discovery.peers()  # the bootstrap answer; live views follow

            def passing_count() -> bool:
                return len(client.health.service(service, passing=True)[1]) == 4

            await eventually(passing_count, timeout=10.0, what="4 passing registrations")
            checks = client.agent.checks()
            assert checks["service:node-bad"]["Status"] == "critical"
            peers = await node.discovery.peers()
            assert sorted(peers, key=lambda p: p.node_id or "") == [
                Peer(address="127.0.0.51:7999", node_id="node-dup"),
                Peer(address="127.0.0.1:7999", node_id="node-noaddr"),
            ]
        finally:
            await node.close()
            for service_id in ("node-bad", "node-dup-a", "node-dup-b", "node-noaddr"):
                client.agent.service.deregister(service_id)

    asyncio.run(scenario())
