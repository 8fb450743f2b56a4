"""Who leads, and who votes: what a node asks before it takes a role (docs/design.md
§12.1, autopilot).

A node asks before it starts Raft, and again while it is a voter without a leader: a
voter replaced while it was away is no member of the leader's configuration, so the
leader sends it nothing, and only asking tells it to come back as a member. The
question is a ``Raft.Follow`` probe: one update, then the end, and the caller is not
registered as a follower. Every node answers; one that does not lead names the leader
it knows, which is asked next (once). The addresses are asked in parallel, so an
unreachable one costs nothing but the overall deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc

FOLLOW_METHOD = "/loadtest.v1.Raft/Follow"


@dataclass(frozen=True)
class Leadership:
    """A leader's own word: its address, id, term and voters."""

    leader_address: str
    leader_node_id: str
    term: int
    voters: tuple[str, ...]


async def find_leader(
    auth: PeerAuth,
    me: loadtest_pb2.NodeInfo,
    addresses: Iterable[str],
    timeout: float,
    hold: bool = False,
) -> Leadership | None:
    """The leader's answer, or None if no leader answered within ``timeout`` seconds.
    With ``hold``, a node that knows no leader answers once it learns of one (an
    election), within a second, rather than at once."""
    request = loadtest_pb2.FollowRequest(node=me, probe=True, hold=hold)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            return await _ask_all(auth, request, [a for a in addresses if a != me.address])
    return None


async def _ask_all(
    auth: PeerAuth, request: loadtest_pb2.FollowRequest, addresses: list[str]
) -> Leadership | None:
    asked = set(addresses)
    pending = {asyncio.create_task(_ask(auth, request, a)) for a in asked}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                address, update = task.result()
                if update is None:
                    continue
                if update.leading:
                    return Leadership(
                        address, update.leader_node_id, update.term, tuple(update.voters)
                    )
                hint = update.leader_address
                if hint and hint not in asked and hint != request.node.address:
                    asked.add(hint)
                    pending.add(asyncio.create_task(_ask(auth, request, hint)))
        return None
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _ask(
    auth: PeerAuth, request: loadtest_pb2.FollowRequest, address: str
) -> tuple[str, loadtest_pb2.FollowUpdate | None]:
    channel = auth.channel(address)
    try:
        call = loadtest_pb2_grpc.RaftStub(channel).Follow(
            request, metadata=auth.call_metadata(FOLLOW_METHOD)
        )
        update = await call.read()
        return address, None if update is grpc.aio.EOF else update
    except grpc.aio.AioRpcError:
        return address, None  # down, restarting or refusing: another may answer
    finally:
        await asyncio.shield(channel.close())
