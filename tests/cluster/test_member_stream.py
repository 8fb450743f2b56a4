"""``Raft.Follow`` on real gRPC servers with real peer authentication, in one process
(docs/design.md §12.1): a member finds the leader through a voter, receives the committed
state and its changes, counts as the leader's follower while its stream lives, and is
``forming`` once the leader stops leading."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loadtest_supervisor.cluster.contracts import NodeStatus
from loadtest_supervisor.cluster.grpc_server import GrpcServer, start_grpc_server
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.plugins.raft import member_feed
from loadtest_supervisor.plugins.raft.leader_probe import find_leader
from loadtest_supervisor.plugins.raft.member_feed import MemberFeed
from loadtest_supervisor.plugins.raft.member_follow import Followed, MemberFollower
from loadtest_supervisor.plugins.raft.transport import RaftLinkServicer
from tests.support.polling import eventually

SECRET = b"correct horse battery staple"
MEMBER = "127.0.0.1:1"  # the member's advertised address: the leader never dials it


class Voter:
    """A gRPC server with a member feed, told its status by the test."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.followers_changed = 0
        self.feed = MemberFeed(self._changed)
        self.server: GrpcServer | None = None

    def _changed(self) -> None:
        self.followers_changed += 1

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    async def start(self) -> Voter:
        servicer = RaftLinkServicer(self.feed)
        self.server = await start_grpc_server(
            "127.0.0.1:0",
            PeerAuth(self.node_id, SECRET, None),
            lambda s: loadtest_pb2_grpc.add_RaftServicer_to_server(servicer, s),
            max_message_bytes=4 << 20,
            max_streams=100,
            node_id=self.node_id,
            advertise_addr="127.0.0.1:0",
            version="test",
        )
        return self

    def tell(self, state: str, term: int, leader: Voter | None, voters: list[Voter]) -> None:
        ids = {v.address: v.node_id for v in voters}
        status = NodeStatus(
            state,  # type: ignore[arg-type]
            term,
            leader.address if leader else None,
            tuple(ids),
            leader is not None,
            node_ids=ids,
        )
        self.feed.status_changed(status, self.address, self.node_id)


def run(body: Callable[[list[Voter], list[Followed | None]], Awaitable[None]]) -> None:
    async def main() -> None:
        voters = [await Voter(f"v{i}").start() for i in range(2)]
        updates: list[Followed | None] = []
        try:
            await body(voters, updates)
        finally:
            for voter in voters:
                assert voter.server is not None
                await voter.server.stop(0)

    asyncio.run(main())


def member(
    voters: list[str], updates: list[Followed | None], node_id: str = "m1", address: str = MEMBER
) -> MemberFollower:
    me = loadtest_pb2.NodeInfo(node_id=node_id, address=address, workers=3)
    return MemberFollower(PeerAuth(node_id, SECRET, None), me, voters, updates.append)


def elect(voters: list[Voter], leader: Voter, term: int) -> None:
    """Tell every voter that ``leader`` leads ``term``."""
    for v in voters:
        v.tell("leader" if v is leader else "follower", term, leader, voters)


def latest(updates: list[Followed | None]) -> Followed | None:
    return updates[-1] if updates else None


def test_a_member_finds_the_leader_through_a_voter_and_follows_its_state() -> None:
    async def body(voters: list[Voter], updates: list[Followed | None]) -> None:
        leader, voter = voters
        elect(voters, leader, 3)
        state: dict[str, Any] = {"term": 3, "config": {"sha256": "a" * 64}, "run": None}
        leader.feed.state_applied(state)
        follower = member([voter.address], updates)  # it only knows the other voter
        follower.start()
        try:
            first = await eventually(
                lambda: (u := latest(updates)) and u.state.get("config") and u, timeout=10
            )
            assert (first.leader_address, first.leader_node_id, first.term) == (
                leader.address,
                "v0",
                3,
            )
            assert first.state == state
            assert set(first.voters) == {leader.address, voter.address}
            # The leader counts it as a follower, with its id and workers.
            assert {a: (f.node_id, f.workers) for a, f in leader.feed.followers().items()} == {
                MEMBER: ("m1", 3)
            }
            assert voter.feed.followers() == {}

            run_record = {"run_id": "r1", "shares": {}}
            leader.feed.state_applied({**state, "run": run_record})
            await eventually(
                lambda: (u := latest(updates)) and u.state.get("run") == run_record, timeout=5
            )

            # Deposed: the stream ends, the member is leaderless, the leader forgets it.
            leader.tell("follower", 4, voter, voters)
            await eventually(lambda: updates and updates[-1] is None, timeout=5)
            await eventually(lambda: leader.feed.followers() == {}, timeout=5)
            assert leader.followers_changed >= 2
        finally:
            await follower.stop()

    run(body)


def test_a_member_whose_id_is_not_the_callers_is_refused() -> None:
    async def body(voters: list[Voter], updates: list[Followed | None]) -> None:
        leader, _ = voters
        leader.tell("leader", 1, leader, voters)
        me = loadtest_pb2.NodeInfo(node_id="someone-else", address=MEMBER, workers=1)
        channel = PeerAuth("m1", SECRET, None).channel(leader.address)
        call = loadtest_pb2_grpc.RaftStub(channel).Follow(
            loadtest_pb2.FollowRequest(node=me),
            metadata=PeerAuth("m1", SECRET, None).call_metadata("/loadtest.v1.Raft/Follow"),
        )
        try:
            await call.read()
        except Exception as e:  # noqa: BLE001 (the code is what is checked)
            assert "PERMISSION_DENIED" in repr(e)
        else:
            raise AssertionError("a member claiming another id was served")
        finally:
            await channel.close()
        assert leader.feed.followers() == {}

    run(body)


def test_members_in_step_share_one_encoding_of_each_change(monkeypatch: Any) -> None:
    encoded: list[object] = []
    real_dumps = member_feed.json.dumps

    def counting_dumps(parts: object) -> str:
        encoded.append(parts)
        return real_dumps(parts)

    monkeypatch.setattr(member_feed.json, "dumps", counting_dumps)

    async def body(voters: list[Voter], updates: list[Followed | None]) -> None:
        leader, _ = voters
        elect(voters, leader, 2)
        state: dict[str, Any] = {"term": 2, "config": {"sha256": "b" * 64}, "run": None}
        leader.feed.state_applied(state)
        other: list[Followed | None] = []
        members = [
            member([leader.address], updates),
            member([leader.address], other, "m2", "127.0.0.1:2"),
        ]
        for m in members:
            m.start()
        try:
            for seen in (updates, other):
                await eventually(lambda seen=seen: latest(seen) is not None, timeout=10)
            await eventually(lambda: len(leader.feed.followers()) == 2, timeout=5)
            encoded.clear()
            run_record = {"run_id": "r2", "shares": {}}
            leader.feed.state_applied({**state, "run": run_record})
            for seen in (updates, other):
                await eventually(
                    lambda seen=seen: (u := latest(seen)) and u.state.get("run") == run_record,
                    timeout=5,
                )
            assert encoded == [{"run": run_record}], encoded  # once, for both members
        finally:
            for m in members:
                await m.stop()

    run(body)


def test_a_probe_learns_the_leader_and_its_voters_through_any_node_and_follows_nothing() -> None:
    async def body(voters: list[Voter], updates: list[Followed | None]) -> None:
        leader, voter = voters
        elect(voters, leader, 5)
        me = loadtest_pb2.NodeInfo(node_id="p1", address="127.0.0.1:3", workers=1)
        found = await find_leader(PeerAuth("p1", SECRET, None), me, [voter.address], 5.0)
        assert found is not None
        assert (found.leader_address, found.leader_node_id, found.term) == (
            leader.address,
            "v0",
            5,
        )
        assert set(found.voters) == {leader.address, voter.address}
        assert leader.feed.followers() == {} and leader.followers_changed == 0
        # Nobody leads: no answer, within the deadline.
        for v in voters:
            v.tell("follower", 6, None, voters)
        assert await find_leader(PeerAuth("p1", SECRET, None), me, [voter.address], 1.0) is None

    run(body)


def test_a_probe_during_an_election_is_answered_once_a_leader_is_known() -> None:
    async def body(voters: list[Voter], updates: list[Followed | None]) -> None:
        leader, voter = voters
        for v in voters:
            v.tell("follower", 7, None, voters)  # an election: nobody leads
        me = loadtest_pb2.NodeInfo(node_id="p2", address="127.0.0.1:4", workers=1)
        asking = asyncio.ensure_future(
            find_leader(PeerAuth("p2", SECRET, None), me, [voter.address], 5.0, hold=True)
        )
        await asyncio.sleep(0.3)
        assert not asking.done()  # held, not answered "no leader"
        elect(voters, leader, 8)
        found = await asyncio.wait_for(asking, 2.0)
        assert found is not None and (found.leader_address, found.term) == (leader.address, 8)

    run(body)
