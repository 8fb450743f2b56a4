"""The dns plugin's lookups and its keep-the-last-answer rule, against Consul's real DNS
interface (the session agent; each test registers under a service name of its own)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from loadtest_supervisor.cluster.contracts import NodeContext, Peer
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.plugins.dns_discovery import DnsConfig, DnsDiscovery, DnsSettings
from loadtest_supervisor.plugins.dns_discovery.dns_lookup import DnsLookup, LookupFailed
from tests.services import ConsulAgent
from tests.support import LOOPBACK, free_port

BIND_PORT = 7000
ENTRIES = {"a": ("127.0.0.21", 7101), "b": ("127.0.0.22", 7102), "c": ("127.0.0.23", 7103)}


@pytest.fixture
def service(consul: ConsulAgent) -> Iterator[str]:
    """A service with three entries, each on its own address and port."""
    name = f"lt-dns-{uuid.uuid4().hex[:8]}"
    for key, (address, port) in ENTRIES.items():
        consul.client.agent.service.register(
            name, service_id=f"{name}-{key}", address=address, port=port
        )
    yield name
    for key in ENTRIES:
        consul.client.agent.service.deregister(f"{name}-{key}")


def settings(consul: ConsulAgent, name: str, **config: object) -> DnsSettings:
    dns_config = DnsConfig(name=name, server=f"{LOOPBACK}:{consul.dns_port}", **config)
    return DnsSettings.from_config(dns_config, f"0.0.0.0:{BIND_PORT}")


def test_srv_gives_each_target_with_its_own_port(consul: ConsulAgent, service: str) -> None:
    lookup = DnsLookup(settings(consul, f"_{service}._tcp.service.consul"))
    assert asyncio.run(lookup.endpoints()) == set(ENTRIES.values())


def test_a_records_give_each_address_with_this_nodes_port(
    consul: ConsulAgent, service: str
) -> None:
    lookup = DnsLookup(settings(consul, f"{service}.service.consul"))
    assert asyncio.run(lookup.endpoints()) == {(ip, BIND_PORT) for ip, _ in ENTRIES.values()}


def test_a_missing_name_and_a_dead_server_are_failures_that_say_why(consul: ConsulAgent) -> None:
    lookup = DnsLookup(settings(consul, f"lt-none-{uuid.uuid4().hex[:8]}.service.consul"))
    with pytest.raises(LookupFailed, match="A: NXDOMAIN .* AAAA: NXDOMAIN"):
        asyncio.run(lookup.endpoints())
    nobody = DnsConfig(name="x.service.consul", server=f"{LOOPBACK}:{free_port(udp=True)}")
    dead = DnsLookup(DnsSettings.from_config(nobody, f"0.0.0.0:{BIND_PORT}"))
    with pytest.raises(LookupFailed):
        asyncio.run(dead.endpoints())


def test_a_failed_lookup_or_an_answer_without_this_node_keeps_the_last_peers(
    consul: ConsulAgent, service: str
) -> None:
    own_ip, own_port = ENTRIES["a"]

    async def scenario() -> None:
        context = NodeContext(
            settings=NodeSettings(node_id="a"),
            node_id="a",
            advertise_addr=f"{own_ip}:{own_port}",
            health_url="http://127.0.0.21:8080/health/cluster",
            data_dir=".",
            loop=asyncio.get_running_loop(),
            hook=None,
        )
        discovery = DnsDiscovery(settings(consul, f"_{service}._tcp.service.consul"), context)
        await asyncio.wait_for(discovery.start(), 10)
        try:
            others = [Peer("127.0.0.22:7102"), Peer("127.0.0.23:7103")]
            assert await discovery.peers() == others and discovery.problem() is None

            consul.client.agent.service.deregister(f"{service}-a")  # this node's own entry
            await discovery.resolve_once()
            assert "does not list this node" in (discovery.problem() or "")
            assert await discovery.peers() == others

            for key in ("b", "c"):  # everyone: NXDOMAIN
                consul.client.agent.service.deregister(f"{service}-{key}")
            await discovery.resolve_once()
            assert "NXDOMAIN" in (discovery.problem() or "")
            assert await discovery.peers() == others

            # Back with one peer short: that answer is used (consensus decides when a
            # missing member has been gone long enough).
            for key in ("a", "b"):
                ip, port = ENTRIES[key]
                consul.client.agent.service.register(
                    service, service_id=f"{service}-{key}", address=ip, port=port
                )
            await discovery.resolve_once()
            assert discovery.problem() is None
            assert await discovery.peers() == [Peer("127.0.0.22:7102")]
        finally:
            await discovery.stop()

    asyncio.run(scenario())
