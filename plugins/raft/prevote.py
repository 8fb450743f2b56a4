"""pysyncobj's ``SyncObj`` with pre-vote, leader stickiness and durable term and vote.

pysyncobj 0.3.17 (pinned) is plain Raft: a follower whose election timer fires raises
its term and asks for votes, and any node that hears a higher term steps down. So a
node cut off for a while (its timer fired, its term rose) or restarted with a higher
term deposes a healthy leader the moment it is back. This subclass adds what the Raft
thesis (§9.6, §4.2.3) and etcd (PreVote, CheckQuorum) add, at four seams of pysyncobj:

- **Pre-vote** (``_onTick``, before pysyncobj's own tick): when the election timer
  fires, the node first sends ``pre_vote`` (its term, its last log index and term) and
  only lets pysyncobj stand (raise its term, ask for votes) once a majority, itself
  included, said yes. A peer says yes only if it has not heard from a live leader
  within the minimum election timeout, is not a leader itself, the candidate's term
  would be higher than its own, and the candidate's log is at least as up to date.
  Nobody's state changes on a pre-vote, so a cut-off node's term stays where it was.
- **Leader stickiness** (``request_vote`` received): a leader, and a follower that
  heard from its leader within the minimum election timeout, ignore vote requests from
  any other node (a node of an older version, without pre-vote, cannot depose it).
- **The leader takes a higher term over**: a node restarted with a term above the
  cluster's cannot follow (pysyncobj ignores a leader of an older term) nor win (its
  pre-votes fail). When the leader hears of that term in a ``pre_vote``, it stands at
  once above it; its followers vote for it (it is their leader), so the same leader
  goes on in the new term and the node follows. A pre-vote answer also carries the
  answerer's term, which a node behind in term adopts, as in etcd.
- **Durable term and vote** (``__setCurrentTerm``): every write of term and vote goes
  through ``DurableMetaStorer`` (fsynced) before pysyncobj sends anything that reflects
  it; each vote is logged as ``raft_voted``.

Nothing here changes who may win an election (votes are still granted by pysyncobj's
own rules, one per term, persisted first): pre-vote and stickiness only withhold
elections, so at most one leader per term still holds. The cost is one round trip
before each candidacy. pysyncobj's ``transferLeadership`` would be refused by sticky
followers; it is not used here.

The base class, ``LogRulesSyncObj`` (``log_rules.py``), brings pysyncobj's log
replication to Raft's rules; this one only decides when a node may stand and vote.

Everything below runs on pysyncobj's tick thread, the only one that touches its state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pysyncobj import SyncObj
from pysyncobj.monotonic import monotonic as syncobj_clock
from pysyncobj.node import Node
from pysyncobj.syncobj import _RAFT_STATE

from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.raft.durable_meta import DurableMetaStorer, make_durable
from loadtest_supervisor.plugins.raft.log_rules import LogRulesSyncObj

logger = logging.getLogger(__name__)

PRE_VOTE = "pre_vote"
PRE_VOTE_RESPONSE = "pre_vote_response"
_STANDING = (_RAFT_STATE.FOLLOWER, _RAFT_STATE.CANDIDATE)


@dataclass
class _Election:
    """This node's pre-vote bookkeeping; one object, set before ``SyncObj.__init__`` so
    that pysyncobj does not count it as replicated state (it snapshots every attribute
    set after its own)."""

    round_term: int | None = None  # the term a pre-vote round in progress was asked at
    grants: set[str] = field(default_factory=set)
    may_stand_at: int | None = None  # pysyncobj may stand from this term (pre-vote won)
    leader_heard_at: float = float("-inf")  # last append_entries from a leader we follow
    last_tick: float | None = None  # when this node's previous tick began
    storer: DurableMetaStorer | None = None


class PreVoteSyncObj(LogRulesSyncObj):
    """``SyncObj`` with pre-vote, leader stickiness and fsynced term and vote (module doc).

    pysyncobj 0.3.17's private names (``_SyncObj__*``) are used on purpose: the version
    is pinned, and ``check_pysyncobj_internals`` fails at start if one went missing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._election = _Election()
        super().__init__(*args, **kwargs)

    # --- seams into pysyncobj ------------------------------------------------------------

    def _onTick(self, timeToWait: float = 0.0) -> None:  # noqa: N802,N803 (pysyncobj's names)
        # Meta is written only inside ticks: swapping the storer before the first one
        # means every write of term and vote is durable.
        if self._election.storer is None:
            self._election.storer = make_durable(self._SyncObj__raftLog)
        self._step_down_after_a_pause()
        self._hold_candidacy()
        super()._onTick(timeToWait)

    def _step_down_after_a_pause(self) -> None:
        """A leader whose ticks stopped for longer than the leader fallback timeout
        (SIGSTOP, a VM paused, a starved thread) cannot know it still leads: a majority
        may have elected another meanwhile. pysyncobj keeps leading on the replies that
        reach it as it wakes (sent before the pause, of its own term, so they refresh
        its last-heard times) and answers as the old term's leader until the new
        leader's messages arrive. It steps down here instead, at once, and takes part
        in the next election like any follower."""
        now = syncobj_clock()
        last, self._election.last_tick = self._election.last_tick, now
        paused = now - last if last is not None else 0.0
        if self._isLeader() and paused > self._getConf().leaderFallbackTimeout:
            log_event(
                logger,
                "raft_leader_paused",
                logging.WARNING,
                term=self.raftCurrentTerm,
                paused_s=round(paused, 3),
            )
            self._SyncObj__setState(_RAFT_STATE.FOLLOWER)
            self._SyncObj__raftLeader = None

    def _SyncObj__onMessageReceived(self, node: Node, message: dict[str, Any]) -> None:  # noqa: N802
        kind = message["type"]
        if kind == PRE_VOTE:
            self._answer_pre_vote(node, message)
            return
        if kind == PRE_VOTE_RESPONSE:
            self._count_pre_vote(node, message)
            return
        if kind == "request_vote" and self._ignores_vote_request(node, message):
            return
        if kind == "append_entries" and message["term"] >= self.raftCurrentTerm:
            # pysyncobj follows this leader: it is alive, and any pre-vote round or won
            # pre-vote is moot.
            election = self._election
            election.leader_heard_at = syncobj_clock()
            election.round_term = election.may_stand_at = None
        super()._SyncObj__onMessageReceived(node, message)

    def _SyncObj__setCurrentTerm(self, term: int, votedForNodeId: str | None) -> None:  # noqa: N802,N803
        if self._election.storer is None:  # a tick always came first; never rely on it
            self._election.storer = make_durable(self._SyncObj__raftLog)
        SyncObj._SyncObj__setCurrentTerm(self, term, votedForNodeId)
        if votedForNodeId is not None:
            storer = self._election.storer
            log_event(
                logger,
                "raft_voted",
                term=term,
                candidate=votedForNodeId,
                self_vote=votedForNodeId == self.selfNode.id,
                store_ms=round(storer.last_store_s * 1000, 3) if storer else None,
            )

    # --- candidate side --------------------------------------------------------------------

    def _hold_candidacy(self) -> None:
        """Run before pysyncobj's tick: if its election timer has fired, let it stand only
        after a won pre-vote; otherwise start a pre-vote round and push the timer one
        election timeout on (the time the answers have to come back)."""
        election = self._election
        if self.selfNode is None or self._SyncObj__raftState not in _STANDING:
            return
        now = syncobj_clock()
        if self._SyncObj__raftElectionDeadline >= now or not self._SyncObj__connectedToAnyone():
            return  # pysyncobj would not stand in this tick either
        term = self.raftCurrentTerm
        if election.may_stand_at == term:
            election.may_stand_at = election.round_term = None
            return  # pre-vote won: pysyncobj stands in this tick
        self._SyncObj__raftElectionDeadline = now + self._SyncObj__generateRaftTimeout()
        # The leader has been silent for an election timeout: no longer follow it (as
        # pysyncobj's own candidacy would), so this node reports ``forming`` meanwhile.
        self._SyncObj__raftLeader = None
        election.round_term = term
        election.grants = {self.selfNode.id}
        if self._is_majority(len(election.grants)):  # a one-node cluster
            self._may_stand(term)
            return
        _, last_index, last_term = self._SyncObj__raftLog[-1]
        request = {
            "type": PRE_VOTE,
            "term": term,
            "last_log_index": last_index,
            "last_log_term": last_term,
        }
        for node in self._SyncObj__otherNodes:
            self._SyncObj__transport.send(node, request)
        log_event(logger, "raft_prevote_started", logging.DEBUG, term=term)

    def _count_pre_vote(self, node: Node, message: dict[str, Any]) -> None:
        election = self._election
        term = self.raftCurrentTerm
        if message["term"] > term and not self._isLeader():
            # Behind in term: catch up (raising a term is always safe), as etcd does;
            # the next round asks at the new term.
            self._SyncObj__setCurrentTerm(message["term"], None)
            self._SyncObj__setState(_RAFT_STATE.FOLLOWER)
            election.round_term = election.may_stand_at = None
            return
        if not message["granted"] or message["round"] != term or election.round_term != term:
            return  # refused, or the answer to a round that is over
        election.grants.add(node.id)
        if election.may_stand_at is None and self._is_majority(len(election.grants)):
            log_event(logger, "raft_prevote_won", term=term, grants=len(election.grants))
            self._may_stand(term)

    def _may_stand(self, term: int) -> None:
        self._election.may_stand_at = term
        self._SyncObj__raftElectionDeadline = 0  # stand at the next tick

    # --- voter side -----------------------------------------------------------------------

    def _answer_pre_vote(self, node: Node, message: dict[str, Any]) -> None:
        term = self.raftCurrentTerm
        _, last_index, last_term = self._SyncObj__raftLog[-1]
        up_to_date = (message["last_log_term"], message["last_log_index"]) >= (
            last_term,
            last_index,
        )
        leader_alive = self._leader_alive()
        granted = message["term"] + 1 > term and up_to_date and not leader_alive
        self._SyncObj__transport.send(
            node,
            {"type": PRE_VOTE_RESPONSE, "term": term, "round": message["term"], "granted": granted},
        )
        log_event(
            logger,
            "raft_prevote_answered",
            logging.DEBUG,
            peer=node.id,
            peer_term=message["term"],
            granted=granted,
            leader_alive=leader_alive,
        )
        if self._isLeader() and message["term"] > term:
            self._take_term_over(node, message["term"])

    def _ignores_vote_request(self, node: Node, message: dict[str, Any]) -> bool:
        """Leader stickiness: while this node leads, or follows a leader it heard from
        within the minimum election timeout, only that leader may ask for its vote."""
        if not self._leader_alive() or node == self._getLeader():
            return False
        log_event(
            logger,
            "raft_vote_request_ignored",
            peer=node.id,
            peer_term=message["term"],
            term=self.raftCurrentTerm,
            leader=self._getLeader().id,
        )
        return True

    def _take_term_over(self, node: Node, higher: int) -> None:
        """A member holds a term above this leader's: it can neither follow this leader
        nor win. Stand at once above its term; the followers, whose leader asks, vote."""
        log_event(
            logger,
            "raft_leader_takes_term_over",
            logging.WARNING,
            peer=node.id,
            peer_term=higher,
            term=self.raftCurrentTerm,
        )
        self._SyncObj__setState(_RAFT_STATE.FOLLOWER)
        self._SyncObj__setCurrentTerm(higher, None)
        self._may_stand(higher)

    # --- helpers ----------------------------------------------------------------------------

    def _leader_alive(self) -> bool:
        if self._isLeader():
            return True  # pysyncobj steps a leader down once a majority is silent
        if self._getLeader() is None:
            return False
        lease = self._getConf().raftMinTimeout
        return syncobj_clock() - self._election.leader_heard_at < lease

    def _is_majority(self, count: int) -> bool:
        return count > (len(self._SyncObj__otherNodes) + 1) / 2


# pysyncobj 0.3.17's private methods this class overrides or calls, and the private
# attributes it reads.
_METHODS = (
    "_SyncObj__onMessageReceived",
    "_SyncObj__sendNextNodeIdx",
    "_SyncObj__getCurrentLogIndex",
    "_SyncObj__getEntries",
    "_SyncObj__setCurrentTerm",
    "_SyncObj__setState",
    "_SyncObj__connectedToAnyone",
    "_SyncObj__generateRaftTimeout",
)
_ATTRIBUTES = (
    "_SyncObj__raftCommitIndex",
    "_SyncObj__raftState",
    "_SyncObj__raftElectionDeadline",
    "_SyncObj__raftLeader",
    "_SyncObj__raftLog",
    "_SyncObj__otherNodes",
    "_SyncObj__transport",
    "_SyncObj__recvTransmission",
    "_SyncObj__raftLastApplied",
)


def check_pysyncobj_internals(syncobj: SyncObj) -> None:
    """Fail loudly, not subtly, if pysyncobj's private names moved (a version bump):
    an override of a method that no longer exists would silently never run."""
    missing = [name for name in _METHODS if not hasattr(SyncObj, name)]
    missing += [name for name in _ATTRIBUTES if not hasattr(syncobj, name)]
    if missing:
        raise RuntimeError(f"pysyncobj changed: {', '.join(missing)} missing (pinned 0.3.17)")
