"""Cluster-metrics benchmark (issue 12): metrics traffic, the leader's merge CPU, and what a
leader's death loses.

  1. Traffic: 3 real nodes (tests/cluster/harness.py) run a ``--seconds`` Rps plan with
     two scenarios of four steps in all against the tests' nginx. Each follower's
     ``/health/cluster`` ``metrics_sent_bytes`` (serialized NodeSnapshot bytes it pushed to
     the leader) is read at 5 s and 5 s before the end: bytes per node per second. The
     leader pushes nothing over gRPC, but commits its own report through Raft four times
     an interval and every node's each checkpoint, which Raft replicates to every
     follower; so every node's supervisor's written bytes (``/proc/<pid>/io`` wchar:
     sockets, log file) are also read, in the same window and in an idle window of the
     same length before the run.
  2. Merge CPU, in this process: realistic NodeReports (real ``Stats`` filled with
     log-normal latencies, four steps, through the wire form and back, as the leader
     holds them) for 5 and 20 simulated nodes; ``cluster_document`` (the leader's merge,
     once per CLUSTER_METRICS_INTERVAL) timed with ``time.process_time`` over
     ``--merges`` calls, plus the decode of each node's snapshot (``from_wire``) and a
     checkpoint (``to_text`` of every report, every 5 s); cProfile names what dominates.
  3. Failover reconciliation, ``--reps`` times: the leader-kill scenario of
     tests/cluster/test_cluster_results.py (3 nodes, Rps 300/s for 15 s, the leader
     killed -9 at 40 %), on a fresh cluster each time; from nginx's access log (the step
     path ``/f<rep>/n${node_index}`` tells nodes apart) each node's served count against
     its entry in the final cluster document, and each survivor's own local total.

    .venv/bin/python -m bench.cluster_metrics                   # everything, 10 reps
    .venv/bin/python -m bench.cluster_metrics --only merge --no-write

Writes its section of bench/RESULTS.md (between the cluster_metrics markers) unless
--no-write or --only. Goals (issue 12): traffic <= 2 KB/s per node; merge <= 5 % of a
core at 20 nodes; a leader kill loses <= one interval of its own requests, 0 of others'.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import platform
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.cluster_runs import make_cluster, new_run
from bench.results_md import replace_section
from loadtest_supervisor.cluster.cluster_results import cluster_document
from loadtest_supervisor.cluster.node_snapshot import (
    NodeReport,
    from_text,
    from_wire,
    to_text,
    to_wire,
)
from loadtest_supervisor.cluster.wire import loadtest_pb2
from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.metrics.stats import MergedStats, Stats
from loadtest_supervisor.metrics.timeline import timeline
from tests.cluster.api_client import TOKEN, node_results, post_run
from tests.cluster.harness import NodeProcess
from tests.cluster.test_cluster_results import METRICS, final_results
from tests.cluster.test_cluster_run import results_of, three_nodes
from tests.services import Nginx
from tests.support import wait_for

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN cluster_metrics -->", "<!-- END cluster_metrics -->"
TIMEOUT_S = 60.0
INTERVAL_S = 1.0  # CLUSTER_METRICS_INTERVAL, as METRICS sets it
CHECKPOINT_S = 5.0
RUN_S = 60.0  # how long the simulated nodes' reports have been running
TRAFFIC_RPS = 300
STEPS = {"browse / home": 3.0, "browse / page": 5.0, "api / token": 8.0, "api / echo": 12.0}
LATENCY_SIGMA = 0.6  # of the replayed log-normal latencies
ERROR_SHARE = 0.005  # of the replayed requests answered 5xx
KILL_AT = 0.4  # of the failover run's duration
RATE_WINDOW_S = 2  # the dead leader's rate is taken over this much before the kill
TRAFFIC_MARGIN_S = 5  # the traffic window leaves out the run's first and last seconds
FAILOVER_RPS, FAILOVER_SECONDS = 300, 15  # as the test has them


def scenario_plan(url: str, rate: int, seconds: int) -> str:
    return (
        f"target: {{url: '{url}'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s, workers: 1}}\n"
        "scenarios:\n"
        "  - name: browse\n    weight: 3\n    steps:\n"
        "      - {name: home, path: /home}\n      - {name: page, path: /page}\n"
        "  - name: api\n    weight: 1\n    steps:\n"
        "      - {name: token, path: /token}\n      - {name: echo, path: /echo}\n"
        "thresholds: ['p99 < 500ms', 'error_rate < 1%']\n"
    )


# --- 1. traffic ---


def grpc_sent(pids: dict[str, int], port: int, counter: str = "bytes_sent") -> dict[str, int]:
    """Bytes each node's process has sent (``counter="bytes_received"``: received) on its
    open cluster connections (Raft, metrics pushes, clock calls: local or peer port
    ``port``), from the kernel's TCP counters (``ss -tinp``: that counter of every
    established socket, by owning pid)."""
    text = subprocess.run(
        ["ss", "-tinpH", "state", "established"], capture_output=True, text=True, check=True
    ).stdout
    by_pid = {pid: node_id for node_id, pid in pids.items()}
    sent = dict.fromkeys(pids, 0)
    owner: str | None = None
    for line in text.splitlines():
        if not line.startswith(("\t", " ")):
            fields = line.split()
            ports = {fields[2].rsplit(":", 1)[1], fields[3].rsplit(":", 1)[1]}
            found = re.search(r"pid=(\d+)", line)
            owner = by_pid.get(int(found.group(1))) if found and str(port) in ports else None
        elif owner is not None and (m := re.search(rf"{counter}:(\d+)", line)):
            sent[owner] += int(m.group(1))
    return sent


@dataclass
class Traffic:
    seconds: int
    sent_per_s: dict[str, float]  # follower id -> metrics_sent_bytes per second
    sent_total: dict[str, int]  # follower id -> metrics_sent_bytes at the end
    idle_tcp_per_s: dict[str, float]  # node id -> cluster-port TCP bytes/s sent, idle
    run_tcp_per_s: dict[str, float]  # the same during the run
    leader: str
    total_hdr_bytes: dict[str, int] = field(default_factory=dict)  # the node's total HDR


def traffic(seconds: int, workdir: Path, nginx: Nginx) -> Traffic:
    cluster, leader, followers = three_nodes(make_cluster(workdir), **METRICS)
    nodes = [leader, *followers]
    pids = {n.node_id: n.pid for n in nodes}
    port = cluster.grpc_port or 0
    window = seconds - 2.0 * TRAFFIC_MARGIN_S
    with cluster:
        before = grpc_sent(pids, port)
        time.sleep(window)
        after = grpc_sent(pids, port)
        idle = {k: (after[k] - before[k]) / window for k in pids}
        plan = scenario_plan(nginx.url, TRAFFIC_RPS, seconds)
        status, reply = post_run(leader, plan.encode(), TOKEN)
        if status != 200:
            raise RuntimeError(f"POST /runs: {status} {reply}")
        run = new_run(leader, None)
        time.sleep(max(0.0, run["start_at"] + TRAFFIC_MARGIN_S - time.time()))
        sent0 = {n.node_id: n.health().get("metrics_sent_bytes", 0) for n in followers}
        tcp0, t0 = grpc_sent(pids, port), time.monotonic()
        time.sleep(window)
        sent1 = {n.node_id: n.health().get("metrics_sent_bytes", 0) for n in followers}
        tcp1, t1 = grpc_sent(pids, port), time.monotonic()
        wait_for(
            lambda: final_results(leader, run["run_id"]),
            timeout=seconds + TIMEOUT_S,
            what="the final cluster results",
        )
        total_sent = {n.node_id: n.health().get("metrics_sent_bytes", 0) for n in followers}
        hdr = {
            n.node_id: len(base64.b64decode(doc["latency_hdr"]))
            for n in nodes
            if (doc := node_results(n)) is not None
        }
    return Traffic(
        seconds,
        {k: (sent1[k] - sent0[k]) / (t1 - t0) for k in sent0},
        total_sent,
        idle,
        {k: (tcp1[k] - tcp0[k]) / (t1 - t0) for k in tcp0},
        leader.node_id,
        hdr,
    )


# --- 2. merge CPU ---


@dataclass
class Sent:
    """One node's reports as the leader's stream gets them: the previous interval's, then
    this one's, holding one interval more of requests."""

    earlier: NodeReport
    now: NodeReport

    def held(self) -> tuple[NodeReport, loadtest_pb2.NodeSnapshot]:
        """What the leader holds after the earlier report, and the snapshot that follows it
        on the stream (its histograms only the interval's)."""
        return from_wire(to_wire(self.earlier)), to_wire(self.now, since=self.earlier)


def node_reports(index: int, nodes: int, requests: int, rng: random.Random) -> Sent:
    """A node's cumulative reports: real Stats, log-normal latency per step around its
    median (ms), 0.5 % 5xx; ``requests`` in all, the last interval's 1/RUN_S of them."""
    total, steps = Stats(), {name: Stats() for name in STEPS}
    names, medians = list(STEPS), list(STEPS.values())

    def record(count: int) -> None:
        for _ in range(count):
            k = rng.randrange(len(names))
            latency_us = int(rng.lognormvariate(0, LATENCY_SIGMA) * medians[k] * 1000)
            status, error = (500, "http_5xx") if rng.random() < ERROR_SHARE else (200, None)
            total.record(status, latency_us, error)
            steps[names[k]].record(status, latency_us, error)

    def report(seq: int) -> NodeReport:
        return NodeReport(
            node_id=f"node-{index}",
            part_id=f"part-{index}",
            run_id="bench",
            seq=seq,
            term=3,
            # As a node sends it: with its total's latency figures read on the node.
            message={
                "total": total.snapshot(),
                "latency_ms": MergedStats.of([total.snapshot()]).latency_ms(),
                "steps": {name: s.snapshot() for name, s in steps.items()},
                "dropped": 0,
                "worker_restarts": 0,
            },
            joined_at=1000.0,
            duration_s=RUN_S,
            final=False,
            interrupted=False,
            share=1 / nodes,
        )

    per_interval = int(requests * INTERVAL_S / RUN_S)
    record(requests - per_interval)
    earlier = report(1)
    record(per_interval)
    return Sent(earlier, report(2))


@dataclass
class Merge:
    nodes: int
    requests_per_node: int
    merge_s: list[float]  # CPU s per cluster_document call
    decode_s: float  # CPU s to decode one node's snapshot (from_wire)
    checkpoint_s: float  # CPU s for one checkpoint of every report (to_text)
    wire_bytes: int  # one report's NodeSnapshot size on a stream (one interval's histograms)
    full_bytes: int  # the same report whole (a stream's first, a checkpoint's)
    hdr_bytes: dict[str, int]  # of it: the total's and each step's HDR encoding
    profile: str = ""

    @property
    def per_second(self) -> float:
        """CPU s per second of leading: a merge and every node's decode per interval, a
        checkpoint every CHECKPOINT_S."""
        return (
            statistics.median(self.merge_s)
            + self.nodes * self.decode_s
            + self.checkpoint_s / CHECKPOINT_S
        ) / INTERVAL_S


def merge_cpu(nodes: int, requests: int, merges: int, profile: bool) -> Merge:
    rng = random.Random(nodes)
    sent = [node_reports(i, nodes, requests, rng) for i in range(nodes)]
    streams = [one.held() for one in sent]
    began = time.process_time()
    reports = [from_wire(snapshot, base) for base, snapshot in streams]
    decode = (time.process_time() - began) / nodes
    plan = load_plan_text(scenario_plan("http://127.0.0.1:9/", 1000, 600), "bench")
    start = time.time() - 60
    run = {
        "run_id": "bench",
        "state": "running",
        "start_at": start,
        "end_at": start + 600,
        "shares": {
            r.node_id: {"index": i, "count": nodes, "workers": 2, "fraction": 1 / nodes}
            for i, r in enumerate(reports)
        },
    }
    times = []
    for _ in range(merges):
        began = time.process_time()
        document = cluster_document(plan, run, reports, time.time(), False, timeline([], []))
        times.append(time.process_time() - began)
    assert document["requests_total"] == nodes * requests
    began = time.process_time()
    texts = [to_text(r) for r in reports]
    checkpoint = time.process_time() - began
    assert from_text(texts[0]).requests == requests
    one = streams[0][1]
    hdr = {"total": len(one.total.latency)} | {k: len(v.latency) for k, v in one.steps.items()}
    full = to_wire(sent[0].now).ByteSize()
    result = Merge(nodes, requests, times, decode, checkpoint, one.ByteSize(), full, hdr)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        cluster_document(plan, run, reports, time.time(), False, timeline([], []))
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(8)
        result.profile = out.getvalue()
    return result


# --- 3. failover reconciliation ---


@dataclass
class Reconciled:
    served: dict[int, int]  # node index -> requests nginx served from it
    counted: dict[int, int]  # node index -> its requests_total in the final document
    dead: int  # the killed leader's index
    dead_rate: float  # its req/s in nginx's log over the 2 s before the kill
    survivors_match_local: bool  # each survivor's entry == its own local total

    @property
    def lost_dead(self) -> int:
        return self.served[self.dead] - self.counted[self.dead]

    @property
    def lost_survivors(self) -> int:
        return sum(self.served[i] - self.counted[i] for i in self.served if i != self.dead)


def reconcile_once(rep: int, workdir: Path, nginx: Nginx) -> Reconciled:
    prefix = f"/f{rep}/"
    plan = (
        f"target: {{url: '{nginx.url}{prefix[:-1]}'}}\n"
        f"load: {{model: Rps, target_rps: {FAILOVER_RPS}, duration: {FAILOVER_SECONDS}s, "
        "workers: 1}\n"
        "scenarios: [{name: s, steps: [{path: '/n${node_index}'}]}]\n"
    )
    cluster, leader, survivors = three_nodes(make_cluster(workdir), **METRICS)
    with cluster:
        status, reply = post_run(survivors[0], plan.encode(), TOKEN)
        if status != 200:
            raise RuntimeError(f"POST /runs: {status} {reply}")
        run = new_run(survivors[0], None)
        time.sleep(max(0.0, run["start_at"] + KILL_AT * FAILOVER_SECONDS - time.time()))
        killed = time.time()
        leader.kill9()
        cluster.wait_for_agreement(TIMEOUT_S)
        final = wait_for(
            lambda: final_results(survivors[0], run["run_id"]),
            timeout=FAILOVER_SECONDS + TIMEOUT_S,
            what="the final cluster results under the new leader",
        )
        local = wait_for(lambda: results_of(survivors), timeout=TIMEOUT_S, what="local results")
    by_index: dict[int, NodeProcess] = {
        d["run"]["index"]: n for n, d in zip(survivors, local, strict=True)
    }
    dead = ({0, 1, 2} - set(by_index)).pop()
    by_index[dead] = leader
    served = dict.fromkeys(range(3), 0)
    recent = 0
    for hit in nginx.hits():
        if hit.path.startswith(prefix + "n"):
            index = int(hit.path[len(prefix) + 1 :])
            served[index] += 1
            recent += index == dead and killed - RATE_WINDOW_S <= hit.at < killed
    counted = {i: final["nodes"][n.node_id]["requests_total"] for i, n in by_index.items()}
    match = all(
        final["nodes"][n.node_id]["requests_total"] == d["requests_total"]
        for n, d in zip(survivors, local, strict=True)
    )
    result = Reconciled(served, counted, dead, recent / RATE_WINDOW_S, match)
    print(
        f"  rep {rep + 1}: served {served}, counted {counted}, dead {dead}: lost "
        f"{result.lost_dead} of its own ({result.dead_rate:.0f}/s), {result.lost_survivors} "
        f"of the survivors'; survivors' local totals match: {match}",
        flush=True,
    )
    return result


# --- report ---


def render(
    args: argparse.Namespace,
    command: str,
    flow: Traffic | None,
    merges: list[Merge],
    reps: list[Reconciled],
) -> str:
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    lines = [
        BEGIN,
        "## Cluster metrics (bench/cluster_metrics.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {cpu}, "
        f"Linux {platform.release()}; load average before / after: {args.load_before} / "
        f"{os.getloadavg()[0]:.2f}",
        f"- Command: `{command}`",
    ]
    goals: list[tuple[str, bool]] = []
    if flow is not None:
        lines += [
            "",
            "### Metrics traffic",
            "",
            f"3 nodes, `CLUSTER_METRICS_INTERVAL={INTERVAL_S:g}s`, "
            f"Rps {TRAFFIC_RPS}/s for {flow.seconds} s, "
            "two scenarios of two steps each (weights 3:1), 1 worker per node. "
            "`metrics_sent_bytes`: serialized NodeSnapshot bytes a follower pushed to the "
            "leader over `Coordination.PushMetrics` (protobuf, before gRPC framing and TLS), "
            f"per second from {TRAFFIC_MARGIN_S} s to {flow.seconds - TRAFFIC_MARGIN_S} s into "
            "the run. TCP: the bytes each "
            "node's process sent on its established connections to or from the cluster "
            "port (Raft, metrics pushes, clock calls; the kernel's `bytes_sent` via `ss "
            "-tinp`, headers of TCP/IP not included), idle (the same cluster for as long "
            "before the run) and in the same window of the run; the difference is what "
            "the run's metrics cost on the wire, the leader's own reports and checkpoints "
            "replicated by Raft included.",
            "",
            "| node | role | snapshot bytes/s pushed | total pushed | TCP bytes/s idle | TCP "
            "bytes/s in the run | run − idle | total HDR bytes at the end |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for node_id in sorted(flow.run_tcp_per_s):
            role = "leader" if node_id == flow.leader else "follower"
            pushed = flow.sent_per_s.get(node_id)
            idle, busy = flow.idle_tcp_per_s[node_id], flow.run_tcp_per_s[node_id]
            lines.append(
                f"| {node_id} | {role} | {'—' if pushed is None else f'{pushed:,.0f}'} | "
                f"{flow.sent_total.get(node_id, 0):,} | {idle:,.0f} | {busy:,.0f} | "
                f"{busy - idle:,.0f} | {flow.total_hdr_bytes.get(node_id, 0):,} |"
            )
        worst = max(flow.sent_per_s.values())
        wire = {k: flow.run_tcp_per_s[k] - flow.idle_tcp_per_s[k] for k in flow.run_tcp_per_s}
        lines += [
            "",
            "The leader pushes no snapshot, but it commits its own report through Raft more "
            "often than once an interval (`leader_metrics`, design §9) and every report each "
            "checkpoint, and Raft sends each commit to every follower: its run − idle row is "
            "that.",
        ]
        goals.append(
            (
                f"on the wire (TCP run − idle) ≤ 2 KB/s, every node (max: "
                f"{max(wire.values()):,.0f} B/s, {max(wire, key=wire.__getitem__)})",
                max(wire.values()) <= 2048,
            )
        )
        goals.append(
            (f"snapshots pushed ≤ 2 KB/s per follower (max: {worst:,.0f} B/s)", worst <= 2048)
        )
    if merges:
        lines += [
            "",
            "### Leader CPU for aggregation",
            "",
            "In-process replay: each simulated node's cumulative report holds "
            f"{merges[0].requests_per_node:,} requests of real `Stats` (log-normal latency "
            f"around a median of {', '.join(f'{v:g}' for v in STEPS.values())} ms per step, "
            f"σ {LATENCY_SIGMA:g}, {ERROR_SHARE * 100:g} % 5xx), {len(STEPS)} steps, "
            "taken through the wire form and back as the leader holds them: the previous "
            "interval's report whole, then this interval's "
            f"(1/{RUN_S / INTERVAL_S:g} of the requests) as a stream sends it, its histograms "
            "only the interval's. *merge*: one "
            "`cluster_document` call (what the leader does once per interval), CPU time "
            f"(`time.process_time`), median of {args.merges}; *decode*: `from_wire` of one "
            "node's snapshot onto the report held (the leader's gRPC servicer does it for "
            "every push); "
            f"*checkpoint*: `to_text` of every report (every {CHECKPOINT_S:g} s). "
            "% of one core at one merge and one push per node per second.",
            "",
            "| nodes | merge ms (median) | merge ms (max) | decode ms per node | checkpoint ms "
            "| % of one core | snapshot bytes on a stream | whole | of which HDR on a stream: "
            "total, steps |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for m in merges:
            steps = ", ".join(f"{v:,}" for k, v in m.hdr_bytes.items() if k != "total")
            lines.append(
                f"| {m.nodes} | {statistics.median(m.merge_s) * 1000:.1f} | "
                f"{max(m.merge_s) * 1000:.1f} | {m.decode_s * 1000:.2f} | "
                f"{m.checkpoint_s * 1000:.1f} | {m.per_second:.1%} | {m.wire_bytes:,} | "
                f"{m.full_bytes:,} | "
                f"{m.hdr_bytes['total']:,}; {steps} |"
            )
        at20 = next((m for m in merges if m.nodes == 20), merges[-1])
        goals.append(
            (
                f"aggregation ≤ 5 % of a core at {at20.nodes} nodes ({at20.per_second:.1%})",
                at20.per_second <= 0.05,
            )
        )
        if at20.profile:
            lines += [
                "",
                f"cProfile of one merge at {at20.nodes} nodes (by own time):",
                "",
                "```",
                *_profile_rows(at20.profile),
                "```",
            ]
    if reps:
        lost = [r.lost_dead for r in reps]
        allowed = [r.dead_rate * INTERVAL_S for r in reps]
        lines += [
            "",
            "### Failover reconciliation",
            "",
            f"The leader-kill scenario of `tests/cluster/test_cluster_results.py`, {len(reps)} "
            f"times on a fresh 3-node cluster: Rps {FAILOVER_RPS}/s for {FAILOVER_SECONDS} s, "
            f"`CLUSTER_METRICS_INTERVAL={INTERVAL_S:g}s`, "
            f"`CLUSTER_CHECKPOINT_INTERVAL={CHECKPOINT_S:g}s`, the leader "
            f"killed -9 at {KILL_AT:.0%}. Served: requests nginx logged from each node (its "
            "`${node_index}` in the path); counted: its `requests_total` in the final "
            "cluster document. The dead leader's rate is its own in nginx's log over the "
            f"{RATE_WINDOW_S} s before the kill; one interval of it is what it may lose.",
            "",
            "| rep | dead leader: served | counted | lost | its rate /s | lost in intervals "
            "| survivors: served − counted | survivors' entries = their local totals |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for i, r in enumerate(reps):
            lines.append(
                f"| {i + 1} | {r.served[r.dead]:,} | {r.counted[r.dead]:,} | {r.lost_dead} | "
                f"{r.dead_rate:.0f} | {r.lost_dead / max(r.dead_rate, 1):.2f} | "
                f"{r.lost_survivors} | {'yes' if r.survivors_match_local else '**no**'} |"
            )
        lines.append(
            f"\nLost by the dead leader, requests: min {min(lost)}, median "
            f"{statistics.median(lost):g}, max {max(lost)}."
        )
        goals.append(
            (
                "a leader kill loses ≤ one interval of its own requests, every rep",
                all(x <= a for x, a in zip(lost, allowed, strict=True)),
            )
        )
        goals.append(
            (
                "0 lost from the survivors, and their entries = their local totals",
                all(r.lost_survivors == 0 and r.survivors_match_local for r in reps),
            )
        )
    lines += ["", "| goal | result |", "| --- | --- |"]
    lines += [f"| {goal} | {'met' if ok else '**not met**'} |" for goal, ok in goals]
    lines.append(END)
    return "\n".join(lines) + "\n"


def _profile_rows(text: str) -> list[str]:
    rows = text.splitlines()
    start = next(i for i, row in enumerate(rows) if row.lstrip().startswith("ncalls"))
    return [row.rstrip() for row in rows[start:] if row.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="traffic: the run's length")
    parser.add_argument("--nodes", default="5,20", help="merge: simulated node counts")
    parser.add_argument("--requests", type=int, default=60_000, help="merge: per node report")
    parser.add_argument("--merges", type=int, default=20, help="merge: calls timed per size")
    parser.add_argument("--reps", type=int, default=10, help="failover reconciliation runs")
    parser.add_argument("--only", default="", help="traffic,merge,failover (prints only)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    args.load_before = f"{os.getloadavg()[0]:.2f}"
    only = set(filter(None, args.only.split(","))) or {"traffic", "merge", "failover"}
    command = " ".join([".venv/bin/python -m bench.cluster_metrics", *(argv or sys.argv[1:])])
    flow: Traffic | None = None
    merges: list[Merge] = []
    reps: list[Reconciled] = []
    if "merge" in only:
        for n in (int(x) for x in args.nodes.split(",")):
            merges.append(merge_cpu(n, args.requests, args.merges, profile=True))
            m = merges[-1]
            print(f"  merge {n} nodes: {m.per_second:.1%} of a core", flush=True)
            print(m.profile, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-metrics-") as tmp:
        workdir = Path(tmp)
        with Nginx(workdir / "nginx", access_log=True) as nginx:
            if "traffic" in only:
                flow = traffic(args.seconds, workdir / "traffic", nginx)
                print(f"  traffic: {flow}", flush=True)
            if "failover" in only:
                for rep in range(args.reps):
                    reps.append(reconcile_once(rep, workdir / f"failover-{rep}", nginx))
    section = render(args, command, flow, merges, reps)
    print(section)
    if not args.no_write and not args.only:
        replace_section(RESULTS, BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
