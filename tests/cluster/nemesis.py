"""One nemesis run: 5 real nodes found through a real Consul agent, one real run of a plan
from a (fake) GCS bucket against nginx, and a seeded fault schedule while it runs; then
every checker over what the nodes, nginx and the health polls recorded.

    report = run_nemesis(workdir, duration_s=150, seed=7)
    print("\\n".join(report.lines()))
    assert report.violations == []

Shared by tests/cluster/test_nemesis.py (minutes, in CI) and bench/nemesis.py (as long as
asked). Everything it starts is its own (Consul agent, fake GCS, nginx, nodes, iptables
rules and cgroups) and is stopped or removed when it returns, pass or fail.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster import nemesis_checks as checks
from tests.cluster.fault_harness import FaultHarness, Observation
from tests.cluster.faults import Faults
from tests.cluster.harness import NodeProcess
from tests.cluster.nemesis_faults import GcsPlan, Injected, Nemesis
from tests.cluster.nemesis_schedule import KINDS, Fault, draw_schedule
from tests.cluster.test_cluster_results import final_results
from tests.consul.consul_cluster import consul_env
from tests.services import ConsulAgent, FakeGcs, Nginx
from tests.support import wait_for

NODES = 5
RATE = 100  # arrivals/s for the whole cluster: ~20 a node, light on a shared 2-core box
PATH = "/nemesis"
FORM_S = 60.0
# After the schedule: the liveness window (10 s) and a margin, all inside the run, so the
# totals cover the cluster settling too.
TAIL_S = 20.0
FINAL_S = 60.0  # for the final results once the run has ended


@dataclass
class NemesisReport:
    seed: int
    duration_s: float
    rate: float
    schedule: list[Fault]
    injected: list[Injected] = field(default_factory=list)
    skipped: int = 0  # faults not applied: the schedule overran its window
    run_id: str = ""
    elections: int = 0
    max_leaderless_s: float = 0.0
    liveness: checks.Liveness | None = None
    totals: checks.Totals | None = None
    applied: checks.AppliedSummary | None = None
    violations: list[str] = field(default_factory=list)

    @property
    def faults_by_kind(self) -> dict[str, int]:
        counted = Counter(done.fault.kind for done in self.injected)
        return {kind: counted.get(kind, 0) for kind in KINDS}

    def lines(self) -> list[str]:
        """The report, as printed after a run."""
        totals, live = self.totals, self.liveness
        lines = [
            f"nemesis seed={self.seed} duration={self.duration_s:.0f}s nodes={NODES} "
            f"rate={self.rate:.0f}/s run={self.run_id}",
            "faults: "
            + " ".join(f"{k}={n}" for k, n in self.faults_by_kind.items())
            + f" (total {len(self.injected)}, skipped {self.skipped})",
            f"elections (terms with a leader): {self.elections}; "
            f"max time without a leader: {self.max_leaderless_s:.2f}s",
        ]
        if live is not None:
            lines.append(
                f"after the last heal: a leader after {_s(live.leader_after_s)}, "
                f"every node follower or leader after {_s(live.all_ready_after_s)}"
            )
        if totals is not None:
            lines.append(
                f"requests: nginx served {totals.served}, cluster counted {totals.counted}, "
                f"lost {totals.lost} (bound {totals.bound:.0f} for {totals.kills_in_run} kills)"
            )
        if self.applied is not None:
            lines.append(
                f"applied commands: {self.applied.indexes} indexes; per node "
                + ", ".join(f"{n}={c}" for n, c in sorted(self.applied.entries.items()))
            )
        lines.append(f"violations: {len(self.violations)}")
        lines += [f"  - {v}" for v in self.violations]
        lines.append(f"reproduce: NEMESIS_SEED={self.seed} (bench: --seed {self.seed})")
        return lines


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


def plan_yaml(nginx: Nginx, rate: float, seconds: float) -> bytes:
    return (
        f"target: {{url: '{nginx.url}{PATH}'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds:.0f}s, workers: 1}}\n"
    ).encode()


def run_nemesis(
    workdir: Path,
    duration_s: float,
    seed: int,
    *,
    rate: float = RATE,
    say: Callable[[str], None] = print,
) -> NemesisReport:
    """Run the schedule drawn from ``seed`` for ``duration_s`` on a fresh cluster and
    return the report (violations included; it raises only when the cluster could not
    be set up or never produced results)."""
    schedule = draw_schedule(seed, duration_s, NODES)
    report = NemesisReport(seed, duration_s, rate, schedule)
    say(f"nemesis: seed={seed} duration={duration_s:.0f}s, {len(schedule)} faults drawn:")
    for fault in schedule:
        say(f"  {fault}")
    with ExitStack() as stack:
        faults = stack.enter_context(Faults())
        agent = stack.enter_context(ConsulAgent(workdir / "consul"))
        nginx = stack.enter_context(Nginx(workdir / "nginx", access_log=True))
        gcs = FakeGcs(workdir / "gcs").start()
        stack.callback(gcs.stop)
        plan = GcsPlan(gcs, f"nemesis-{uuid.uuid4().hex[:8]}", "plan.yaml", b"")
        plan.plan = plan_yaml(nginx, rate, duration_s + TAIL_S)
        plan.put()
        env = consul_env(
            agent,
            "nemesis",
            CONSUL_BOOTSTRAP_EXPECT=str(NODES),
            CLUSTER_CONFIG_SOURCE="gcs",
            CLUSTER_CONFIG_URI=plan.uri,
            CLUSTER_CONFIG_POLL="1s",
            **gcs.env(),
        )
        cluster = FaultHarness(workdir / "cluster", faults, env=env)
        stack.callback(cluster.close)  # before the rules and cgroups go (LIFO)
        cluster.start(NODES)
        cluster.wait_agreed(timeout=FORM_S)
        run = _run_everywhere(cluster)
        report.run_id = run["run_id"]
        wait_for(lambda: time.time() >= run["start_at"], timeout=FORM_S, what="the run's start")

        began = cluster.event("nemesis begins")
        nemesis = Nemesis(cluster, agent, plan, say)
        for fault in schedule:
            if time.monotonic() + fault.hold > began + duration_s:
                report.skipped += 1
                continue
            nemesis.apply(fault, began)
        report.injected = nemesis.injected
        healed_at = nemesis.injected[-1].healed if nemesis.injected else began
        time.sleep(max(0.0, healed_at + checks.ALL_READY_WITHIN_S + 1 - time.monotonic()))
        ended = cluster.event("nemesis ends")

        final = wait_for(
            lambda: _final_from_any(cluster.nodes, run["run_id"]),
            timeout=max(0.0, run["end_at"] - time.time()) + FINAL_S,
            what="the run's final cluster results",
            detail=cluster.__str__,
        )
        time.sleep(0.5)  # nginx logs a request once answered
        served = sum(1 for hit in nginx.hits() if hit.path == PATH)
        observations = cluster.observations()
        harness_leaders = cluster.leaders_per_term()
        cluster.close()
        logs = {node.node_id: node.log() for node in cluster.nodes}
        applied = {node.node_id: checks.read_applied(node.data_dir) for node in cluster.nodes}

    evidence = Evidence(
        run=run,
        final=final,
        served=served,
        observations=observations,
        harness_leaders=harness_leaders,
        logs=logs,
        applied=applied,
        node_ids=[n.node_id for n in cluster.nodes],
        began=began,
        ended=ended,
        healed_at=healed_at,
    )
    _judge(report, evidence)
    for line in report.lines():
        say(line)
    return report


@dataclass
class Evidence:
    """What a run left to judge. Times are time.monotonic(), the run record's epoch."""

    run: dict[str, Any]  # the run record: run_id, start_at, end_at
    final: dict[str, Any]  # the cluster's final results document
    served: int  # nginx's access log lines for the run's path
    observations: list[Observation]
    harness_leaders: dict[int, set[str]]
    logs: dict[str, str]  # node id -> its whole log, every life
    applied: dict[str, list[str]]  # node id -> its applied.log lines
    node_ids: list[str]
    began: float  # the fault window
    ended: float
    healed_at: float  # the last fault's heal


def _judge(report: NemesisReport, e: Evidence) -> None:
    violations = report.violations
    named = checks.leaders_by_term(e.logs)
    violations += checks.check_one_leader_per_term(named)
    violations += [
        f"health polls: {v}" for v in checks.check_one_leader_per_term(e.harness_leaders)
    ]
    report.elections = sum(1 for ids in named.values() if ids)
    found, report.applied = checks.check_applied(e.applied)
    violations += found
    excused = checks.excused_intervals(report.injected, e.observations)
    violations += checks.check_health_answered(e.observations, excused)
    report.liveness = checks.liveness(e.observations, e.node_ids, e.healed_at)
    violations += checks.check_liveness(report.liveness)
    report.max_leaderless_s = checks.max_leaderless_s(e.observations, e.began, e.ended)
    violations += checks.check_no_traceback(e.logs)
    violations += checks.check_no_worker_left(report.injected)
    # Reports of a part go on until the final document is committed: a kill up to then
    # can lose its last interval.
    bound, kills = checks.loss_bound(
        report.injected, report.rate, e.run["start_at"], e.run["end_at"] + 5.0
    )
    found, report.totals = checks.check_totals(e.final, e.served, bound, kills)
    violations += found
    missing = sorted(set(e.node_ids) - set(e.final["nodes"]))
    if missing:
        violations.append(f"nodes missing from the final results: {missing}")


def _run_everywhere(cluster: FaultHarness) -> dict[str, Any]:
    """The run record, once every node shows the same one."""

    def agreed() -> dict[str, Any] | None:
        runs = [
            doc.get("run") if isinstance(doc, dict) else None
            for doc in cluster.all_health().values()
        ]
        ids = {run["run_id"] if run else None for run in runs}
        return runs[0] if len(runs) == NODES and len(ids) == 1 and None not in ids else None

    return wait_for(agreed, timeout=FORM_S, what="the run on every node", detail=cluster.__str__)


def _final_from_any(nodes: list[NodeProcess], run_id: str) -> dict[str, Any] | None:
    for node in nodes:
        if not node.running():
            continue
        try:
            found = final_results(node, run_id)
        except Exception:  # this one does not answer: ask the next
            continue
        if found is not None:
            return found
    return None
