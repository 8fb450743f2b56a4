"""Cluster-runs benchmark (issue 11): start skew, re-split time and rate, cluster overhead.

On this machine's loopback, real ``loadtest-supervisor`` nodes (tests/cluster/harness.py)
against the tests' nginx (tests/services), plans posted with ``POST /runs``:
  1. Start skew, for each size in ``--nodes``: ``--runs`` back-to-back runs of a short
     Rps plan (200/s per node, 1 worker each), once with a fresh plan each time (its
     query string changes, so each is a new commit) and once with the same plan posted
     again. Per node and run: its first request in nginx's access log (``$msec``; the
     step path ``/n${node_index}`` tells nodes apart) minus the committed ``start_at``
     (``/health/cluster``; every node shares this machine's clock).
  2. Re-split, ``--resplit-reps`` times on a fresh 3-node cluster: a 600/s Rps run; 5 s
     in, kill -9 a follower; time from the kill to each survivor's ``share_changed`` log
     line (its ``ts=``), and the cluster's rate per 250 ms bin from the access log.
  3. Overhead, ``--overhead-pairs`` pairs: a 3-node cluster run of a closed-model plan
     (Concurrent, 3 x ``--users``, one worker per node) against three standalone runs of
     one node's part side by side (``--users`` each), so both load the same 2 cores the
     same way; per node, req/s and CPU per request over a steady 10 s window.

    .venv/bin/python -m bench.cluster_runs                      # everything, 20 runs, 3,5
    .venv/bin/python -m bench.cluster_runs --runs 5 --nodes 3 --only skew --no-write

Writes its section of bench/RESULTS.md (between the cluster_runs markers) unless
--no-write or --only. Goals (issue 11): skew p99 <= 20 ms; re-split <= 3 s; overhead
>= 95 %.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results_md import replace_section
from bench.throughput.measure import CLK_TCK, tree_cpu
from tests.cluster.api_client import TOKEN, post_run, stop_run
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_run import three_nodes
from tests.engine.cli import start_cli
from tests.services import Nginx
from tests.support import wait_for

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN cluster_runs -->", "<!-- END cluster_runs -->"
SECRET = "bench-cluster-runs-secret"
TIMEOUT_S = 60.0

SKEW_RPS_PER_NODE = 200
SKEW_SECONDS = 2
RESPLIT_RPS, RESPLIT_SECONDS, KILL_AFTER_S = 600, 30, 5.0
BIN_S, BINS_BEFORE, BINS_AFTER = 0.25, 8, 32  # the rate window: 2 s before, 8 s after
OVERHEAD_SECONDS, WINDOW = 20, (5.0, 15.0)  # the steady window, s after the run's start

_SHARE_CHANGED = re.compile(r"ts=(\S+)Z .*event=share_changed ")


def make_cluster(workdir: Path) -> Callable[..., ClusterHarness]:
    workdir.mkdir(parents=True)

    def make(env: dict[str, str] | None = None) -> ClusterHarness:
        return ClusterHarness(workdir, env={"CLUSTER_SECRET": SECRET, **(env or {})})

    return make


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 60 values is the 60th: the max)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))]


# --- 1. start skew ---


def skew_plan(nginx: Nginx, nodes: int, tag: str) -> bytes:
    return (
        f"target: {{url: '{nginx.url}'}}\n"
        f"load: {{model: Rps, target_rps: {SKEW_RPS_PER_NODE * nodes}, "
        f"duration: {SKEW_SECONDS}s, workers: 1}}\n"
        "scenarios:\n"
        "  - name: skew\n"
        "    steps:\n"
        "      - path: /n${node_index}\n"
        f"        query: {{r: '{tag}'}}\n"
    ).encode()


def new_run(node: NodeProcess, previous: str | None) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        run = node.health().get("run")
        return run if run and run["run_id"] != previous else None

    return wait_for(found, timeout=TIMEOUT_S, interval=0.02, what="the new run record")


def all_finished(cluster: ClusterHarness, run_id: str) -> bool:
    return cluster.all_show(
        lambda doc: doc.get("run", {}).get("run_id") == run_id and doc["run"]["state"] == "finished"
    )


@dataclass
class SkewSeries:
    nodes: int
    fresh: bool
    skew_ms: list[float] = field(default_factory=list)  # every node of every run
    late_nodes: int = 0  # runs x nodes with no request logged


def skew_series(
    cluster: ClusterHarness, nginx: Nginx, runs: int, fresh: bool, previous: str | None
) -> tuple[SkewSeries, str | None]:
    n = len(cluster.nodes)
    series = SkewSeries(n, fresh)
    poster = cluster.nodes[0]
    # The same plan is committed once first (a fresh commit), then posted `runs` times.
    for k in range(runs if fresh else runs + 1):
        tag = f"{n}-fresh-{k}" if fresh else f"{n}-same"
        offset = len(nginx.hits())
        status, reply = post_run(poster, skew_plan(nginx, n, tag), TOKEN)
        if status != 200:
            raise RuntimeError(f"POST /runs: {status} {reply}")
        run = new_run(poster, previous)
        previous = run["run_id"]
        wait_for(
            lambda rid=run["run_id"]: all_finished(cluster, rid),
            timeout=SKEW_SECONDS + TIMEOUT_S,
            what="every node to see the run finished",
        )
        if not fresh and k == 0:
            continue
        hits = nginx.hits()[offset:]
        line = []
        for index in range(n):
            mine = [h.at for h in hits if h.path.startswith(f"/n{index}?r={tag}")]
            if not mine:
                series.late_nodes += 1
                continue
            skew = (min(mine) - run["start_at"]) * 1000
            series.skew_ms.append(skew)
            line.append(f"{skew:.1f}")
        kind = "fresh" if fresh else "same"
        print(f"  {n} nodes, {kind} plan, run {k}: skew ms {', '.join(line)}", flush=True)
    return series, previous


def start_skew(nodes: int, runs: int, workdir: Path, nginx: Nginx) -> list[SkewSeries]:
    workdir.mkdir(parents=True)
    with ClusterHarness(
        workdir, env={"CLUSTER_SECRET": SECRET, "CLUSTER_API_TOKEN": TOKEN}
    ) as cluster:
        cluster.start(nodes)
        cluster.wait_for_agreement(TIMEOUT_S)
        fresh, last = skew_series(cluster, nginx, runs, True, None)
        same, _ = skew_series(cluster, nginx, runs, False, last)
    return [fresh, same]


# --- 2. re-split ---


@dataclass
class Resplit:
    applied_s: list[float]  # kill -> share_changed, per survivor
    bins: list[float]  # the cluster's rate per bin, as a fraction of the plan's

    @property
    def all_applied_s(self) -> float:
        return max(self.applied_s)


def log_walls(text: str, pattern: re.Pattern[str]) -> list[float]:
    return [
        datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
        for stamp in pattern.findall(text)
    ]


def resplit_once(rep: int, workdir: Path, nginx: Nginx) -> Resplit:
    prefix = f"/resplit{rep}/"
    plan = (
        f"target: {{url: '{nginx.url}{prefix}'}}\n"
        f"load: {{model: Rps, target_rps: {RESPLIT_RPS}, duration: {RESPLIT_SECONDS}s, "
        "workers: 1}\n"
    ).encode()
    cluster, leader, (victim, follower) = three_nodes(make_cluster(workdir))
    survivors = [leader, follower]
    with cluster:
        status, reply = post_run(leader, plan, TOKEN)
        if status != 200:
            raise RuntimeError(f"POST /runs: {status} {reply}")
        run = new_run(leader, None)
        time.sleep(max(0.0, run["start_at"] + KILL_AFTER_S - time.time()))
        killed = time.time()
        victim.kill9()

        def applied() -> list[float] | None:
            found = [
                [t for t in log_walls(n.log(), _SHARE_CHANGED) if t >= killed] for n in survivors
            ]
            return [min(f) - killed for f in found] if all(found) else None

        applied_s = wait_for(applied, timeout=TIMEOUT_S, what="every survivor's new share")
        time.sleep(max(0.0, killed + BINS_AFTER * BIN_S + 0.5 - time.time()))
        stop_run(leader, TOKEN)
    counts = [0] * (BINS_BEFORE + BINS_AFTER)
    for hit in nginx.hits():
        if hit.path.startswith(prefix):
            b = int((hit.at - killed) // BIN_S) + BINS_BEFORE
            if 0 <= b < len(counts):
                counts[b] += 1
    bins = [c / BIN_S / RESPLIT_RPS for c in counts]
    print(f"  re-split {rep + 1}: applied after {', '.join(f'{s:.3f}' for s in applied_s)} s")
    return Resplit(applied_s, bins)


# --- 3. overhead ---


@dataclass
class Side:
    """One run's steady window: CPU of each node's process tree, requests nginx served."""

    cpu_s: list[float]  # per node (cluster: the leader first)
    own_s: list[float]  # the same, of the supervisor process alone (no workers)
    requests: int
    seconds: float
    elections: int = 0  # cluster: leaders elected after the first (the run's leader changes)

    @property
    def rps_per_node(self) -> float:
        return self.requests / self.seconds / len(self.cpu_s)

    @property
    def us_per_request(self) -> float:
        return sum(self.cpu_s) * 1e6 / self.requests


def closed_plan(nginx: Nginx, users: int) -> str:
    return (
        f"target: {{url: '{nginx.url}/'}}\n"
        f"load: {{model: Concurrent, concurrency: {users}, duration: {OVERHEAD_SECONDS}s, "
        "workers: 1}\n"
    )


def own_cpu(pid: int) -> float:
    """User + sys CPU seconds of the process ``pid`` alone."""
    data = Path(f"/proc/{pid}/stat").read_bytes()
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def window(pids: list[int], nginx: Nginx, start_wall: float) -> Side:
    def sample() -> tuple[float, list[float], list[float], int]:
        tree, own = [tree_cpu(p) for p in pids], [own_cpu(p) for p in pids]
        return time.monotonic(), tree, own, nginx.requests_served()

    time.sleep(max(0.0, start_wall + WINDOW[0] - time.time()))
    t0, tree0, own0, served0 = sample()
    time.sleep(max(0.0, start_wall + WINDOW[1] - time.time()))
    t1, tree1, own1, served1 = sample()
    cpu = [b - a for a, b in zip(tree0, tree1, strict=True)]
    own = [b - a for a, b in zip(own0, own1, strict=True)]
    return Side(cpu, own, served1 - served0 - 1, t1 - t0)  # less our own status read


def cluster_side(users: int, workdir: Path, nginx: Nginx) -> Side:
    cluster, leader, followers = three_nodes(make_cluster(workdir))
    with cluster:
        status, reply = post_run(leader, closed_plan(nginx, 3 * users).encode(), TOKEN)
        if status != 200:
            raise RuntimeError(f"POST /runs: {status} {reply}")
        run = new_run(leader, None)
        side = window([n.pid for n in (leader, *followers)], nginx, run["start_at"])
        time.sleep(max(0.0, run["end_at"] + 1 - time.time()))
        side.elections = (
            sum(n.log().count("event=state_changed old=forming new=leader") for n in cluster.nodes)
            - 1
        )
    return side


def standalone_side(users: int, workdir: Path, nginx: Nginx) -> Side:
    workdir.mkdir(parents=True)
    plan = workdir / "plan.yaml"
    plan.write_text(closed_plan(nginx, users))
    # The run starts once the workers are up, about 1 s after launch (the cluster's
    # start_at is 0.5 s after a commit whose workers were spawned beforehand).
    launched = time.time() + 1.0
    dirs = [workdir / f"s{i}" for i in range(3)]
    for d in dirs:
        d.mkdir()
    clis = [start_cli(["--config", str(plan)], tmp_path=d) for d in dirs]
    try:
        side = window([c.pid for c in clis], nginx, launched)
        for cli in clis:
            cli.wait(timeout=OVERHEAD_SECONDS + TIMEOUT_S)
    finally:
        for cli in clis:
            cli.kill()
    return side


# --- report ---


def fmt_ms(values: list[float]) -> str:
    if not values:
        return "— | — | — | —"
    return (
        f"{percentile(values, 50):.1f} | {percentile(values, 99):.1f} | {max(values):.1f} "
        f"| {min(values):.1f}"
    )


def render(
    args: argparse.Namespace,
    command: str,
    skews: list[SkewSeries],
    resplits: list[Resplit],
    pairs: list[tuple[Side, Side]],
) -> str:
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    lines = [
        BEGIN,
        "## Cluster runs (bench/cluster_runs.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {cpu}, "
        f"Linux {platform.release()}; load average before / after: {args.load_before} / "
        f"{os.getloadavg()[0]:.2f}",
        f"- Command: `{command}`",
        "- Every node, nginx and this script share the machine's 2 cores (N nodes here is N "
        "times a real host's contention); nodes on 127.0.0.11+, nginx on 127.0.0.1.",
    ]
    goals: list[tuple[str, str, bool]] = []
    if skews:
        lines += [
            "",
            "### Start skew",
            "",
            f"Each node's first request at nginx (`$msec`) minus the committed `start_at`, "
            f"{args.runs} back-to-back runs per row (Rps, {SKEW_RPS_PER_NODE}/s per node, "
            f"{SKEW_SECONDS} s, 1 worker per node, posted to node 0 with `POST /runs`). "
            f"A node's first arrival is due {1000 / SKEW_RPS_PER_NODE:.0f} ms after "
            "`start_at` at its rate (the curve owes its first request after 1/rate), so "
            f"{1000 / SKEW_RPS_PER_NODE:.0f} ms is on time. *Fresh plan*: each run posts a "
            "new plan (its query string changes), so each is a new commit whose workers "
            "are spawned at the commit; *same plan*: the same plan posted again as soon as "
            "the last run finished (the first post, a fresh commit, not counted).",
            "",
            "| nodes | plan | samples | p50 ms | p99 ms | max ms | min ms | nodes with no "
            "request |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in skews:
            kind = "fresh" if s.fresh else "same"
            lines.append(
                f"| {s.nodes} | {kind} | {len(s.skew_ms)} | {fmt_ms(s.skew_ms)} | {s.late_nodes} |"
            )
            ok = bool(s.skew_ms) and percentile(s.skew_ms, 99) <= 20 and not s.late_nodes
            goals.append((f"skew p99 ≤ 20 ms, {s.nodes} nodes, {kind} plan", "", ok))
    if resplits:
        applied = [r.all_applied_s for r in resplits]
        each = [s for r in resplits for s in r.applied_s]
        lines += [
            "",
            "### Re-split",
            "",
            f"3 nodes, Rps {RESPLIT_RPS}/s for {RESPLIT_SECONDS} s, 1 worker each; "
            f"{KILL_AFTER_S:g} s after `start_at` a follower is killed -9. Re-split time: "
            "from the kill to the `share_changed` line (its `ts=`) in every survivor's "
            f"node.log. {len(resplits)} repetitions, a fresh cluster each.",
            "",
            "| measure | samples | min s | median s | max s |",
            "| --- | ---: | ---: | ---: | ---: |",
            f"| kill → new share applied, each survivor | {len(each)} | {min(each):.3f} | "
            f"{statistics.median(each):.3f} | {max(each):.3f} |",
            f"| kill → applied on every survivor | {len(applied)} | {min(applied):.3f} | "
            f"{statistics.median(applied):.3f} | {max(applied):.3f} |",
            "",
            "Per repetition, s: " + ", ".join(f"{a:.3f}" for a in applied),
            "",
            "Rate during the re-split: the cluster's requests per "
            f"{BIN_S * 1000:.0f} ms bin in nginx's access log, as a % of the plan's rate, "
            "bins by their start relative to the kill "
            "(median, min and max over the repetitions):",
            "",
            "| bin start s | median % | min % | max % |",
            "| ---: | ---: | ---: | ---: |",
        ]
        for b in range(BINS_BEFORE + BINS_AFTER):
            values = [r.bins[b] * 100 for r in resplits]
            lines.append(
                f"| {(b - BINS_BEFORE) * BIN_S:+.2f} | {statistics.median(values):.0f} | "
                f"{min(values):.0f} | {max(values):.0f} |"
            )
        after = [
            statistics.mean(r.bins[BINS_BEFORE + int(r.all_applied_s // BIN_S) + 1 :]) * 100
            for r in resplits
        ]
        lines += [
            "",
            "Mean rate from the first whole bin after every survivor applied its share to "
            f"{BINS_AFTER * BIN_S:g} s after the kill, % of the plan, per repetition: "
            + ", ".join(f"{a:.1f}" for a in after),
        ]
        goals.append(("re-split applied on every survivor ≤ 3 s", "", max(applied) <= 3))
    if pairs:
        rps = [c.rps_per_node / s.rps_per_node for c, s in pairs]
        eff = [s.us_per_request / c.us_per_request for c, s in pairs]
        lines += [
            "",
            "### Overhead",
            "",
            f"Closed model (Concurrent, {args.users} users per node, 1 worker per node, one "
            f"static URL, {OVERHEAD_SECONDS} s), metrics streaming on. *Cluster*: 3 nodes run "
            f"a plan of {3 * args.users} users (each gets {args.users}). *Standalone*: three "
            f"`loadtest-supervisor --config` runs of {args.users} users side by side. On 2 "
            "cores a lone standalone run would have a core to itself and a cluster node a "
            "third of the machine, so comparing those would measure the machine; run three "
            "standalone processes instead and both sides load the same cores with the same "
            "processes, and the difference is what being a cluster node costs (Raft, gRPC, "
            "the health API, metrics streaming, the leader's merging and commits). Window: "
            f"{WINDOW[0]:g} to {WINDOW[1]:g} s after the start; requests from nginx's "
            "stub_status (exact), CPU from /proc of each node's process tree. Pairs run "
            "cluster first, then standalone.",
            "",
            "| pair | cluster req/s per node | standalone req/s per node | ratio | cluster µs "
            "CPU/request | standalone µs CPU/request | standalone ÷ cluster | leader CPU s | "
            "followers' CPU s | supervisors' own CPU s, cluster (leader first) | the same, "
            "standalone | leader changes in the run |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
        ]
        for i, (c, s) in enumerate(pairs):
            lines.append(
                f"| {i + 1} | {c.rps_per_node:,.0f} | {s.rps_per_node:,.0f} | {rps[i]:.1%} | "
                f"{c.us_per_request:.2f} | {s.us_per_request:.2f} | {eff[i]:.1%} | "
                f"{c.cpu_s[0]:.2f} | {c.cpu_s[1]:.2f}, {c.cpu_s[2]:.2f} | "
                f"{', '.join(f'{x:.2f}' for x in c.own_s)} | "
                f"{', '.join(f'{x:.2f}' for x in s.own_s)} | {c.elections} |"
            )
        lines.append(
            f"| median | | | **{statistics.median(rps):.1%}** | | | "
            f"**{statistics.median(eff):.1%}** | | | | | |"
        )
        goals.append(
            (
                "overhead: req/s per node ≥ 95 % (median of pairs)",
                "",
                statistics.median(rps) >= 0.95,
            )
        )
        goals.append(
            (
                "overhead: CPU per request, standalone ÷ cluster ≥ 95 % (median)",
                "",
                statistics.median(eff) >= 0.95,
            )
        )
    lines += ["", "| goal | result |", "| --- | --- |"]
    lines += [f"| {goal} | {'met' if ok else '**not met**'} |" for goal, _, ok in goals]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per size and plan kind")
    parser.add_argument("--nodes", default="3,5", help="cluster sizes for the skew")
    parser.add_argument("--resplit-reps", type=int, default=5)
    parser.add_argument("--overhead-pairs", type=int, default=3)
    parser.add_argument("--users", type=int, default=32, help="overhead: users per node")
    parser.add_argument("--only", default="", help="skew,resplit,overhead (prints only)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    args.load_before = f"{os.getloadavg()[0]:.2f}"
    only = set(filter(None, args.only.split(","))) or {"skew", "resplit", "overhead"}
    command = " ".join([".venv/bin/python -m bench.cluster_runs", *(argv or sys.argv[1:])])
    skews: list[SkewSeries] = []
    resplits: list[Resplit] = []
    pairs: list[tuple[Side, Side]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-runs-") as tmp:
        workdir = Path(tmp)
        with Nginx(workdir / "nginx-log", access_log=True) as logged:
            if "skew" in only:
                for n in (int(x) for x in args.nodes.split(",")):
                    skews += start_skew(n, args.runs, workdir / f"skew-{n}", logged)
            if "resplit" in only:
                for rep in range(args.resplit_reps):
                    resplits.append(resplit_once(rep, workdir / f"resplit-{rep}", logged))
        if "overhead" in only:
            with Nginx(workdir / "nginx") as nginx:
                for i in range(args.overhead_pairs):
                    c = cluster_side(args.users, workdir / f"over-c{i}", nginx)
                    s = standalone_side(args.users, workdir / f"over-s{i}", nginx)
                    print(
                        f"  overhead pair {i + 1}: req/s per node {c.rps_per_node:,.0f} vs "
                        f"{s.rps_per_node:,.0f}; µs/request {c.us_per_request:.2f} vs "
                        f"{s.us_per_request:.2f}; CPU s tree {c.cpu_s} vs {s.cpu_s}, "
                        f"supervisor {c.own_s} vs {s.own_s}",
                        flush=True,
                    )
                    pairs.append((c, s))
    section = render(args, command, skews, resplits, pairs)
    print(section)
    if not args.no_write and not args.only:
        replace_section(RESULTS, BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
