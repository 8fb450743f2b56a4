"""HTTP throughput and CPU cost per request: this engine against Locust and wrk.

One nginx (one worker process, pinned to core 1) serves a tiny static 200 over
keep-alive; each generator in turn, pinned to core 0, drives it with the same
number of connections for the same time. For each generator we record req/s,
p99 latency and the CPU time (user + sys) of its whole process tree per request.
The engine runs with one worker and with two, both on core 0, in several pairs
(a single pair moves by ±10 % on a shared machine), to check that splitting the
same load over more workers does not cost CPU per request.
For the engine a steady-state figure comes next to the whole-run one: CPU of the
supervisor and its workers (/proc) over requests (its Prometheus /metrics) between
two instants inside the run, so the workers' start-up is left out.

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
from bench.throughput.measure import Pair, Result
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
        help="engine 1-worker/2-worker pairs for the scaling goal (the first is the main run's)",
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
            "wrk": lambda: run_wrk(url, args.duration, args.connections),
        }
        for key in wanted:
            result = results[key] = runners[key]()
            show(result)
        pairs: list[Pair] = []
        if {"engine1", "engine2"} <= set(results):
            pairs.append(Pair(results["engine1"], results["engine2"], two_first=False))
            print(pairs[-1].line(), flush=True)
            for n in range(1, args.pairs):
                two_first = n % 2 == 1
                order = ("engine2", "engine1") if two_first else ("engine1", "engine2")
                extra = {key: runners[key]() for key in order}
                for key in order:
                    show(extra[key])
                pairs.append(Pair(extra["engine1"], extra["engine2"], two_first))
                print(pairs[-1].line(), flush=True)
    args.load_after = Path("/proc/loadavg").read_text().split()[0]
    if set(results) == {"engine1", "engine2", "locust", "wrk"}:
        replace_section(
            RESULTS,
            BEGIN,
            END,
            header="# HTTP throughput benchmark\n\n",
            section=report(results, pairs, args),
        )
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
