"""Applying the drawn faults (``nemesis_schedule``) to a live cluster, and recording
exactly what was done, to whom and when: what the checkers excuse and judge.

    nemesis = Nemesis(cluster, consul, plan, say=print)
    for fault in schedule:
        nemesis.apply(fault, started_at)       # waits for the fault's time, holds, heals
    nemesis.injected                           # one Injected per fault

Signals and partitions are the fault tests' own (``FaultHarness``, ``faults.py``). A
kill -9 hits the node's supervisor alone, as the OOM killer would: its load workers
must notice and exit by themselves (design §8: "when its supervisor dies (kill -9
included) it reads EOF and exits"), so the processes left in the node's cgroup are
counted after each one.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.cluster import faults as fault_tools
from tests.cluster.fault_harness import FaultHarness
from tests.cluster.harness import NodeProcess
from tests.cluster.nemesis_schedule import Fault
from tests.services import ConsulAgent, FakeGcs
from tests.support import pid_alive

WORKERS_EXIT_S = 5.0  # a worker reads EOF at once; 5 s leaves room for a busy machine


@dataclass
class Injected:
    """What one fault did. Times are time.monotonic(); ``healed`` is when the heal was
    done (a killed node restarted, a stopped one resumed, the cut removed, Consul or
    the source serving again)."""

    fault: Fault
    nodes: tuple[str, ...]  # node ids it hit (none for Consul and the source)
    began: float
    healed: float = 0.0
    wall_began: float = 0.0  # time.time(), to line up with the run and nginx's log
    share: float | None = None  # kill9: the victim's share of the run when it died
    left_behind: list[int] = field(default_factory=list)  # kill9: pids alive after 5 s

    def __str__(self) -> str:
        extra = f" share={self.share:.3f}" if self.share is not None else ""
        if self.left_behind:
            extra += f" LEFT BEHIND={self.left_behind}"
        return f"{self.fault} -> {list(self.nodes)} for {self.healed - self.began:.1f}s{extra}"


class GcsPlan:
    """The run's plan as an object in a fake GCS server of the nemesis's own."""

    def __init__(self, gcs: FakeGcs, bucket: str, name: str, plan: bytes) -> None:
        self.gcs = gcs
        self.bucket = bucket
        self.name = name
        self.plan = plan

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}"

    def put(self) -> None:
        """Create the bucket and upload the plan (the in-memory server starts empty)."""
        bucket = self.gcs.client().create_bucket(self.bucket)
        bucket.blob(self.name).upload_from_string(self.plan)

    def outage(self) -> None:
        self.gcs.stop()

    def restore(self) -> None:
        """Back, same address, same plan (a new generation of the same text)."""
        self.gcs.start()
        self.put()


class Nemesis:
    """Applies faults to ``cluster``, its Consul agent and its plan source."""

    def __init__(
        self,
        cluster: FaultHarness,
        consul: ConsulAgent,
        plan: GcsPlan,
        say: Callable[[str], None] = print,
    ) -> None:
        self.cluster = cluster
        self.consul = consul
        self.plan = plan
        self.say = say
        self.injected: list[Injected] = []

    def apply(self, fault: Fault, started_at: float) -> Injected:
        """Wait until the fault is due (``started_at`` + its offset), apply it, hold it,
        heal it; returns (and keeps) what was done."""
        pause = started_at + fault.at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        apply = getattr(self, f"_{fault.kind}")
        done: Injected = apply(fault)
        self.injected.append(done)
        self.say(f"nemesis: {done}")
        return done

    # --- who ---------------------------------------------------------------------------

    def _leader(self) -> NodeProcess | None:
        """The node the latest answers name leader (the one saying so itself)."""
        latest = self.cluster.latest([n.node_id for n in self.cluster.nodes])
        leaders = [o for o in latest.values() if o.state == "leader" and o.cluster_ready]
        if len(leaders) != 1:
            return None
        return self.cluster.node_by_id(leaders[0].node_id)

    def _targets(self, fault: Fault) -> list[NodeProcess]:
        """The leader (when aimed at it and there is one) and the followers the picks rank."""
        leader = self._leader()
        others = sorted((n for n in self.cluster.nodes if n is not leader), key=lambda n: n.node_id)
        chosen = [others[rank % len(others)] for rank in fault.picks]
        if not fault.leader:
            return chosen
        if leader is None:  # mid-election: the first node not already picked instead
            return [next(n for n in others if n not in chosen), *chosen]
        return [leader, *chosen]

    def _begin(self, fault: Fault, nodes: list[NodeProcess], what: str) -> Injected:
        ids = tuple(n.node_id for n in nodes)
        began = self.cluster.event(f"nemesis #{fault.number} {what} {list(ids)}")
        return Injected(fault, ids, began, wall_began=time.time())

    def _heal(self, done: Injected, what: str) -> Injected:
        done.healed = self.cluster.event(f"nemesis #{done.fault.number} {what}")
        return done

    # --- the faults --------------------------------------------------------------------

    def _kill9(self, fault: Fault) -> Injected:
        (victim,) = self._targets(fault)
        share = self._share(victim)
        cgroup = self.cluster.cgroups[victim.host]
        done = self._begin(fault, [victim], "kill -9 supervisor of")
        done.share = share
        os.kill(victim.pid, signal.SIGKILL)  # the supervisor only: its workers must follow
        deadline = time.monotonic() + WORKERS_EXIT_S
        while (left := _processes_in(cgroup, but=victim.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        done.left_behind = left
        victim.kill9()  # reaps the supervisor; kills whatever was left behind
        time.sleep(fault.hold)
        victim.start()
        return self._heal(done, f"restarted {victim.node_id}")

    def _sigstop(self, fault: Fault) -> Injected:
        (victim,) = self._targets(fault)
        done = self._begin(fault, [victim], "SIGSTOP")
        fault_tools.sigstop(victim.pid)
        try:
            time.sleep(fault.hold)
        finally:
            fault_tools.sigcont(victim.pid)
        return self._heal(done, f"SIGCONT {victim.node_id}")

    def _minority_partition(self, fault: Fault) -> Injected:
        side = self._targets(fault)
        done = self._begin(fault, side, "cut off")
        cuts = self.cluster.partition(side)
        try:
            time.sleep(fault.hold)
        finally:
            self.cluster.heal(cuts)
        return self._heal(done, "healed")

    def _majority_ring(self, fault: Fault) -> Injected:
        ring = [self.cluster.nodes[i] for i in fault.picks]
        n = len(ring)
        done = self._begin(fault, ring, "ring")
        cuts = []
        try:
            for i in range(n):  # each node keeps its two neighbours: 3 of 5, a majority
                for far in range(2, n - 1):
                    if i < (i + far) % n:
                        cuts += self.cluster.partition([ring[i]], [ring[(i + far) % n]])
            time.sleep(fault.hold)
        finally:
            self.cluster.heal(cuts)
        return self._heal(done, "ring healed")

    def _consul_restart(self, fault: Fault) -> Injected:
        done = self._begin(fault, [], "consul agent stopped")
        self.consul.stop()
        time.sleep(fault.hold)
        self.consul.start()
        return self._heal(done, "consul agent serving")

    def _source_outage(self, fault: Fault) -> Injected:
        done = self._begin(fault, [], "plan source stopped")
        self.plan.outage()
        time.sleep(fault.hold)
        self.plan.restore()
        return self._heal(done, "plan source serving")

    def _share(self, node: NodeProcess) -> float | None:
        """The node's share of the run, from the leader's live results (None if unknown)."""
        leader = self._leader()
        if leader is None:
            return None
        url = f"http://{leader.health_addr}/results?scope=cluster"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                document = json.loads(response.read())
            return float(document["nodes"][node.node_id]["share"])
        except Exception:  # no live document at this instant: the checker uses the bound
            return None


def _processes_in(cgroup: str, but: int) -> list[int]:
    """Live processes (zombies excluded) in the node's cgroup, other than ``but``."""
    procs = fault_tools.cgroup2_root() / cgroup / "cgroup.procs"
    try:
        pids = [int(line) for line in procs.read_text().split()]
    except OSError:
        return []
    return [pid for pid in pids if pid != but and pid_alive(pid)]
