"""A non-voting member's side of ``Raft.Follow`` (docs/design.md §12.1): find the leader
through the voters, then follow its committed state.

The member dials the leader it was last told of; else it asks the voters (those the
leader listed last, else the ones it started with) who leads, all at once
(``leader_probe``): the first leader to answer is followed, and a voter that does not
lead names the leader it knows, which is asked next. So a member talks to the voters
only while it looks for the leader, and then only to the leader. An update not received
within ``SILENCE_S`` (three of the leader's keep-alives) counts as the leader lost, as
does the end of the stream: the member is then ``forming`` until it follows a leader
again. While nobody leads (an election) a voter holds the question until it learns of
the new leader (``hold``, up to 1 s), and a round without an answer is asked again
0.2-0.4 s later, not after a growing back-off: at 100 nodes one that had grown to 1 s
made members follow a new leader 3-5 s after the old one died (bench.fleet).
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
from loadtest_supervisor.plugins.raft.leader_probe import FOLLOW_METHOD, Leadership, find_leader
from loadtest_supervisor.plugins.raft.member_feed import TIMELINE_APPEND
from loadtest_supervisor.plugins.raft.replicated_state import timeline_appended

logger = logging.getLogger(__name__)

SILENCE_S = 3.0
# Between two rounds of asking who leads while nobody does (an election takes ~0.5 s):
# drawn, so a fleet's members do not ask in waves.
RETRY_S = (0.2, 0.4)
FIND_TIMEOUT_S = 1.5


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
        while True:
            address, self._leader_hint = self._leader_hint, None
            if address is None:
                found = await find_leader(
                    self._auth, self._me, self._voters, FIND_TIMEOUT_S, hold=True
                )
                if found is None:
                    await asyncio.sleep(random.uniform(*RETRY_S))
                    continue
                address = found.leader_address
            followed = await self._follow(address)
            self._on_update(None)
            if not followed:  # it did not lead (any more): ask again, after a pause
                await asyncio.sleep(random.uniform(*RETRY_S))

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
