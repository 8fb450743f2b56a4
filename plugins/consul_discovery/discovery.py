"""ConsulDiscovery: the Discovery a node gets with DISCOVERY_MODE=consul.

    start   register (tag ``forming``) -> registration worker + anti-entropy job
            + liveness loop (passes the TTL check, liveness.py)
            -> wait for the bootstrap decision (consul_bootstrap.py)
    peers   the first call answers the bootstrap decision; later calls the
            passing members, self excluded
    state   every transition re-tags the registration (consul_registration.py)
    stop    stop the job, the liveness loop and the worker, deregister, drop the
            bootstrap record

Consul trouble never stops the node: calls are retried, ``problem()`` says what
is wrong for the health JSON, and the last good peer list is kept.
"""

from __future__ import annotations

import logging

from loadtest_supervisor.cluster.contracts import Discovery, NodeContext, Peer
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.anti_entropy import AntiEntropy
from loadtest_supervisor.plugins.consul_discovery.consul_agent import (
    AGENT_ERRORS,
    AgentStatus,
    ConsulAgent,
)
from loadtest_supervisor.plugins.consul_discovery.consul_bootstrap import Bootstrap
from loadtest_supervisor.plugins.consul_discovery.consul_peers import passing_members, quorum_of
from loadtest_supervisor.plugins.consul_discovery.consul_registration import RegistrationKeeper
from loadtest_supervisor.plugins.consul_discovery.consul_settings import ConsulSettings
from loadtest_supervisor.plugins.consul_discovery.liveness import Liveness

log = logging.getLogger("loadtest.consul")


class ConsulDiscovery(Discovery):
    def __init__(self, settings: ConsulSettings, context: NodeContext) -> None:
        self.settings = settings
        self._context = context
        self._status = AgentStatus(settings)
        self._keeper = RegistrationKeeper(ConsulAgent(settings, self._status), context)
        self._anti_entropy = AntiEntropy(
            ConsulAgent(settings, self._status), self._keeper, context.node_id
        )
        self._liveness = Liveness(
            ConsulAgent(settings, self._status), self._keeper, context.node_id
        )
        self._peers_agent = ConsulAgent(settings, self._status)
        self._bootstrap = Bootstrap(self._peers_agent, context.node_id)
        self._initial: list[Peer] | None = None
        self._last: list[Peer] = []
        self._last_logged: tuple[str, ...] | None = None

    def problem(self) -> str | None:
        """What is wrong with Consul now (for the health JSON), None when all is well."""
        return self._status.problem()

    def state_changed(self, new: str, term: int, role: str | None = None) -> None:
        """The node's state or role changed: re-tag the registration (never blocks)."""
        self._keeper.want(new, term, role)

    async def start(self) -> None:
        """Register and decide the initial peers; waits while Consul is unreachable or
        too few nodes are visible, without blocking the loop."""
        self._keeper.start()
        self._anti_entropy.start()
        self._liveness.start()
        await self._keeper.registered()
        self._initial = await self._bootstrap.initial_peers()
        self._last = list(self._initial)

    async def peers(self) -> list[Peer]:
        if self._initial is not None:
            # Consensus starts with exactly the peers the bootstrap agreed on.
            initial, self._initial = self._initial, None
            return initial
        try:
            members = await passing_members(self._peers_agent, "peers")
        except AGENT_ERRORS:
            return list(self._last)
        if not any(m.node_id == self._context.node_id for m in members):
            # A view without this node is the agent's, not the cluster's: it was
            # restarted and has not been re-told yet, or this node's own check
            # fails. Acting on it would drop live members, so keep the last list.
            return list(self._last)
        self._say_what_is_seen([m.node_id for m in members])
        self._last = [m.peer() for m in members if m.node_id != self._context.node_id]
        return list(self._last)

    async def stop(self) -> None:
        self._anti_entropy.stop()
        await self._liveness.stop()
        await self._keeper.stop()
        await self._bootstrap.release()

    def _say_what_is_seen(self, node_ids: list[str]) -> None:
        seen = tuple(node_ids)
        if seen == self._last_logged:
            return
        self._last_logged = seen
        log_event(
            log,
            "consul_peers_seen",
            count=len(seen),
            ids=",".join(seen),
            quorum_needed=quorum_of(len(seen)),
        )
