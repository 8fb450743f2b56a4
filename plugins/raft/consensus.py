"""``Consensus`` on pysyncobj: elections, membership and the replicated state.

Raft member identity is the advertised gRPC address ``host:port``: a static peer list
knows every address up front, so the quorum size is right from the first election.
Node ids are learned from the authenticated handshake (``Peer.Hello``) and from the
frames peers send, and are reported in ``NodeStatus.node_ids``.

pysyncobj runs on its own tick thread, started by a dedicated owner thread that lives
as long as consensus runs (the tick thread exits when its creating thread does).
Status is sampled on every tick and handed to the event loop when it changes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from time import monotonic
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf
from pysyncobj.journal import MetaStorer
from pysyncobj.monotonic import monotonic as syncobj_clock

from loadtest_supervisor.cluster.contracts import NodeContext, NodeStatus, Peer, Role
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.raft.applied_log import AppliedLog
from loadtest_supervisor.plugins.raft.autopilot import Autopilot
from loadtest_supervisor.plugins.raft.leader_probe import Leadership, find_leader
from loadtest_supervisor.plugins.raft.member_feed import MemberFeed
from loadtest_supervisor.plugins.raft.member_follow import Followed, MemberFollower
from loadtest_supervisor.plugins.raft.prevote import PreVoteSyncObj, check_pysyncobj_internals
from loadtest_supervisor.plugins.raft.replicated_state import (
    PARTS,
    ReplicatedState,
    validate_command,
)
from loadtest_supervisor.plugins.raft.transport import GrpcTransport, RaftLinkServicer

logger = logging.getLogger(__name__)

# Timings for the goal "failover median <= 1 s, max <= 2 s, no spurious elections".
# A follower waits 0.4-0.8 s without a heartbeat before standing (randomised so that
# two candidates rarely tie); heartbeats every 50 ms leave 8+ of them per timeout, so
# a busy loop or a GC pause does not look like a dead leader. A leader that hears
# from no majority for one election timeout steps down (pysyncobj's default, 30 s,
# would let an isolated leader keep leading for 30 s).
RAFT_MIN_TIMEOUT_S = 0.4
RAFT_MAX_TIMEOUT_S = 0.8
APPEND_ENTRIES_PERIOD_S = 0.05
LOG_COMPACTION_MIN_TIME_S = 60
LOG_COMPACTION_MIN_ENTRIES = 1000
LEADER_FALLBACK_TIMEOUT_S = RAFT_MAX_TIMEOUT_S
# A starting node waits longer before its first candidacy, until it has heard from a
# leader or JOIN_WINDOW_S has passed; then the normal timeouts apply. Before pre-vote
# (prevote.py) this was what kept a restarting node, timing out before its links were
# up, from deposing a healthy leader; now it only spares a pre-vote round or two.
RAFT_JOIN_MIN_TIMEOUT_S = 2.0
RAFT_JOIN_MAX_TIMEOUT_S = 3.0
JOIN_WINDOW_S = 5.0
# The tick thread runs at least every 50 ms. A status it has not confirmed for this
# long (the process was stopped or starved) vouches for nothing: a leader resumed
# after SIGSTOP must not answer "leader" from before it was frozen.
STALE_STATUS_S = 1.0
PROPOSE_TIMEOUT_S = 5.0
# Who leads and who votes (leader_probe.py) is asked before Raft starts, and by a voter
# without a leader this long; the question waits this long for a leader's answer.
LEADERLESS_PROBE_AFTER_S = 3.0
PROBE_TIMEOUT_S = 1.5
# Besides the voters it knows, a node asks this many other peers: after every voter it
# knew was replaced, a member still names the leader.
PROBE_EXTRA_PEERS = 3
# The leader's autopilot and a voter's leaderless check run this often.
ROLE_CHECK_S = 1.0
# The voters a voter's Raft started with: its journal's changes apply on top of them.
VOTERS_FILE = "raft.voters"

_FAIL_NAMES = {v: k.lower() for k, v in vars(FAIL_REASON).items() if k.isupper()}


class NotLeaderError(Exception):
    """Only the leader proposes commands and changes membership."""


class ProposalError(Exception):
    """A command was not committed, or was rejected when applied (stale term)."""


class RaftConsensus:
    """One node's Raft, driven from the event loop; see ``cluster.contracts``."""

    def __init__(self, context: NodeContext, auth: PeerAuth | None = None) -> None:
        self._context = context
        self._loop = context.loop
        self._address = context.advertise_addr
        self._node_id = context.node_id
        self._auth = auth or PeerAuth.from_settings(context.settings, context.node_id)
        self.member_feed = MemberFeed(self._publish)
        self.servicer = RaftLinkServicer(self.member_feed)
        self._role: Role = "voter"
        self._me = loadtest_pb2.NodeInfo(
            node_id=context.node_id,
            address=context.advertise_addr,
            version=context.version,
            workers=context.workers,
        )
        self._peer_addresses: tuple[str, ...] = ()
        self._autopilot = Autopilot(context.settings.voters, context.settings.voter_replace_after)
        self._role_watch: asyncio.Task[None] | None = None
        self._leaderless_since = monotonic()
        self._probed_at = 0.0
        self._promoting = False
        # A promoted member serves what it followed until its Raft has applied a state.
        self._serve_followed = False
        self._follower: MemberFollower | None = None
        self._followed: dict[str, Any] = {"term": 0, **dict.fromkeys(PARTS)}
        self._node_ids: dict[str, str] = {self._address: self._node_id}
        self._workers: dict[str, int] = {self._address: context.workers}
        self._data_dir = Path(context.data_dir) / self._node_id
        self._journal = self._data_dir / "raft.journal"
        # Before start, a restarted node already reports the term it had persisted.
        self._status = NodeStatus(
            "forming", _persisted_term(self._journal), None, (self._address,), False, {}
        )
        self._missing_since: dict[str, float] = {}
        self._conf: SyncObjConf | None = None
        self._joined_by = 0.0
        self._fresh_at = 0.0
        self._sampled_at = monotonic()
        self._on_status: Callable[[NodeStatus], None] | None = None
        self._on_committed: Callable[[dict[str, Any]], None] | None = None
        self._applied_log = AppliedLog(self._data_dir)
        self._state = ReplicatedState(self._applied, self._applied_log)
        self._transport: Callable[..., GrpcTransport] = functools.partial(
            GrpcTransport,
            loop=self._loop,
            auth=self._auth,
            servicer=self.servicer,
            me=self._me,
            on_node_id=self._learn_node_id,
            on_workers=self._learn_workers,
        )
        self._syncobj: SyncObj | None = None
        self._owner: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_sample: tuple[Any, ...] | None = None
        self._membership = asyncio.Lock()

    # --- Consensus ---

    async def start(self, peers: list[Peer], on_status: Callable[[NodeStatus], None]) -> None:
        self._on_status = on_status
        self._learn_peers(peers)
        self._peer_addresses = tuple(sorted({p.address for p in peers} - {self._address}))
        voters = await self._voters_to_start_with()
        if self._address in voters:
            await self._start_voter(voters)
        else:
            self._start_member(voters)
        self._role_watch = self._loop.create_task(self._watch_role(), name="raft-role-watch")

    async def _voters_to_start_with(self) -> list[str]:
        """The leader's voters if a leader answers; else those this node's Raft last
        started with; else the first CLUSTER_VOTERS addresses, in an order every node
        started with the same peers agrees on."""
        listed = sorted({*self._peer_addresses, self._address})[: self._context.settings.voters]
        saved = self._saved_voters()
        found = await find_leader(
            self._auth, self._me, self._probe_targets(saved or listed), PROBE_TIMEOUT_S
        )
        if found is not None:
            self._log_role_change("raft_leader_found", found)
            return list(found.voters)
        return saved or listed

    def _probe_targets(self, voters: Iterable[str]) -> list[str]:
        others = [a for a in self._peer_addresses if a not in voters]
        extra = random.sample(others, min(PROBE_EXTRA_PEERS, len(others)))
        return [a for a in {*voters, *extra} if a != self._address]

    def _saved_voters(self) -> list[str] | None:
        # Our own file in our data dir, next to the journal it belongs to.
        path = self._data_dir / VOTERS_FILE
        if not (self._journal.exists() and path.exists()):
            return None
        return [str(a) for a in json.loads(path.read_text())]

    async def _start_voter(self, voters: list[str]) -> None:
        self._role = "voter"
        others = [a for a in voters if a != self._address]
        data_dir = self._data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / VOTERS_FILE).write_text(json.dumps(sorted({*others, self._address})))
        conf = SyncObjConf(
            useFork=False,  # fork and grpcio do not mix
            journalFile=str(self._journal),  # with fullDumpFile: term and
            fullDumpFile=str(data_dir / "raft.dump"),  # vote survive restarts
            dynamicMembershipChange=True,
            raftMinTimeout=RAFT_JOIN_MIN_TIMEOUT_S,
            raftMaxTimeout=RAFT_JOIN_MAX_TIMEOUT_S,
            appendEntriesPeriod=APPEND_ENTRIES_PERIOD_S,
            leaderFallbackTimeout=LEADER_FALLBACK_TIMEOUT_S,
            # A run commits its leader's metrics several times a second: compact (a dump
            # of the small state) every minute or 1000 entries, not pysyncobj's 5 min or
            # 5000, so the log stays a few MB at most.
            logCompactionMinTime=LOG_COMPACTION_MIN_TIME_S,
            logCompactionMinEntries=LOG_COMPACTION_MIN_ENTRIES,
        )
        # pysyncobj reads the timeouts from its conf at every draw: _sample lowers them.
        self._conf = conf
        self._joined_by = monotonic() + JOIN_WINDOW_S
        self._state = ReplicatedState(self._applied, self._applied_log)
        created = threading.Event()
        failure: list[BaseException] = []
        self._owner = threading.Thread(
            target=self._own_syncobj,
            args=(others, conf, created, failure),
            name="raft-owner",
            daemon=True,
        )
        self._owner.start()
        await self._loop.run_in_executor(None, created.wait)
        if failure:
            raise failure[0]
        log_event(
            logger,
            "raft_started",
            node_id=self._node_id,
            role="voter",
            address=self._address,
            members=",".join([self._address, *others]),
            data_dir=str(data_dir),
        )

    async def _stop_voter(self) -> None:
        self._stopping.set()
        if self._owner is not None:
            await self._loop.run_in_executor(None, self._owner.join)
        self._owner = self._syncobj = self._last_sample = None
        self._stopping = threading.Event()

    def _start_member(self, voters: list[str], leader: str | None = None) -> None:
        """Follow the leader's committed state without Raft (no journal, no tick thread)."""
        self._role = "member"
        self._move_raft_files_aside()
        self._status = replace(self._status, members=tuple(voters), role="member")
        self._follower = MemberFollower(self._auth, self._me, voters, self._on_followed, leader)
        self._follower.start()
        log_event(
            logger,
            "raft_started",
            node_id=self._node_id,
            role="member",
            address=self._address,
            voters=",".join(voters),
        )

    def _move_raft_files_aside(self) -> None:
        """A node that is no voter keeps no Raft state that could make it start as one:
        a replaced voter's journal still lists it (design §12.1). Kept, not deleted."""
        files = sorted(self._data_dir.glob("raft.*"))
        if not files:
            return
        aside = self._data_dir / f"replaced-{time.time():.0f}"
        aside.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.move(path, aside / path.name)
        log_event(logger, "raft_files_moved", node_id=self._node_id, to=str(aside))

    def _on_followed(self, followed: Followed | None) -> None:
        # On the loop: what the leader's stream said, or None once it is lost.
        if self._role != "member" or self._promoting:
            return  # a late update of the stream a promotion is closing
        if followed is not None and followed.state is not self._followed:
            self._followed = followed.state
            if self._on_committed is not None:
                self._on_committed(dict(followed.state))
        if followed is not None and self._address in followed.voters:
            self._promoting = True
            self._loop.create_task(self._promote(followed))
            return
        if followed is None:
            status = replace(
                self._status,
                state="forming",
                leader=None,
                has_quorum=False,
                reachable=(self._address,),
            )
        else:
            leader = followed.leader_address
            status = replace(
                self._status,
                state="follower",
                term=followed.term,
                leader=leader,
                members=followed.voters,
                has_quorum=True,
                node_ids={self._address: self._node_id, leader: followed.leader_node_id},
                reachable=(self._address, leader),
                workers={self._address: self._context.workers},
            )
        self.member_feed.status_changed(status, self._address, self._node_id)
        if status != self._status:
            self._set_status(status)

    async def _promote(self, followed: Followed) -> None:
        """The leader added this member to the voters: stop following, start Raft with
        the voters it listed (this node among them), and catch up from its snapshot."""
        self._log_role_change("raft_promoted", followed)
        try:
            if self._follower is not None:
                await self._follower.stop()
                self._follower = None
            self._serve_followed = True
            self._set_status(
                replace(self._status, state="forming", leader=None, has_quorum=False, role="voter")
            )
            await self._start_voter(list(followed.voters))
        except Exception as e:  # e.g. the data dir is not writable: stay a member
            log_event(logger, "raft_promotion_failed", logging.ERROR, why=repr(e))
            await self._stop_voter()
            self._start_member(list(followed.voters), followed.leader_address)
        finally:
            self._promoting = False

    async def _demote(self, found: Leadership) -> None:
        """A leader answered whose voters do not include this node: it was replaced while
        away. Stop Raft, keep its files aside, and follow as a member."""
        self._log_role_change("raft_demoted", found)
        await self._stop_voter()
        self._start_member(list(found.voters), found.leader_address)
        self._set_status(
            replace(
                self._status,
                state="forming",
                leader=None,
                has_quorum=False,
                reachable=(self._address,),
            )
        )

    def _log_role_change(self, event: str, leadership: Leadership) -> None:
        log_event(
            logger,
            event,
            node_id=self._node_id,
            term=leadership.term,
            leader_id=leadership.leader_node_id,
            voter=self._address in leadership.voters,
            voters=",".join(leadership.voters),
        )

    async def _watch_role(self) -> None:
        while True:
            await asyncio.sleep(ROLE_CHECK_S)
            if self._role != "voter" or self._promoting:
                continue
            try:
                if self._status.state == "leader":
                    await self._autopilot_step()
                elif monotonic() - max(self._leaderless_since, self._probed_at) >= (
                    LEADERLESS_PROBE_AFTER_S
                ):
                    await self._check_still_voter()
            except (NotLeaderError, ProposalError, TimeoutError) as e:
                log_event(logger, "raft_role_check_failed", logging.INFO, why=str(e))

    async def _autopilot_step(self) -> None:
        sample = self._last_sample
        if sample is None or not sample[4]:  # no quorum: no change could commit
            return
        members, connected = sample[3], sample[5]
        now = monotonic()
        self._autopilot.observe(
            self._address, members, connected, tuple(self.member_feed.followers()), now
        )
        change = self._autopilot.next_change(members, now)
        if change is None:
            return
        async with self._membership:
            if self._status.state != "leader":
                return
            log_event(
                logger,
                "raft_autopilot",
                node_id=self._node_id,
                term=self._status.term,
                change=change.kind,
                peer=change.address,
                why=change.why,
            )
            await self._change_membership(change.kind, change.address)

    async def _check_still_voter(self) -> None:
        self._probed_at = monotonic()
        targets = self._probe_targets(self._status.members)
        found = await find_leader(self._auth, self._me, targets, PROBE_TIMEOUT_S)
        if found is None or self._address in found.voters:
            return
        if self._role == "voter" and self._status.state == "forming":
            await self._demote(found)

    def status(self) -> NodeStatus:
        status = self._status
        if self._role == "member":
            return status  # the follower's own silence check stands for freshness
        if status.state != "forming" and monotonic() - self._fresh_at > STALE_STATUS_S:
            return replace(status, state="forming", leader=None, has_quorum=False)
        return status

    async def update_peers(self, peers: list[Peer]) -> None:
        self._learn_peers(peers)
        self._peer_addresses = tuple(sorted({p.address for p in peers} - {self._address}))
        if self._status.state != "leader":
            return
        # Voters are added by autopilot only, from the members that follow this leader
        # (_autopilot_step); discovery only tells which voters have left.
        async with self._membership:
            desired = {p.address for p in peers} | {self._address}
            current = set(self._status.members)
            if desired == {self._address}:
                # An empty peer list is far likelier a discovery hiccup than the whole
                # cluster leaving; removing everyone would leave a one-node "cluster".
                log_event(logger, "raft_membership_kept", logging.WARNING, node_id=self._node_id)
                return
            now = monotonic()
            for address in desired:
                self._missing_since.pop(address, None)
            for address in sorted(current - desired):
                since = self._missing_since.setdefault(address, now)
                if now - since < self._context.settings.member_remove_after:
                    continue
                if not await self._change_membership("remove", address):
                    return
                self._missing_since.pop(address, None)

    async def propose(self, command: dict[str, Any]) -> None:
        """Replicate ``command`` (keys among config, run, metrics_checkpoint) and return
        once it is committed and applied here."""
        validate_command(command)
        await self._replicate(command)

    def committed(self) -> dict[str, Any]:
        if self._role == "member" or self._serve_followed:
            return dict(self._followed)
        return self._state.snapshot()

    def on_committed(self, callback: Callable[[dict[str, Any]], None]) -> None:
        self._on_committed = callback

    def _applied(self, state: dict[str, Any]) -> None:
        # pysyncobj applies on its tick thread; the node and the members hear of it on
        # the loop.
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._applied_on_loop, state)

    def _applied_on_loop(self, state: dict[str, Any]) -> None:
        self._serve_followed = False
        self.member_feed.state_applied(state)
        if self._on_committed is not None:
            self._on_committed(state)

    async def stop(self) -> None:
        self._on_status = None
        if self._role_watch is not None:
            self._role_watch.cancel()
            await asyncio.gather(self._role_watch, return_exceptions=True)
        if self._follower is not None:
            await self._follower.stop()
        await self._stop_voter()
        log_event(logger, "raft_stopped", node_id=self._node_id)

    # --- owner and tick threads ---

    def _own_syncobj(
        self,
        others: list[str],
        conf: SyncObjConf,
        created: threading.Event,
        failure: list[BaseException],
    ) -> None:
        self._applied_log.start()  # before the dump file is loaded into the state
        try:
            syncobj = PreVoteSyncObj(
                self._address,
                others,
                conf,
                consumers=[self._state],
                transportClass=self._transport,
            )
            try:
                check_pysyncobj_internals(syncobj)
            except RuntimeError:
                syncobj.destroy_synchronous()
                raise
        except BaseException as e:  # handed to start(), which raises it on the loop
            self._applied_log.close()
            failure.append(e)
            created.set()
            return
        self._syncobj = syncobj
        syncobj.addOnTickCallback(self._sample)
        created.set()
        self._stopping.wait()
        syncobj.destroy_synchronous()
        self._applied_log.close()

    def _sample(self) -> None:
        # On the tick thread, after every tick: cheap reads, and a hand-off only on change.
        syncobj = self._syncobj
        if syncobj is None:
            return
        leader = syncobj._getLeader()
        conf = self._conf
        if conf is not None and (leader is not None or monotonic() >= self._joined_by):
            conf.raftMinTimeout = RAFT_MIN_TIMEOUT_S
            conf.raftMaxTimeout = RAFT_MAX_TIMEOUT_S
            self._conf = None
            _cap_election_deadline(syncobj)
        sample = (
            syncobj._isLeader(),
            leader.id if leader is not None else None,
            syncobj.raftCurrentTerm,
            tuple(sorted({self._address} | {n.id for n in syncobj.otherNodes})),
            syncobj.hasQuorum,
            tuple(sorted(n.id for n in syncobj.otherNodes if syncobj.isNodeConnected(n))),
        )
        now = monotonic()
        gap, self._sampled_at = now - self._sampled_at, now
        if sample != self._last_sample:
            self._last_sample = sample
            # Fresh only once the loop holds the new status: until then the old
            # one must not be vouched for.
            self._loop.call_soon_threadsafe(self._publish, sample, now)
        elif gap <= STALE_STATUS_S:
            self._fresh_at = now
        # Else the process was stopped mid-tick: this tick ends on what pysyncobj held
        # before the pause (a leader of the old term), and the next one, which steps
        # a paused leader down (prevote.py), is the first that may vouch again.

    # --- event loop ---

    def _publish(self, sample: tuple[Any, ...] | None = None, sampled_at: float = 0.0) -> None:
        if self._role != "voter" or self._syncobj is None:
            return  # a member's status comes from its stream (_on_followed)
        sample = sample or self._last_sample
        if sample is None:
            return
        self._fresh_at = max(self._fresh_at, sampled_at)
        is_leader, leader, term, members, has_quorum, connected = sample
        if is_leader:
            state = "leader" if has_quorum else "forming"
        else:
            state = "follower" if leader is not None and has_quorum else "forming"
        followers = self.member_feed.followers() if state == "leader" else {}
        nonvoters = tuple(sorted(followers))
        status = NodeStatus(
            state=state,
            term=term,
            leader=leader if state != "forming" else None,
            members=members,
            has_quorum=has_quorum,
            node_ids={
                **{a: n for a, n in self._node_ids.items() if a in members},
                **{a: f.node_id for a, f in followers.items()},
            },
            reachable=(self._address, *connected, *nonvoters),
            workers={
                **{a: n for a, n in self._workers.items() if a in members},
                **{a: f.workers for a, f in followers.items()},
            },
            nonvoters=nonvoters,
        )
        self.member_feed.status_changed(status, self._address, self._node_id)
        if status != self._status:
            self._set_status(status)

    def _set_status(self, status: NodeStatus) -> None:
        old = self._status
        self._status = status
        if (old.state, old.term, old.leader) != (status.state, status.term, status.leader):
            log_event(
                logger,
                "raft_state_changed",
                node_id=self._node_id,
                old=old.state,
                new=status.state,
                term=status.term,
                leader_id=status.leader_id,
                members=len(status.members),
                quorum=status.has_quorum,
                role=status.role,
            )
        if status.state == "forming" and old.state != "forming":
            self._leaderless_since = monotonic()
        if status.state == "leader" and old.state != "leader":
            self._autopilot.reset()
            self._loop.create_task(self._fence(status.term))
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                logger.exception("on_status callback failed")

    async def _fence(self, term: int) -> None:
        # A new leader's first command raises the applied term to its own, so commands
        # a deposed leader got into the log are rejected from here on.
        try:
            await self._replicate({})
        except (NotLeaderError, ProposalError, TimeoutError) as e:
            log_event(logger, "raft_fence_failed", logging.INFO, term=term, why=str(e))

    async def _replicate(self, update: dict[str, Any]) -> None:
        if self._status.state != "leader":
            raise NotLeaderError(f"not the leader (state {self._status.state})")
        command = json.dumps({**update, "term": self._status.term})
        result, error = await self._call(
            functools.partial(self._state.apply_json, command), PROPOSE_TIMEOUT_S
        )
        if error != FAIL_REASON.SUCCESS:
            raise ProposalError(f"not committed: {_FAIL_NAMES.get(error, error)}")
        if not result["ok"]:
            raise ProposalError(result["error"])

    async def _change_membership(self, change: str, address: str) -> bool:
        assert self._syncobj is not None
        method = (
            self._syncobj.addNodeToCluster
            if change == "add"
            else (self._syncobj.removeNodeFromCluster)
        )
        try:
            _, error = await self._call(functools.partial(method, address), PROPOSE_TIMEOUT_S)
        except TimeoutError:
            error = "timeout"
        ok = error == FAIL_REASON.SUCCESS
        log_event(
            logger,
            "raft_membership_changed" if ok else "raft_membership_change_failed",
            logging.INFO if ok else logging.WARNING,
            node_id=self._node_id,
            term=self._status.term,
            change=change,
            peer=address,
            why="" if ok else _FAIL_NAMES.get(error, error),
        )
        return ok

    async def _call(self, submit: Callable[..., None], timeout: float) -> tuple[Any, Any]:
        """Submit a pysyncobj call (thread-safe: it only queues) and await its callback,
        which pysyncobj runs on the tick thread."""
        future: asyncio.Future[tuple[Any, Any]] = self._loop.create_future()

        def settle(result: Any, error: Any) -> None:
            if not future.done():
                future.set_result((result, error))

        def callback(result: Any, error: Any) -> None:
            self._loop.call_soon_threadsafe(settle, result, error)

        submit(callback=callback)
        return await asyncio.wait_for(future, timeout)

    def _learn_peers(self, peers: list[Peer]) -> None:
        for peer in peers:
            if peer.node_id:
                self._learn_node_id(peer.address, peer.node_id)

    def _learn_workers(self, address: str, workers: int) -> None:
        if self._workers.get(address) != workers:
            self._workers[address] = workers
            self._publish()

    def _learn_node_id(self, address: str, node_id: str) -> None:
        if self._node_ids.get(address) != node_id:
            self._node_ids[address] = node_id
            self._publish()


def _persisted_term(journal: Path) -> int:
    """The Raft term this node last stored (0 for a new node).

    Read with pysyncobj's own reader of the journal's meta file, which this node
    wrote itself in its data dir: local state, never network input.
    """
    meta_path = Path(f"{journal}.meta")
    if not meta_path.exists():
        return 0
    return int(MetaStorer(str(meta_path)).getMeta().get("currentTerm", 0))


# pysyncobj 0.3.17 (pinned) keeps the pending election deadline in a private attribute.
_ELECTION_DEADLINE = "_SyncObj__raftElectionDeadline"


def _cap_election_deadline(syncobj: SyncObj) -> None:
    """Bring a deadline drawn from the start-up timeouts within the normal ones.

    The leader message that ends the start-up window also set the deadline, 2-3 s
    out; until the next heartbeat replaces it, a leader dying then would cost 2-3 s.
    Runs on the tick thread, the only one that touches the deadline.
    """
    pending = getattr(syncobj, _ELECTION_DEADLINE)
    # Its clock, not ours: pysyncobj reads CLOCK_MONOTONIC_RAW.
    normal = syncobj_clock() + random.uniform(RAFT_MIN_TIMEOUT_S, RAFT_MAX_TIMEOUT_S)
    setattr(syncobj, _ELECTION_DEADLINE, min(pending, normal))
