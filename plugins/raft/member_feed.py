"""The leader's side of non-voting members (docs/design.md §12.1): ``Raft.Follow``.

A member opens one server stream to the leader and receives the committed state: every
part first, then the parts that changed since the update before. Applying a command
builds a new dict that keeps the unchanged parts' objects (``replicated_state.
apply_command``), so identity tells exactly which parts changed. Only the latest state
is ever sent: a member may see two commands' effects at once, never an uncommitted state
and never one out of order. While nothing changes an empty update goes out every
``KEEPALIVE_S``, so a member tells a quiet leader from a silent one. A node that does not
lead with quorum answers ``leading=false`` with the leader it knows, and a leader that
stops leading ends every stream the same way. A probe gets the first update without the
state, and ends: it is how a node learns who leads and who votes (``leader_probe``); one
that asks to be held, to a node that knows no leader, waits until it learns of one, for
up to ``PROBE_HOLD_S``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from loadtest_supervisor.cluster.contracts import NodeStatus
from loadtest_supervisor.cluster.peer_auth import authenticated_node_id
from loadtest_supervisor.cluster.wire import loadtest_pb2
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.raft.replicated_state import APPENDS

logger = logging.getLogger(__name__)

KEEPALIVE_S = 1.0
# Updates built for members' states, kept for the next member in the same state: a
# few states a second, and members a state or two behind at most.
MAX_HELD_UPDATES = 16
# A probe to a node that knows no leader waits this long for one (an election takes
# ~0.5 s), then is answered "no leader".
PROBE_HOLD_S = 1.0
# The timeline only grows (replicated_state): a member gets the points and events it
# lacks, as the log carries them, not the whole timeline each second.
TIMELINE_APPEND = next(k for k, part in APPENDS.items() if part == "timeline")


@dataclass(frozen=True)
class Follower:
    """A member with a live stream to this leader."""

    node_id: str
    workers: int


@dataclass(frozen=True)
class _Lead:
    term: int
    address: str
    node_id: str


class MemberFeed:
    """Serves ``Raft.Follow`` on the event loop; told of every status and applied state
    by ``RaftConsensus``, and tells it when the set of followers changes."""

    def __init__(self, on_followers_changed: Callable[[], None]) -> None:
        self._on_followers_changed = on_followers_changed
        self._lead: _Lead | None = None
        self._voters: tuple[str, ...] = ()
        self._known_leader = ("", "")
        self._state: dict[str, Any] = {}
        self._followers: dict[str, tuple[object, Follower]] = {}
        self._wakes: set[asyncio.Event] = set()
        self._updates: dict[tuple[Any, ...], tuple[dict, dict, loadtest_pb2.FollowUpdate]] = {}

    def followers(self) -> dict[str, Follower]:
        """The members following this node now, by advertised address."""
        return {address: follower for address, (_, follower) in self._followers.items()}

    def status_changed(self, status: NodeStatus, own_address: str, own_id: str) -> None:
        leader = status.leader or ""
        known = (leader, status.node_ids.get(leader, "") if leader else "")
        lead = _Lead(status.term, own_address, own_id) if status.state == "leader" else None
        voters = tuple(status.members)
        if (lead, voters, known) != (self._lead, self._voters, self._known_leader):
            self._lead, self._voters, self._known_leader = lead, voters, known
            self._wake_all()

    def state_applied(self, state: dict[str, Any]) -> None:
        self._state = state
        self._wake_all()

    async def follow(
        self, request: loadtest_pb2.FollowRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[loadtest_pb2.FollowUpdate]:
        member = request.node
        caller = authenticated_node_id(context)
        if caller is not None and member.node_id != caller:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "node id differs from the caller"
            )
        if not member.address or not member.node_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "FollowRequest needs node.address"
            )
        if request.probe and request.hold and self._lead is None and not self._known_leader[0]:
            await self._until_a_leader_is_known(PROBE_HOLD_S)
        lead = self._lead
        if lead is None:
            yield self._not_leading()
            return
        if request.probe:
            yield loadtest_pb2.FollowUpdate(
                leading=True,
                leader_address=lead.address,
                leader_node_id=lead.node_id,
                term=lead.term,
                voters=self._voters,
            )
            return
        token = object()
        wake = asyncio.Event()
        self._wakes.add(wake)
        self._followers[member.address] = (token, Follower(member.node_id, member.workers or 1))
        log_event(logger, "member_following", member=member.node_id, address=member.address)
        self._on_followers_changed()
        sent: dict[str, Any] = {}
        try:
            while self._lead == lead:
                state, voters = self._state, self._voters
                update = self._update(lead, voters, sent, state)
                sent = state
                yield update
                wake.clear()
                if self._state is state and self._lead == lead and self._voters == voters:
                    try:
                        await asyncio.wait_for(wake.wait(), KEEPALIVE_S)
                    except TimeoutError:
                        pass
            yield self._not_leading()
        finally:
            self._wakes.discard(wake)
            held = self._followers.get(member.address)
            if held is not None and held[0] is token:  # not a newer stream of the same member
                del self._followers[member.address]
                log_event(logger, "member_left", member=member.node_id, address=member.address)
                self._on_followers_changed()

    async def _until_a_leader_is_known(self, timeout: float) -> None:
        """Hold a probe while an election is on, so the member hears of the new leader
        as soon as this node does, without asking again and again."""
        wake = asyncio.Event()
        self._wakes.add(wake)
        try:
            async with asyncio.timeout(timeout):
                while self._lead is None and not self._known_leader[0]:
                    await wake.wait()
                    wake.clear()
        except TimeoutError:
            pass
        finally:
            self._wakes.discard(wake)

    def _update(
        self, lead: _Lead, voters: tuple[str, ...], sent: dict[str, Any], state: dict[str, Any]
    ) -> loadtest_pb2.FollowUpdate:
        """The update from ``sent`` to ``state``, built once for every member that holds
        ``sent``: members move in step, so at 100 members one JSON encoding serves all
        of them instead of 100 of the same parts."""
        key = (id(sent), id(state), lead, voters)
        held = self._updates.get(key)
        if held is not None and held[0] is sent and held[1] is state:
            return held[2]
        parts = {k: v for k, v in state.items() if k not in sent or sent[k] is not v}
        if "timeline" in parts and (appends := timeline_appends(sent, state)) is not None:
            del parts["timeline"]
            parts[TIMELINE_APPEND] = appends
        update = loadtest_pb2.FollowUpdate(
            leading=True,
            leader_address=lead.address,
            leader_node_id=lead.node_id,
            term=lead.term,
            voters=voters,
            parts_json=json.dumps(parts) if parts else "",
        )
        if len(self._updates) >= MAX_HELD_UPDATES:
            self._updates.clear()
        # The pair is held with it, so neither id is reused while the key stands.
        self._updates[key] = (sent, state, update)
        return update

    def _not_leading(self) -> loadtest_pb2.FollowUpdate:
        address, node_id = self._known_leader
        return loadtest_pb2.FollowUpdate(
            leading=False, leader_address=address, leader_node_id=node_id
        )

    def _wake_all(self) -> None:
        for wake in self._wakes:
            wake.set()


def timeline_appends(sent: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The appends that turn the timeline a member holds (``sent``'s) into ``state``'s,
    in the order the leader's were made; None when it did not only grow (send it whole).

    Applying an append keeps the held points' objects, so a run's old points are a
    prefix of its new ones by identity.
    """
    held = sent.get("timeline") or {}
    appends = []
    for run_id, timeline in (state.get("timeline") or {}).items():
        old = held.get(run_id) or {"points": [], "events": []}
        points, events = timeline["points"], timeline["events"]
        known = len(old["points"])
        if len(points) < known or (known and points[known - 1] is not old["points"][-1]):
            return None
        if known < len(points) or len(old["events"]) < len(events) or run_id not in held:
            appends.append(
                {
                    "run_id": run_id,
                    "points": points[known:],
                    "events": events[len(old["events"]) :],
                }
            )
    return appends
