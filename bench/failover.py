"""Failover benchmark: how fast a loaded cluster replaces a killed leader, and whether
it ever changes leader when nothing fails.

For each cluster size (3 and 5 nodes by default), on this machine's loopback:
  1. N real ``loadtest-supervisor`` nodes (tests/cluster/fault_harness.py: node i on
     127.0.0.(11+i), same ports), every node's /health/cluster polled every 20 ms.
  2. Every node runs a load in its own workers (Concurrent, 2 workers, 32 tasks) against
     one local nginx, from its start to the end of the benchmark: each node is
     ``tests.cluster.loaded_node``, the node runtime and the engine's run in one process
     (the plan comes from the node's environment: cluster-wide runs do not exist yet).
     A killed node's load dies with it and restarts with it, as on a real host.
  3. ``--kills`` times: kill -9 the leader's process group, measure the time from the
     kill until every survivor's latest answer names the same new leader (and that one
     says it leads); then restart the killed node (same id and data dir) so the size
     stays N, wait until all N agree and let it settle.
  4. ``--soak-minutes`` of full load with no fault: count leader and term changes.

    .venv/bin/python -m bench.failover                         # 3 and 5 nodes, 20 kills, 10 min
    .venv/bin/python -m bench.failover --nodes 3 --kills 5 --soak-minutes 1 --no-write

Writes its section of bench/RESULTS.md (between the failover markers) unless --no-write.
Goal (issue 4): median <= 1 s, max <= 2 s, 0 spurious changes. Needs root (cgroups).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.results_md import replace_section
from tests.cluster.fault_harness import FaultHarness
from tests.cluster.faults import Faults
from tests.cluster.loaded_node import load_results, loaded_node_command, loaded_node_env
from tests.services import Nginx

REPO = Path(__file__).resolve().parents[1]

RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN failover -->", "<!-- END failover -->"
SECRET = "bench-failover-secret"
AGREE_TIMEOUT_S = 30.0  # a failover slower than this is recorded as a failure
SETTLE_S = 1.0  # after the restarted node rejoined, before the next kill
SOAK_ASKED_MIN = 10.0  # the soak the issue asks for
POLL_S = 0.02  # each node's /health/cluster, by the harness's poller threads


@dataclass
class SizeResult:
    nodes: int
    failover_s: list[float] = field(default_factory=list)
    failed_kills: int = 0
    rejoin_changes: int = 0  # leader changes while a restarted node rejoined (not a kill's)
    soak_s: float = 0.0
    soak_leader_changes: int = 0
    soak_term_changes: int = 0
    soak_health_max_s: float = 0.0
    soak_health_unanswered: int = 0
    soak_polls: int = 0
    cpu_busy_kills: float = 0.0
    cpu_busy_soak: float = 0.0
    load_runs_alive: bool = True

    def summary(self) -> dict[str, float | None]:
        times = self.failover_s
        return {
            "min": min(times) if times else None,
            "median": statistics.median(times) if times else None,
            "max": max(times) if times else None,
        }


def cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def busy_since(before: tuple[int, int]) -> float:
    after = cpu_times()
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def leader_changes(cluster: FaultHarness, since: float, until: float) -> tuple[int, int]:
    """(distinct leaders - 1, distinct terms - 1) named by ready answers in the window."""
    seen = [o for o in cluster.observations(since, until) if o.answered and o.cluster_ready]
    pairs, terms = [], []
    for o in sorted(seen, key=lambda o: o.t):
        if not pairs or pairs[-1] != (o.leader_id, o.term):
            if (o.leader_id, o.term) not in pairs:
                pairs.append((o.leader_id, o.term))
        if o.term not in terms:
            terms.append(o.term)
    return max(len(pairs) - 1, 0), max(len(terms) - 1, 0)


def run_size(n: int, args: argparse.Namespace, workdir: Path, nginx_url: str) -> SizeResult:
    result = SizeResult(nodes=n)
    # The loads must outlast the kills (~5 s each) and the soak; they stop with the nodes.
    load_s = args.kills * 10 + args.soak_minutes * 60 + 120
    env = {"CLUSTER_SECRET": SECRET, **loaded_node_env(f"{nginx_url}/", load_s, args.tasks)}
    with (
        Faults() as faults,
        FaultHarness(
            workdir / f"cluster-{n}",
            faults,
            env=env,
            poll_interval=POLL_S,
            command=loaded_node_command(args.workers),
        ) as cluster,
    ):
        cluster.start(n, delay=0.2)
        cluster.wait_agreed(timeout=AGREE_TIMEOUT_S)
        time.sleep(3)  # every node's workers are up and saturating before anything is timed
        cpu = cpu_times()
        for k in range(args.kills):
            leader, _, _ = cluster.wait_agreed(timeout=AGREE_TIMEOUT_S)
            victim = cluster.node_by_id(leader)
            killed_at = cluster.kill9(victim)
            survivors = [node for node in cluster.nodes if node is not victim]
            try:
                new_leader, _, agreed_at = cluster.wait_agreed(
                    timeout=AGREE_TIMEOUT_S, nodes=survivors, since=killed_at, not_leader=leader
                )
            except AssertionError:
                agreed_at = time.monotonic()
                result.failed_kills += 1
                print(f"  n={n} kill {k + 1}: no agreement within {AGREE_TIMEOUT_S:.0f}s")
            else:
                result.failover_s.append(agreed_at - killed_at)
                print(
                    f"  n={n} kill {k + 1}/{args.kills}: {leader} -> {new_leader} "
                    f"in {agreed_at - killed_at:.3f}s",
                    flush=True,
                )
            restarted_at = cluster.restart(victim)
            cluster.wait_agreed(timeout=AGREE_TIMEOUT_S, since=restarted_at)
            time.sleep(SETTLE_S)
            # From the new leader's agreement through the rejoin: any further change
            # was caused by the restarted node coming back.
            changes, _ = leader_changes(cluster, agreed_at, time.monotonic())
            result.rejoin_changes += changes
        result.cpu_busy_kills = busy_since(cpu)

        cluster.wait_agreed(timeout=AGREE_TIMEOUT_S)
        cpu = cpu_times()
        began = cluster.event("soak began")
        time.sleep(args.soak_minutes * 60)
        ended = cluster.event("soak ended")
        result.cpu_busy_soak = busy_since(cpu)
        result.soak_s = ended - began
        result.soak_leader_changes, result.soak_term_changes = leader_changes(cluster, began, ended)
        window = cluster.observations(began, ended)
        result.soak_polls = len(window)
        result.soak_health_unanswered = sum(1 for o in window if not o.answered)
        result.soak_health_max_s = max((o.latency for o in window), default=0.0)
        result.load_runs_alive = all(
            node.running() and load_results(node.data_dir) is None for node in cluster.nodes
        )
        cluster.assert_one_leader_per_term()
    return result


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def render(results: list[SizeResult], args: argparse.Namespace, command: str) -> str:
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    lines = [
        BEGIN,
        "## Failover (bench/failover.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {cpu}, "
        f"Linux {platform.release()}",
        f"- Command: `{command}`",
        f"- Every node saturated as during a run: each node runs a load in its own "
        f"{args.workers} workers (Concurrent, {args.tasks} tasks) against one local nginx "
        "for the whole benchmark, its process merging their snapshots next to the Raft "
        "thread (`tests/cluster/loaded_node.py`; the plan comes from the node's "
        "environment, as cluster-wide runs do not exist yet). A killed node's load dies "
        "with it and restarts with it. All nodes share this machine's cores, so "
        "contention is N times a real host's.",
        "- Failover time: from `kill -9` of the leader's process group until every "
        "survivor's latest /health/cluster answer names the same new leader (polled every "
        f"{POLL_S * 1000:.0f} ms per node, so times include up to that much polling and the "
        "pollers' own scheduling delay on a saturated machine). After each kill the node is "
        "restarted with the same id and data dir and the cluster let settle; the next kill "
        f"comes {SETTLE_S:g} s after it rejoined, so links never go idle here (the idle-link "
        "case is covered by the Raft plugin's own test).",
        f"- Soak: {args.soak_minutes:g} min of full load per size, no fault "
        + (
            "(as the issue asks)."
            if args.soak_minutes == SOAK_ASKED_MIN
            else f"(the issue asks for {SOAK_ASKED_MIN:g} min)."
        ),
        "",
        "| nodes | kills | failover min s | median s | max s | failed | changes on rejoin "
        "| CPU busy | soak min | soak leader changes | soak term changes | health max s "
        "| unanswered polls |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for r in results:
        s = r.summary()
        lines.append(
            f"| {r.nodes} | {len(r.failover_s) + r.failed_kills} | {fmt(s['min'])} "
            f"| {fmt(s['median'])} | {fmt(s['max'])} | {r.failed_kills} | {r.rejoin_changes} "
            f"| {r.cpu_busy_kills:.0%} / {r.cpu_busy_soak:.0%} | {r.soak_s / 60:.1f} "
            f"| {r.soak_leader_changes} | {r.soak_term_changes} | {r.soak_health_max_s:.3f} "
            f"| {r.soak_health_unanswered} of {r.soak_polls} |"
        )
    lines += ["", "| goal | " + " | ".join(f"{r.nodes} nodes" for r in results) + " |"]
    lines.append("| --- |" + " --- |" * len(results))
    goals = [
        ("median ≤ 1 s", lambda r: (r.summary()["median"] or 99) <= 1.0 and not r.failed_kills),
        ("max ≤ 2 s", lambda r: (r.summary()["max"] or 99) <= 2.0 and not r.failed_kills),
        ("0 spurious changes (soak)", lambda r: r.soak_leader_changes + r.soak_term_changes == 0),
    ]
    for name, met in goals:
        marks = ["met" if met(r) else "**not met**" for r in results]
        lines.append(f"| {name} | " + " | ".join(marks) + " |")
    lines += [
        "",
        "Failover times, s: "
        + "; ".join(
            f"{r.nodes} nodes: " + ", ".join(f"{t:.2f}" for t in r.failover_s) for r in results
        ),
        END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="3,5", help="cluster sizes, comma-separated")
    parser.add_argument("--kills", type=int, default=20, help="leader kills per size")
    parser.add_argument(
        "--soak-minutes", type=float, default=SOAK_ASKED_MIN, help="fault-free full load"
    )
    parser.add_argument("--workers", type=int, default=2, help="load workers of each node")
    parser.add_argument("--tasks", type=int, default=32, help="concurrent tasks per node")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    # Stopped by SIGTERM or SIGINT (even when started in the background, where SIGINT is
    # ignored), unwind normally so every node (with its workers) and nginx is stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join([".venv/bin/python -m bench.failover", *(argv or sys.argv[1:])])
    sizes = [int(x) for x in args.nodes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        workdir = Path(tmp)
        with Nginx(workdir / "nginx") as nginx:
            for n in sizes:
                print(f"{n} nodes: {args.kills} kills, then {args.soak_minutes:g} min soak")
                result = run_size(n, args, workdir, nginx.url)
                results.append(result)
                print(json.dumps({**asdict(result), **result.summary()}), flush=True)
    section = render(results, args, command)
    print(section)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    if not args.no_write:
        replace_section(RESULTS, BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
