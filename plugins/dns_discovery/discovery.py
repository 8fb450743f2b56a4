"""DnsDiscovery: the Discovery a node gets with DISCOVERY_MODE=dns.

    start   resolve every DISCOVERY_DNS_INTERVAL in a task; return once an answer
            lists this node and at least DISCOVERY_DNS_EXPECT addresses
    peers   the last good answer, this node left out (never waits for DNS)
    stop    cancel the task

Why wait for EXPECT addresses: consensus starts once, with the peers it is given,
and a node that saw only itself would make itself a one-node cluster and lead it,
while the others formed another (two leaders). Consul servers' bootstrap_expect
solves the same problem the same way: set it to the number of nodes started together.
A node that joins a running cluster sees at least that many and is added by the leader.

Why an answer without this node is not used: it is the DNS server's view, not the
cluster's (the node is not registered or not ready yet, or the server forgot it),
like the Consul plugin's view without itself.

Flapping answers cost no quorum: a failed lookup (NXDOMAIN, timeout, SERVFAIL)
keeps the last good answer; a short answer is handed on, and consensus removes a
member only after it has been missing for CLUSTER_MEMBER_REMOVE_AFTER (an empty
peer list never removes anyone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

from loadtest_supervisor.cluster.contracts import Discovery, NodeContext, Peer
from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.dns_discovery.dns_answers import (
    Endpoint,
    canonical_ip,
    peer_address,
)
from loadtest_supervisor.plugins.dns_discovery.dns_lookup import DnsLookup, LookupFailed
from loadtest_supervisor.plugins.dns_discovery.dns_settings import DnsSettings

log = logging.getLogger("loadtest.dns")

# A problem that lasts is logged again this often, not at every lookup.
REPEAT_PROBLEM_S = 30.0


class DnsDiscovery(Discovery):
    def __init__(self, settings: DnsSettings, context: NodeContext) -> None:
        self.settings = settings
        self._advertise_addr = context.advertise_addr
        self._lookup = DnsLookup(settings)
        self._own: set[Endpoint] = set()
        self._seen: frozenset[Endpoint] | None = None  # the last good answer
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._problem: str | None = None
        self._problem_logged_at = 0.0

    def problem(self) -> str | None:
        """Why the last lookup was not used (for the health JSON), None when it was."""
        return self._problem

    async def start(self) -> None:
        """Resolve until an answer lists this node and EXPECT addresses; may wait
        indefinitely (the node's health says why meanwhile) without blocking the loop."""
        self._own = await own_endpoints(self._advertise_addr)
        self._task = asyncio.get_running_loop().create_task(self._keep_resolving())
        await self._ready.wait()

    async def peers(self) -> list[Peer]:
        own = self._own
        seen = self._seen or frozenset()
        return [Peer(peer_address(e)) for e in sorted(seen - own)]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def resolve_once(self) -> None:
        """One lookup, and what it means for the peers and ``problem()``."""
        try:
            found = await self._lookup.endpoints()
        except LookupFailed as exc:
            self._fail(f"{self._lookup.what}: {exc}; keeping the last answer")
            return
        listed = ",".join(peer_address(e) for e in sorted(found))
        if not found & self._own:
            self._fail(
                f"{self._lookup.what} does not list this node ({self._advertise_addr}) "
                f"but {listed}; keeping the last answer (not registered or not ready yet? "
                "the advertised address must be one the name gives)"
            )
            return
        if not self._ready.is_set() and len(found) < self.settings.expect:
            self._fail(
                f"{self._lookup.what} lists {len(found)} of the {self.settings.expect} "
                f"nodes DISCOVERY_DNS_EXPECT waits for: {listed}"
            )
            return
        if self._problem is not None:
            log_event(log, "dns_lookup_ok", name=self.settings.name)
            self._problem = None
        if frozenset(found) != self._seen:
            log_event(
                log,
                "dns_peers_seen",
                name=self.settings.name,
                count=len(found),
                addresses=listed,
            )
        self._seen = frozenset(found)
        self._ready.set()

    async def _keep_resolving(self) -> None:
        while True:
            try:
                await self.resolve_once()
            except Exception as exc:  # a bug here must not end discovery for good
                self._fail(f"{self._lookup.what}: {exc!r}")
            await asyncio.sleep(self.settings.interval_s)

    def _fail(self, problem: str) -> None:
        now = time.monotonic()
        if problem != self._problem or now - self._problem_logged_at >= REPEAT_PROBLEM_S:
            log_event(
                log,
                "dns_lookup_unusable",
                level=logging.WARNING,
                name=self.settings.name,
                problem=problem,
            )
            self._problem_logged_at = now
        self._problem = problem


async def own_endpoints(advertise_addr: str) -> set[Endpoint]:
    """The (ip, port) pairs this node's advertised address stands for; a host name is
    resolved (in a thread, by the system) the way static discovery does it."""
    host, port = split_host_port(advertise_addr)
    try:
        return {(canonical_ip(host), port)}
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {(canonical_ip(str(info[4][0]).split("%")[0]), port) for info in infos}
