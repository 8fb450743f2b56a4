"""``ClusterHarness`` with faults and a complete record of what every node said.

    with Faults() as faults, FaultHarness(tmp_path, faults, env={...}) as cluster:
        cluster.start(3, order=[2, 0, 1], delay=0.5)    # also starts the health pollers
        leader, term, _ = cluster.wait_agreed(timeout=30)
        cluster.sigstop(cluster.node_by_id(leader)); ...; cluster.sigcont(...)
        cut = cluster.partition([cluster.node(0)])      # node 0 vs the rest
        cluster.heal(cut)
        cluster.restart(cluster.node(1))                # same id, addresses, data dir
        cluster.assert_one_leader_per_term()            # over the whole test

One poller thread per node asks its /health/cluster every ``poll_interval``
seconds, so a stalled node (2 s timeout) never delays the others' observations,
and appends each answer (or the lack of one) to ``history`` with a timestamp.
Assertions are made on that history: what every node reported, all test long.

Each node runs in a cgroup of its own (entered before the node starts, see
``faults.in_cgroup_argv``), so a partition also cuts the Raft connections its
gRPC channels open from 127.0.0.1 (grpc-python cannot bind a source address).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cluster import faults as fault_tools
from tests.cluster.faults import Faults, Partition
from tests.cluster.harness import HEALTH_TIMEOUT_S, ClusterHarness, NodeProcess
from tests.support import agreed_leader, wait_for

_harness_ids = itertools.count(1)


@dataclass(frozen=True)
class Observation:
    """One health poll. ``t`` is time.monotonic() when the answer came (or did not)."""

    t: float
    node_id: str
    state: str | None  # None: no answer within the timeout (error says why)
    term: int | None
    leader_id: str | None
    cluster_ready: bool
    latency: float
    peers: int | None = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None


class FaultHarness(ClusterHarness):
    """A ``ClusterHarness`` whose nodes can be frozen, cut off and restarted, and whose
    every node is polled continuously into ``history``."""

    def __init__(
        self,
        workdir: Path,
        faults: Faults,
        *,
        env: Mapping[str, str] | None = None,
        poll_interval: float = 0.1,
        health_timeout: float = HEALTH_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(workdir, env=env, **kwargs)
        self.faults = faults
        self.poll_interval = poll_interval
        self.health_timeout = health_timeout
        self.history: list[Observation] = []
        self.events: list[tuple[float, str]] = []  # (t, what the test did), for messages
        self.cgroups: dict[str, str] = {}  # node host -> cgroup path
        self._id = next(_harness_ids)
        self._lock = threading.Lock()
        self._stop_polling = threading.Event()
        self._pollers: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------

    def start(
        self, n: int, order: Sequence[int] | None = None, delay: float = 0.0
    ) -> list[NodeProcess]:
        """Create n nodes, each in its own cgroup, start them in ``order`` ``delay`` s apart,
        and start polling every node."""
        super().start(n, order=[])  # creates the nodes, starts none
        for node in self.nodes:
            cgroup = fault_tools.node_cgroup(f"h{self._id}-{node.node_id}")
            self.cgroups[node.host] = cgroup
            node.process.argv = fault_tools.in_cgroup_argv(cgroup, node.process.argv)
        self._start_pollers()
        for position, index in enumerate(order if order is not None else range(n)):
            if position and delay:
                time.sleep(delay)
            self.nodes[index].start()
            self.event(f"started {self.nodes[index].node_id}")
        return self.nodes

    def close(self) -> None:
        self._stop_polling.set()
        for thread in self._pollers:
            thread.join(timeout=self.health_timeout + 1)
        super().close()

    def event(self, what: str) -> float:
        now = time.monotonic()
        with self._lock:
            self.events.append((now, what))
        return now

    # --- faults ------------------------------------------------------------------------

    def kill9(self, node: NodeProcess) -> float:
        """SIGKILL the node's process group and reap it; returns the time of the kill."""
        now = self.event(f"kill -9 {node.node_id}")
        node.kill9()
        return now

    def restart(self, node: NodeProcess) -> float:
        """Start the node again with the same id, addresses and data dir (after kill -9
        if it still runs); returns the time of the start."""
        if node.running():
            self.kill9(node)
        node.start()
        return self.event(f"restarted {node.node_id}")

    def sigstop(self, node: NodeProcess) -> float:
        fault_tools.sigstop(node.pid)
        return self.event(f"SIGSTOP {node.node_id}")

    def sigcont(self, node: NodeProcess) -> float:
        fault_tools.sigcont(node.pid)
        return self.event(f"SIGCONT {node.node_id}")

    def partition(
        self, side: Sequence[NodeProcess], rest: Sequence[NodeProcess] | None = None
    ) -> list[Partition]:
        """Cut the nodes of ``side`` off from ``rest`` (default: every other node), both ways;
        the nodes within ``side`` still talk to each other."""
        if rest is None:
            rest = [node for node in self.nodes if node not in side]
        others = [node.host for node in rest]
        cuts = [self.faults.partition([node.host for node in side], others, cgroups=self.cgroups)]
        self.event(f"partition {[n.node_id for n in side]} | {[n.node_id for n in rest]}")
        return cuts

    def heal(self, cuts: Iterable[Partition]) -> float:
        for cut in cuts:
            self.faults.heal(cut)
        return self.event("healed")

    # --- observing ---------------------------------------------------------------------

    def _start_pollers(self) -> None:
        for node in self.nodes:
            thread = threading.Thread(
                target=self._poll_node, args=(node,), name=f"poll-{node.node_id}", daemon=True
            )
            thread.start()
            self._pollers.append(thread)

    def _poll_node(self, node: NodeProcess) -> None:
        while not self._stop_polling.is_set():
            began = time.monotonic()
            if node.process.popen is not None and node.running():
                self._record(node, began)
            pause = self.poll_interval - (time.monotonic() - began)
            if pause > 0:
                self._stop_polling.wait(pause)

    def _record(self, node: NodeProcess, began: float) -> None:
        try:
            doc = node.health(timeout=self.health_timeout)
        except Exception as exc:  # refused while starting, or silent while stopped
            now = time.monotonic()
            seen = Observation(
                now, node.node_id, None, None, None, False, now - began, error=repr(exc)
            )
        else:
            now = time.monotonic()
            seen = Observation(
                now,
                doc.get("node_id", node.node_id),
                doc.get("state"),
                doc.get("term"),
                doc.get("leader_id"),
                bool(doc.get("cluster_ready")),
                now - began,
                doc.get("peers"),
            )
            if seen.state == "leader":  # keep the base class's record in step
                with self._lock:
                    self.leaders_by_term.setdefault(seen.term, set()).add(seen.node_id)
        with self._lock:
            self.history.append(seen)

    def observations(
        self,
        since: float | None = None,
        until: float | None = None,
        node_ids: Iterable[str] | None = None,
    ) -> list[Observation]:
        wanted = set(node_ids) if node_ids is not None else None
        with self._lock:
            seen = list(self.history)
        return [
            o
            for o in seen
            if (since is None or o.t >= since)
            and (until is None or o.t <= until)
            and (wanted is None or o.node_id in wanted)
        ]

    def latest(self, node_ids: Iterable[str], since: float | None = None) -> dict[str, Observation]:
        """Each node's latest observation made after ``since``."""
        found: dict[str, Observation] = {}
        for seen in self.observations(since=since, node_ids=node_ids):
            found[seen.node_id] = seen
        return found

    def agreement(
        self, nodes: Sequence[NodeProcess] | None = None, since: float | None = None
    ) -> tuple[str, int, float] | None:
        """(leader_id, term, t) if the latest answers of every node in ``nodes`` (default: all
        running) since ``since`` agree on a leader (``agreed_leader``); t is when the last
        of them said so."""
        nodes = list(nodes) if nodes is not None else self.running()
        seen = self.latest([n.node_id for n in nodes], since=since)
        if len(seen) != len(nodes):
            return None
        agreed = agreed_leader(seen.values())
        if agreed is None:
            return None
        return *agreed, max(o.t for o in seen.values())

    def wait_agreed(
        self,
        timeout: float,
        nodes: Sequence[NodeProcess] | None = None,
        since: float | None = None,
        not_leader: str | None = None,
    ) -> tuple[str, int, float]:
        """Wait for ``agreement`` (on a leader other than ``not_leader`` if given)."""

        def agreed() -> tuple[str, int, float] | None:
            found = self.agreement(nodes, since)
            if found is None or found[0] == not_leader:
                return None
            return found

        return wait_for(
            agreed,
            timeout=timeout,
            interval=0.01,
            what="the nodes to agree on a leader",
            detail=self.__str__,
        )

    # --- what the whole history shows ----------------------------------------------------

    def leaders_per_term(self) -> dict[int, set[str]]:
        """Every node ever named leader of each term: by itself (state leader) or by a
        follower (leader_id), over the whole recorded history."""
        named: dict[int, set[str]] = {}
        for seen in self.observations():
            if not seen.answered or seen.term is None:
                continue
            if seen.state == "leader":
                named.setdefault(seen.term, set()).add(seen.node_id)
            if seen.cluster_ready and seen.leader_id is not None:
                named.setdefault(seen.term, set()).add(seen.leader_id)
        return named

    def leadership_changes(
        self, since: float | None = None, until: float | None = None
    ) -> list[tuple[float, str, int | None, str | None]]:
        """(t, node_id, term, leader_id) each time a node's (term, leader_id, ready) changed."""
        last: dict[str, tuple[Any, ...]] = {}
        changes = []
        for seen in self.observations(since, until):
            if not seen.answered:
                continue
            key = (seen.term, seen.leader_id, seen.cluster_ready)
            if seen.node_id in last and last[seen.node_id] != key:
                changes.append((seen.t, seen.node_id, seen.term, seen.leader_id))
            last[seen.node_id] = key
        return changes

    def __str__(self) -> str:
        """The test's events and the last observations, for failure messages."""
        with self._lock:
            events = list(self.events)
            recent = list(self.history[-3 * max(len(self.nodes), 1) :])
        t0 = events[0][0] if events else (recent[0].t if recent else 0.0)
        lines = [f"events: {[(round(t - t0, 2), what) for t, what in events]}", "recent health:"]
        lines += [
            f"  +{o.t - t0:.2f}s {o.node_id} {o.state} term={o.term} leader={o.leader_id} "
            f"ready={o.cluster_ready} {o.error or ''}"
            for o in recent
        ]
        return "\n".join([*lines, super().__str__()])
