"""The cluster's members as Consul sees them: passing checks only, one entry per node id.

A stale registration of a crashed node goes critical and stops counting; two
registrations of one node id (re-registered under another service id, or on two
agents) count once; the address is the one the node advertised for gRPC, so a
peer's address and its node id always come from the same registration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from loadtest_supervisor.cluster.contracts import Peer
from loadtest_supervisor.plugins.consul_discovery.consul_agent import ConsulAgent

# Tags of a node that knows a leader with quorum: a cluster is running.
MEMBER_TAGS = ("leader", "follower")


@dataclass(frozen=True)
class Member:
    node_id: str
    address: str  # host:port the node advertised for gRPC/Raft
    tags: tuple[str, ...]
    modify_index: int

    def peer(self) -> Peer:
        return Peer(address=self.address, node_id=self.node_id)

    @property
    def in_running_cluster(self) -> bool:
        return any(tag in MEMBER_TAGS for tag in self.tags)


def members_from_health(entries: Iterable[dict[str, Any]]) -> list[Member]:
    """Members from /v1/health/service entries, deduplicated by node id, sorted by it.

    Of two registrations of one node id the most recently modified wins: it is the
    one the node keeps re-asserting.
    """
    newest: dict[str, Member] = {}
    for entry in entries:
        service, node = entry["Service"], entry.get("Node") or {}
        node_id = (service.get("Meta") or {}).get("node_id") or service["ID"]
        host = service.get("Address") or node.get("Address") or ""
        member = Member(
            node_id=node_id,
            address=f"[{host}]:{service['Port']}" if ":" in host else f"{host}:{service['Port']}",
            tags=tuple(service.get("Tags") or ()),
            modify_index=int(service.get("ModifyIndex", 0)),
        )
        known = newest.get(node_id)
        if known is None or member.modify_index > known.modify_index:
            newest[node_id] = member
    return [newest[node_id] for node_id in sorted(newest)]


async def passing_members(agent: ConsulAgent, operation: str) -> list[Member]:
    """The members whose every check passes (``/v1/health/service/<name>?passing``)."""
    name = agent.settings.service_name
    _index, entries = await agent.call(
        operation, lambda client: client.health.service(name, passing=True)
    )
    return members_from_health(entries)


def quorum_of(count: int) -> int:
    return count // 2 + 1
