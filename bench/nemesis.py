"""Nemesis benchmark: a long randomized fault schedule over a real 5-node cluster during
one real run, judged by the checkers of tests/cluster/test_nemesis.py.

    .venv/bin/python -m bench.nemesis --duration 30m --seed 1234
    .venv/bin/python -m bench.nemesis --duration 10m --no-write      # only prints

The same run as the test (tests/cluster/nemesis.py: 5 nodes found through a real Consul
agent, a plan from a fake GCS bucket at 100 arrivals/s against nginx with its access
log, faults drawn from the seed: kill -9 and restart, SIGSTOP/SIGCONT, a minority
partition, a majority ring partition, a Consul agent restart, the plan's source gone
and back), for as long as asked. Without --seed one is drawn and printed. Writes its
section of bench/RESULTS.md (between the nemesis markers) unless --no-write; exits 1
when a checker found a violation. Needs root (iptables, cgroups).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.results_md import replace_section
from loadtest_supervisor.config.durations import parse_duration
from loadtest_supervisor.config.errors import ConfigError
from tests.cluster.nemesis import RATE, NemesisReport, run_nemesis
from tests.cluster.nemesis_checks import ALL_READY_WITHIN_S, HEALTH_ANSWER_S, LEADER_WITHIN_S
from tests.cluster.nemesis_faults import WORKERS_EXIT_S

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN nemesis -->", "<!-- END nemesis -->"


def render(report: NemesisReport, command: str) -> str:
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    totals, live = report.totals, report.liveness
    assert totals is not None and live is not None
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.faults_by_kind.items())
    lines = [
        BEGIN,
        "## Fault schedule (bench/nemesis.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {cpu} (shared with "
        f"other test runs), Linux {platform.release()}",
        f"- Command: `{command}` (seed {report.seed}: the same command draws the same schedule)",
        "- 5 real nodes found through a real Consul agent, one run of a plan read from a "
        f"fake GCS bucket at {report.rate:.0f} arrivals/s against nginx (its access log is "
        "the ground truth); faults one at a time, each held for a drawn time, then healed "
        "(tests/cluster/nemesis_schedule.py).",
        "",
        "| seed | fault window | faults | elections | max time without a leader "
        "| leader after last heal | all ready after | served | counted | lost (bound) "
        "| violations |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {report.seed} | {report.duration_s / 60:.1f} min | {len(report.injected)}: {kinds} "
        f"| {report.elections} | {report.max_leaderless_s:.2f} s "
        f"| {_s(live.leader_after_s)} | {_s(live.all_ready_after_s)} | {totals.served} "
        f"| {totals.counted} | {totals.lost} ({totals.bound:.0f} for {totals.kills_in_run} "
        f"kills) | {len(report.violations)} |",
        "",
    ]
    if report.violations:
        lines += ["Violations:", ""] + [f"- {v}" for v in report.violations] + [""]
    lines += [
        "Checks: at most one leader per term (every node's `raft_state_changed` lines and "
        "every health poll); the same applied commands on every node (`applied.log`: index, "
        "term, kind, outcome, hash); nginx's count against the cluster's final "
        "`requests_total`, within one metrics interval and a snapshot of the victim's share "
        f"per kill -9 (design §9); a leader within {LEADER_WITHIN_S:g} s and every node "
        f"follower or leader within {ALL_READY_WITHIN_S:g} s of the last heal; every "
        "/health/cluster poll of a running, unfrozen node answered within "
        f"{HEALTH_ANSWER_S:g} s; no traceback in any log; no process left in a killed "
        f"supervisor's process group {WORKERS_EXIT_S:g} s after the kill.",
        END,
    ]
    return "\n".join(lines) + "\n"


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="30m", help="fault window, e.g. 30m (default)")
    parser.add_argument("--seed", type=int, help="draws the schedule (default: a random one)")
    parser.add_argument("--rate", type=float, default=RATE, help="the run's arrivals/s")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    try:
        duration = parse_duration(args.duration, "--duration")
    except ConfigError as e:
        parser.error(str(e))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    # Stopped by SIGTERM or SIGINT, unwind normally so every process, iptables rule and
    # cgroup the run made is removed.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    given = argv if argv is not None else sys.argv[1:]
    command = " ".join([".venv/bin/python -m bench.nemesis", *given])
    if args.seed is None:
        command += f" --seed {seed}"
    print(f"seed {seed}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-nemesis-") as tmp:
        report = run_nemesis(
            Path(tmp), duration, seed, rate=args.rate, say=lambda s: print(s, flush=True)
        )
    section = render(report, command)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str))
    if not args.no_write:
        replace_section(RESULTS, BEGIN, END, section)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
