"""A non-voting member's side of ``Raft.Follow`` (docs/design.md §12.1): find the leader
through a voter, then follow its committed state.

The member dials the leader it was last told of, else the voters in turn (those the
leader listed last, else the ones it started with). A voter that does not lead names the
leader it knows, which is dialled next, so a member talks to one voter at most and then
only to the leader. An update not received within ``SILENCE_S`` (three of the leader's
keep-alives) counts as the leader lost, as does the end of the stream: the member is
then ``forming`` until it follows a leader again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.raft.member_feed import TIMELINE_APPEND
from loadtest_supervisor.plugins.raft.replicated_state import timeline_appended

logger = logging.getLogger(__name__)

FOLLOW_METHOD = "/loadtest.v1.Raft/Follow"
SILENCE_S = 3.0
RETRY_MIN_S = 0.1
RETRY_MAX_S = 1.0


@dataclass(frozen=True)
class Leadership:
    """A leader's own word: its address, id, term and voters."""

    leader_address: str
    leader_node_id: str
    term: int
    voters: tuple[str, ...]


@dataclass(frozen=True)
class Followed(Leadership):
    """What the leader last said, and the whole state it has committed."""

    state: dict[str, Any]


class MemberFollower:
    """Runs on the event loop; ``on_update`` gets each ``Followed`` and None when the
    leader is lost."""

    def __init__(
        self,
        auth: PeerAuth,
        me: loadtest_pb2.NodeInfo,
        voters: list[str],
        on_update: Callable[[Followed | None], None],
        leader: str | None = None,
    ) -> None:
        self._auth = auth
        self._me = me
        self._voters = [v for v in voters if v != me.address]
        # Members start at different voters, so finding the leader spreads over them.
        self._next_voter = random.randrange(len(self._voters)) if self._voters else 0
        self._leader_hint = leader
        self._on_update = on_update
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="raft-member-follow")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        backoff = RETRY_MIN_S
        while True:
            address = self._leader_hint or self._pick_voter()
            self._leader_hint = None
            if address is None:
                await asyncio.sleep(RETRY_MAX_S)
                continue
            followed = await self._follow(address)
            self._on_update(None)
            if followed:
                backoff = RETRY_MIN_S
            if self._leader_hint is None or not followed:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)

    def _pick_voter(self) -> str | None:
        if not self._voters:
            return None
        self._next_voter = (self._next_voter + 1) % len(self._voters)
        return self._voters[self._next_voter]

    async def _follow(self, address: str) -> bool:
        """Follow ``address`` until the stream ends; True if it led at least once."""
        followed = False
        state: dict[str, Any] = {}
        channel = self._auth.channel(address)
        call = loadtest_pb2_grpc.RaftStub(channel).Follow(
            loadtest_pb2.FollowRequest(node=self._me),
            metadata=self._auth.call_metadata(FOLLOW_METHOD),
        )
        try:
            while True:
                update = await asyncio.wait_for(call.read(), SILENCE_S)
                if update is grpc.aio.EOF:
                    return followed
                if not update.leading:
                    if update.leader_address and update.leader_address != address:
                        self._leader_hint = update.leader_address
                    return followed
                if not followed:
                    log_event(logger, "member_follows", leader=address, term=update.term)
                followed = True
                if update.parts_json:
                    parts = json.loads(update.parts_json)
                    if not isinstance(parts, dict):
                        raise ValueError("parts_json is not a JSON object")
                    appends = parts.pop(TIMELINE_APPEND, [])
                    state = {**state, **parts}
                    for append in appends:
                        state["timeline"] = timeline_appended(state.get("timeline") or {}, append)
                voters = [v for v in update.voters if v != self._me.address]
                if voters:
                    self._voters = voters
                self._on_update(
                    Followed(
                        leader_address=address,
                        leader_node_id=update.leader_node_id,
                        term=update.term,
                        voters=tuple(update.voters),
                        state=state,
                    )
                )
        except (grpc.aio.AioRpcError, TimeoutError, ValueError) as e:
            why = e.code().name if isinstance(e, grpc.aio.AioRpcError) else type(e).__name__
            log_event(logger, "member_follow_ended", logging.DEBUG, peer=address, why=why)
            return followed
        finally:
            call.cancel()
            await asyncio.shield(channel.close())
