"""Static discovery: the peers are the ``CLUSTER_NODES`` list (``DISCOVERY_MODE=static``).

It only lists them; dialing with backoff until quorum is consensus's job. The list
may name this node too: that entry is recognised by the advertise address (also
after resolving host names) and left out.
"""

from __future__ import annotations

import asyncio
import socket

from loadtest_supervisor.cluster.contracts import Discovery, NodeContext, Peer
from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.hookspecs import hookimpl


@hookimpl
def loadtest_make_discovery(context: NodeContext) -> StaticDiscovery:
    return StaticDiscovery(list(context.settings.nodes), context.advertise_addr)


class StaticDiscovery(Discovery):
    def __init__(self, nodes: list[str], advertise_addr: str) -> None:
        self._nodes = nodes
        self._advertise_addr = advertise_addr
        self._peers: list[Peer] = []

    async def start(self) -> None:
        own = await _endpoints(self._advertise_addr)
        others: list[Peer] = []
        for address in dict.fromkeys(self._nodes):  # dedupe, keep order
            if address == self._advertise_addr or own & await _endpoints(address):
                continue
            others.append(Peer(address))
        self._peers = others

    async def peers(self) -> list[Peer]:
        return list(self._peers)

    async def stop(self) -> None:
        pass


async def _endpoints(address: str) -> set[tuple[str, int]]:
    """The (ip, port) pairs ``address`` resolves to; empty when it does not resolve
    (yet): such an entry is then someone else, never this node."""
    host, port = split_host_port(address)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {(info[4][0], port) for info in infos}
