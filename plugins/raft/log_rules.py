"""pysyncobj's ``SyncObj`` with Raft's log-replication rules where 0.3.17 departs from them.

The fault schedule (tests/cluster/test_nemesis.py) caught nodes applying different
commands at one index. Three departures of pysyncobj 0.3.17 from Raft (§5.3 of the
paper) let that happen; each is fixed here, at the seams pysyncobj offers, without
patching it:

- **A follower truncates only at a conflict.** pysyncobj deletes every entry after the
  message's ``prevLogIdx`` before appending the message's entries, even when they are
  the very entries it holds. A message that arrives late, or a resend after the leader
  went back on ``nextIndex``, with fewer entries than the follower already acknowledged,
  so cut entries that the leader counts as replicated (its ``matchIndex`` only grows):
  the leader then commits an entry a majority does not hold, and a later leader
  overwrites it (seed 183936). Raft deletes only from the first entry whose term
  differs, and keeps the rest.
- **A follower commits only what the message matched.** pysyncobj takes
  min(leader's commit, its own last log index), on every append_entries and on every
  part of a snapshot, so a node whose log still holds entries of an old term past the
  matched prefix applies them when a heartbeat or a snapshot's first part carries a
  higher commit index (seed 708286, twice). Raft takes min(leader's commit, index of
  the last entry the message matched or added); a snapshot matches nothing until its
  last part has replaced the log.
- **A leader counts only replies of its own term.** pysyncobj's ``next_node_idx``
  replies carry no term, so a reply held in a stream through a partition and delivered
  after it healed counted entries the follower no longer has. Replies now carry the
  term, and other terms' are dropped (so nodes of an older version do not replicate
  with this one: design §12).

Everything here runs on pysyncobj's tick thread, the only one that touches its state.
"""

from __future__ import annotations

import pickle
from typing import Any

from pysyncobj import SyncObj
from pysyncobj.node import Node

_LARGE_ENTRY_PARTS = ("start", "process")


class LogRulesSyncObj(SyncObj):
    """``SyncObj`` whose replication follows Raft's log rules (module doc).

    pysyncobj 0.3.17's private names (``_SyncObj__*``) are used on purpose: the version
    is pinned, and ``check_pysyncobj_internals`` fails at start if one went missing.
    """

    def _SyncObj__onMessageReceived(self, node: Node, message: dict[str, Any]) -> None:  # noqa: N802
        kind = message["type"]
        if kind == "next_node_idx" and message.get("term") != self.raftCurrentTerm:
            return  # another term's reply (module doc)
        if kind != "append_entries" or message["term"] < self.raftCurrentTerm:
            SyncObj._SyncObj__onMessageReceived(self, node, message)
            return
        committed = self._SyncObj__raftCommitIndex
        before = self._snapshot_mark()
        message = self._whole_entry(message)
        message, holds_more = self._past_what_matches(message)
        if holds_more:
            # Every entry of the message is in this log already and more follow it:
            # pysyncobj would cut those. Let it do all but the log part (follow the
            # leader, reset the timer, take the term), then acknowledge what matched.
            header = {k: v for k, v in message.items() if k not in ("prevLogIdx", "entries")}
            SyncObj._SyncObj__onMessageReceived(self, node, header)
            self._SyncObj__sendNextNodeIdx(
                node, nextNodeIdx=message["prevLogIdx"] + 1, success=True
            )
        else:
            SyncObj._SyncObj__onMessageReceived(self, node, message)
        self._commit_only_what_matches(message, committed, self._snapshot_mark() != before)

    def _snapshot_mark(self) -> tuple[Any, int]:
        """Changes when a snapshot from the leader replaced this node's log and state."""
        return self._SyncObj__raftLog[0], self._SyncObj__raftLastApplied

    def _whole_entry(self, message: dict[str, Any]) -> dict[str, Any]:
        """The last part of a large entry, as a message carrying the whole entry (what
        pysyncobj would unpickle itself: the peer is authenticated by the transport)."""
        if message.get("transmission") != "finish":
            return message
        data = self._SyncObj__recvTransmission + message["data"]
        self._SyncObj__recvTransmission = ""
        whole = {k: v for k, v in message.items() if k not in ("transmission", "data")}
        whole["entries"] = [pickle.loads(data)]  # noqa: S301 (authenticated peer, as above)
        return whole

    def _past_what_matches(self, message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Drop the message's leading entries that this log holds already (same index,
        same term), moving ``prevLogIdx`` past them, so pysyncobj truncates only from the
        first conflicting entry. Also says whether, with nothing left to append, this log
        holds entries past the message's that pysyncobj would cut."""
        if "prevLogIdx" not in message or message.get("transmission") in _LARGE_ENTRY_PARTS:
            return message, False
        last = self._SyncObj__getCurrentLogIndex()
        prev = message["prevLogIdx"]
        if last <= prev:
            return message, False
        held = self._SyncObj__getEntries(prev)
        if not held or held[0][2] != message["prevLogTerm"]:
            return message, False  # no match at prevLogIdx: pysyncobj answers "reset"
        terms = {entry[1]: entry[2] for entry in held}
        entries = message.get("entries", [])
        kept = 0
        while kept < len(entries) and terms.get(entries[kept][1]) == entries[kept][2]:
            kept += 1
        if kept:
            _, prev, prev_term = entries[kept - 1]
            message = {**message, "prevLogIdx": prev, "prevLogTerm": prev_term}
            message["entries"] = entries[kept:]
        return message, not message.get("entries") and last > prev

    def _commit_only_what_matches(
        self, message: dict[str, Any], committed: int, snapshot_loaded: bool
    ) -> None:
        """Raft's rule for a follower's commit index (module doc). A snapshot's parts carry
        the leader's commit index but match nothing of this log until the last part has
        replaced it: pysyncobj raised the commit index to its own last entry on every part,
        so a node holding entries of an old term applied them (seed 708286, again)."""
        if message.get("transmission") in _LARGE_ENTRY_PARTS:
            return  # pysyncobj leaves the commit index alone for these
        leader_commit = message["commit_index"]
        if "prevLogIdx" in message:
            matched = min(leader_commit, message["prevLogIdx"] + len(message.get("entries", [])))
        elif snapshot_loaded:  # the log is the snapshot's: committed entries only
            matched = min(leader_commit, self._SyncObj__getCurrentLogIndex())
        else:
            matched = 0
        now = self._SyncObj__raftCommitIndex
        allowed = max(min(committed, now), matched)
        if now > allowed:
            self._SyncObj__raftCommitIndex = allowed
            self._SyncObj__raftLog.setRaftCommitIndex(allowed)

    def _SyncObj__sendNextNodeIdx(  # noqa: N802 (pysyncobj's name)
        self,
        node: Node,
        reset: bool = False,
        nextNodeIdx: int | None = None,  # noqa: N803
        success: bool = False,
    ) -> None:
        """pysyncobj's reply to append_entries, stamped with this node's term."""
        if nextNodeIdx is None:
            nextNodeIdx = self._SyncObj__getCurrentLogIndex() + 1
        self._SyncObj__transport.send(
            node,
            {
                "type": "next_node_idx",
                "next_node_idx": nextNodeIdx,
                "reset": reset,
                "success": success,
                "term": self.raftCurrentTerm,
            },
        )
