"""How the first members of a brand-new cluster agree on who they are (docs/design.md §13).

Consensus is started once with an initial peer list, and two nodes that start it
with different lists can each believe they are a majority. So, before consensus
starts, a node decides, in this order:

1. A passing registration of another node is tagged ``leader`` or ``follower``:
   a cluster is running. Start with the passing members; the leader adds this
   node through a Raft membership change.
2. The bootstrap record exists (KV ``loadtest-supervisor/<service>/bootstrap``):
   if it names this node, start with exactly the members it lists; if not, wait
   for step 1 (the listed members are forming the cluster this node will join).
3. At least CONSUL_BOOTSTRAP_EXPECT passing registrations are visible, this node
   among them: write the record, listing them, with a check-and-set that only
   one writer wins. Everyone, the winner included, then goes to step 2.

The record is held by a Consul session tied to its writer's health check, with
behaviour ``delete``: when the writer dies or leaves, the record goes, so a
record never outlives the cluster that wrote it and a later brand-new cluster
bootstraps afresh. Until a node has decided it keeps looking, with backoff, and
logs what it sees.
"""

from __future__ import annotations

import asyncio
import json
import logging

from loadtest_supervisor.cluster.contracts import Peer
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.consul_agent import AGENT_ERRORS, ConsulAgent
from loadtest_supervisor.plugins.consul_discovery.consul_peers import (
    Member,
    passing_members,
    quorum_of,
)

log = logging.getLogger("loadtest.consul")

RETRY_FIRST_S = 0.25
RETRY_MAX_S = 2.0
OPERATION = "bootstrap"


def record_key(service_name: str) -> str:
    return f"loadtest-supervisor/{service_name}/bootstrap"


class Bootstrap:
    """Decides this node's initial peers; holds the record's session if it wrote it."""

    def __init__(self, agent: ConsulAgent, node_id: str) -> None:
        self._agent = agent
        self._node_id = node_id
        self._expect = agent.settings.bootstrap_expect
        self._key = record_key(agent.settings.service_name)
        self._session: str | None = None
        self._last_seen: tuple[str, ...] | None = None

    async def initial_peers(self) -> list[Peer]:
        """Wait, retrying with backoff, until this node knows whom to start with."""
        delay = RETRY_FIRST_S
        while True:
            try:
                decided = await self._decide()
            except AGENT_ERRORS:
                decided = None  # AgentStatus has said what went wrong
            if decided is not None:
                return decided
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, RETRY_MAX_S)

    async def release(self) -> None:
        """Destroy the record's session, if this node wrote it (the record goes with it)."""
        if self._session is None:
            return
        session, self._session = self._session, None
        try:
            await self._agent.call(OPERATION, lambda client: client.session.destroy(session))
        except AGENT_ERRORS:
            return  # the session dies anyway once this node's check is gone

    async def _decide(self) -> list[Peer] | None:
        members = await passing_members(self._agent, OPERATION)
        self._say_what_is_seen(members)
        others = [m for m in members if m.node_id != self._node_id]
        running = [m for m in others if m.in_running_cluster]
        if running:
            log_event(
                log,
                "consul_bootstrap_join",
                members=",".join(m.node_id for m in others),
                running=",".join(f"{m.node_id}:{m.tags[0]}" for m in running),
            )
            return [m.peer() for m in others]
        record = await self._read_record()
        if record is None and len(members) >= self._expect and len(others) < len(members):
            record = await self._write_record(members)
        if record is None:
            return None
        if self._node_id not in record:
            log_event(
                log,
                "consul_bootstrap_waiting",
                reason="not in the bootstrap record; waiting for its members to elect a leader",
                record=",".join(record),
            )
            return None
        log_event(log, "consul_bootstrap_member", record=",".join(record), expect=self._expect)
        return [
            Peer(address=address, node_id=node_id)
            for node_id, address in record.items()
            if node_id != self._node_id
        ]

    async def _read_record(self) -> dict[str, str] | None:
        key = self._key
        _index, entry = await self._agent.call(OPERATION, lambda client: client.kv.get(key))
        if entry is None or not entry.get("Value"):
            return None
        return dict(json.loads(entry["Value"])["members"])

    async def _write_record(self, members: list[Member]) -> dict[str, str] | None:
        """Try to be the one writer; returns the record written, None if another won."""
        check = f"service:{self._node_id}"
        name = f"loadtest bootstrap {self._agent.settings.service_name}"
        session = await self._agent.call(
            OPERATION,
            lambda client: client.session.create(
                name=name, checks=["serfHealth", check], lock_delay=0, behavior="delete"
            ),
        )
        record = {m.node_id: m.address for m in members}
        value = json.dumps({"members": sorted(record.items()), "writer": self._node_id})
        key = self._key
        won = await self._agent.call(
            OPERATION, lambda client: client.kv.put(key, value, acquire=session)
        )
        if not won:
            await self._agent.call(OPERATION, lambda client: client.session.destroy(session))
            return None
        self._session = session
        log_event(log, "consul_bootstrap_record_written", key=key, members=",".join(record))
        return record

    def _say_what_is_seen(self, members: list[Member]) -> None:
        seen = tuple(f"{m.node_id}:{m.tags[0] if m.tags else ''}" for m in members)
        if seen == self._last_seen:
            return
        self._last_seen = seen
        log_event(
            log,
            "consul_peers_seen",
            count=len(members),
            ids=",".join(m.node_id for m in members),
            tags=",".join(seen),
            expect=self._expect,
            quorum_needed=quorum_of(self._expect),
            self_passing=any(m.node_id == self._node_id for m in members),
        )
