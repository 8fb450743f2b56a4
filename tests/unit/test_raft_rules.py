"""Raft's rules where pysyncobj departs from them: on a follower message by message, and a
leader that wakes from a pause.

The real replication runs over gRPC between processes (tests/cluster/test_nemesis.py
finds what breaks there); a late or resent message cannot be delivered in a chosen
order over it. Here one real ``PreVoteSyncObj`` (the class the plugin runs) gets
append_entries messages in exactly the order a reordering network would give, through
``RecordingTransportFake``: a fake transport that records replies and sends nothing.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from pysyncobj import SyncObjConf
from pysyncobj.transport import Transport

from loadtest_supervisor.plugins import raft  # noqa: F401 (pysyncobj only through the plugin)
from loadtest_supervisor.plugins.raft.prevote import PreVoteSyncObj


class RecordingTransportFake(Transport):
    """Fake transport: records what the node sends, delivers nothing."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sent: list[dict[str, Any]] = []

    def send(self, node: Any, message: dict[str, Any]) -> bool:
        self.sent.append(message)
        return True


@pytest.fixture
def follower() -> Iterator[PreVoteSyncObj]:
    node = PreVoteSyncObj(
        "127.0.0.1:1",
        ["127.0.0.1:2"],
        SyncObjConf(autoTick=False),
        transportClass=RecordingTransportFake,
    )
    yield node
    node.destroy()


def entry(index: int, term: int) -> tuple[bytes, int, int]:
    return (f"cmd-{index}-{term}".encode(), index, term)


def append(
    follower: PreVoteSyncObj,
    prev: tuple[int, int],
    entries: list[tuple[bytes, int, int]],
    *,
    term: int = 1,
    commit: int = 0,
) -> dict[str, Any]:
    """Deliver one append_entries from the leader and return the follower's reply."""
    transport = follower._SyncObj__transport
    transport.sent.clear()
    leader = next(iter(follower._SyncObj__otherNodes))
    message = {
        "type": "append_entries",
        "term": term,
        "commit_index": commit,
        "entries": entries,
        "prevLogIdx": prev[0],
        "prevLogTerm": prev[1],
    }
    follower._SyncObj__onMessageReceived(leader, message)
    (reply,) = transport.sent
    return reply


def log_of(follower: PreVoteSyncObj) -> list[tuple[int, int]]:
    return [(index, term) for _, index, term in follower._SyncObj__raftLog[1:]]


def test_a_late_shorter_message_does_not_cut_entries_already_acknowledged(follower):
    first = append(follower, (1, 0), [entry(2, 1), entry(3, 1), entry(4, 1)])
    assert first["success"] and first["next_node_idx"] == 5 and first["term"] == 1

    # A resend (the leader went back on nextIndex) carrying only entry 2 arrives after
    # the follower acknowledged up to 4: the leader counts 4 as replicated, so it stays.
    late = append(follower, (1, 0), [entry(2, 1)])

    assert log_of(follower) == [(2, 1), (3, 1), (4, 1)]
    assert late["success"] and late["next_node_idx"] == 3  # what this message matched


def test_a_late_heartbeat_keeps_the_entries_after_it(follower):
    append(follower, (1, 0), [entry(2, 1), entry(3, 1)])
    reply = append(follower, (1, 0), [])
    assert log_of(follower) == [(2, 1), (3, 1)]
    assert reply["success"] and reply["next_node_idx"] == 2


def test_a_conflicting_entry_and_everything_after_it_are_replaced(follower):
    append(follower, (1, 0), [entry(2, 1), entry(3, 1), entry(4, 1)])
    reply = append(follower, (2, 1), [entry(3, 1), entry(4, 2)], term=2)
    assert log_of(follower) == [(2, 1), (3, 1), (4, 2)]
    assert reply["success"] and reply["next_node_idx"] == 5
    assert follower._SyncObj__raftLog[-1][0] == b"cmd-4-2"


def test_a_mismatch_at_prev_is_answered_with_reset(follower):
    append(follower, (1, 0), [entry(2, 1)])
    reply = append(follower, (2, 2), [entry(3, 2)], term=2)
    assert not reply["success"] and reply["reset"]
    assert log_of(follower) == [(2, 1)]


def test_the_commit_index_stops_at_what_the_message_matched(follower):
    # A deposed leader holds entry 3 of its old term; the new leader's heartbeat matches
    # only up to 2 and carries commit index 3 (its own entry 3, of term 2).
    append(follower, (1, 0), [entry(2, 1), entry(3, 1)])
    append(follower, (2, 1), [], term=2, commit=3)
    assert follower.raftCommitIndex == 2
    append(follower, (2, 1), [entry(3, 2)], term=2, commit=3)
    assert follower.raftCommitIndex == 3
    assert follower._SyncObj__raftLog[-1][0] == b"cmd-3-2"


def test_a_snapshot_in_parts_commits_nothing_of_the_old_log(follower):
    # A node back from a partition holds entries of its old term past what the new
    # leader matched; the leader, whose log was compacted meanwhile, sends a snapshot.
    append(follower, (1, 0), [entry(2, 1), entry(3, 1), entry(4, 1)], commit=2)
    assert follower.raftCommitIndex == 2
    leader = next(iter(follower._SyncObj__otherNodes))
    part = {"type": "append_entries", "term": 2, "commit_index": 9, "serialized": None}
    follower._SyncObj__onMessageReceived(leader, part)  # not the last part: nothing loaded
    assert follower.raftCommitIndex == 2
    assert follower._getLeader() == leader  # the rest of the message still counts


def test_a_large_entry_already_held_does_not_cut_the_log(follower):
    append(follower, (1, 0), [entry(2, 1), entry(3, 1)])
    leader = next(iter(follower._SyncObj__otherNodes))
    data = pickle.dumps(entry(2, 1))
    half = len(data) // 2
    header = {"type": "append_entries", "term": 1, "commit_index": 0}
    header |= {"prevLogIdx": 1, "prevLogTerm": 0}
    follower._SyncObj__onMessageReceived(
        leader, {**header, "transmission": "start", "data": data[:half]}
    )
    follower._SyncObj__transport.sent.clear()
    follower._SyncObj__onMessageReceived(
        leader, {**header, "transmission": "finish", "data": data[half:]}
    )
    assert log_of(follower) == [(2, 1), (3, 1)]
    (reply,) = follower._SyncObj__transport.sent
    assert reply["success"] and reply["next_node_idx"] == 3


def test_a_leader_ignores_a_reply_of_another_term(follower):
    follower._SyncObj__setCurrentTerm(3, None)
    follower._SyncObj__onBecomeLeader()
    peer = next(iter(follower._SyncObj__otherNodes))
    stale = {"type": "next_node_idx", "next_node_idx": 9, "reset": False, "success": True}
    follower._SyncObj__onMessageReceived(peer, {**stale, "term": 2})
    follower._SyncObj__onMessageReceived(peer, stale)  # an older version's: no term
    assert follower._SyncObj__raftMatchIndex[peer] == 0
    follower._SyncObj__onMessageReceived(peer, {**stale, "next_node_idx": 2, "term": 3})
    assert follower._SyncObj__raftMatchIndex[peer] == 1


def test_a_leader_whose_ticks_stopped_steps_down_when_it_wakes(follower):
    """SIGSTOP or a paused VM: replies sent before the pause reach the leader as it
    wakes and would keep it leading its old term; it steps down instead."""
    follower._SyncObj__setCurrentTerm(3, None)
    follower._SyncObj__onBecomeLeader()
    follower._onTick(0.0)
    assert follower._isLeader()  # ticking on time: still the leader
    fallback = follower._getConf().leaderFallbackTimeout
    follower._election.last_tick -= fallback + 0.5  # as if stopped that long
    follower._onTick(0.0)
    assert not follower._isLeader() and follower._getLeader() is None
    assert follower.raftCurrentTerm == 3
