"""HTTP throughput and CPU cost per request: this engine against Locust and wrk.

One nginx (one worker process, pinned to core 1) serves a tiny static 200 over
keep-alive; each generator in turn, pinned to core 0, drives it with the same
number of connections for the same time. For each generator we record req/s,
p99 latency and the CPU time (user + sys) of its whole process tree per request.
The engine runs with one worker and with two, both on core 0, and wrk, in several
rounds (a single run moves by ±10 % on a shared machine): the engine's CPU per request
against wrk's is judged on the median of the rounds' ratios, and the 1 → 2 workers
change (splitting the same load over more workers must not cost CPU per request) on
the median of the rounds' pairs.
For the engine and wrk a steady-state figure comes next to the whole-run one: CPU of
the generator's process tree (/proc) over nginx's own count of requests served between
two instants inside the run, so start-up and shutdown are left out (for the engine also
over its own count, its Prometheus /metrics).

    .venv/bin/python -m bench.http_throughput [--duration 20] [--connections 64] [--pairs 5]

Results go to bench/RESULTS.md, between markers, so hand-written notes there stay.
Traffic goes to 127.0.0.1 only. The parts are in bench/throughput/: measure (CPU and
requests of one run), generators (engine, wrk, Locust) and report (the section).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.results_md import replace_section
from bench.throughput.generators import SERVER_CORE, run_engine, run_locust, run_wrk
from bench.throughput.measure import Pair, Result, VsWrk
from bench.throughput.report import BEGIN, END, report, show
from tests.services import Nginx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per generator")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--only",
        default="engine1,engine2,locust,wrk",
        help="comma-separated subset to run (engine1, engine2, locust, wrk); "
        "RESULTS.md is written only when all run",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=5,
        help="rounds of the engine with 1 and 2 workers and wrk, for the scaling goal and the "
        "ratio to wrk (the first round is the main run's)",
    )
    args = parser.parse_args()
    wanted = args.only.split(",")
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install nginx-light wrk util-linux")
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 cores: one for nginx, one for the generators")
    results: dict[str, Result] = {}
    args.load_before = Path("/proc/loadavg").read_text().split()[0]
    with (
        tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp_name,
        Nginx(Path(tmp_name) / "nginx", cpu=SERVER_CORE) as nginx,
    ):
        tmp = Path(tmp_name)
        url = f"{nginx.url}/"
        runners = {
            "engine1": lambda: run_engine(nginx, args.duration, args.connections, 1, tmp),
            "engine2": lambda: run_engine(nginx, args.duration, args.connections, 2, tmp),
            "locust": lambda: run_locust(url, args.duration, args.connections, tmp),
            "wrk": lambda: run_wrk(nginx, args.duration, args.connections),
        }
        for key in wanted:
            result = results[key] = runners[key]()
            show(result)
        pairs: list[Pair] = []
        vs_wrk: list[VsWrk] = []
        rounds = [key for key in ("wrk", "engine1", "engine2") if key in results]
        for n in range(args.pairs):
            if n == 0:
                order, got = wanted, results
            else:
                # Later rounds alternate their order, so that neither side always
                # runs first (on a shared machine the load drifts over minutes).
                order = rounds[::-1] if n % 2 == 1 else rounds
                got = {key: runners[key]() for key in order}
                for key in order:
                    show(got[key])
            if {"engine1", "engine2"} <= set(got):
                two_first = order.index("engine2") < order.index("engine1")
                pairs.append(Pair(got["engine1"], got["engine2"], two_first))
                print(pairs[-1].line(), flush=True)
            if {"engine1", "wrk"} <= set(got):
                vs_wrk.append(VsWrk(got["engine1"], got["wrk"]))
                print(vs_wrk[-1].line(), flush=True)
            if len(rounds) < 2:
                break
    args.load_after = Path("/proc/loadavg").read_text().split()[0]
    if set(results) == {"engine1", "engine2", "locust", "wrk"}:
        replace_section(
            RESULTS,
            BEGIN,
            END,
            header="# HTTP throughput benchmark\n\n",
            section=report(results, pairs, vs_wrk, args),
        )
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
