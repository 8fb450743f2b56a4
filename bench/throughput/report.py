"""The http_throughput section of bench/RESULTS.md: the runs, the ratios and the goals."""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
from pathlib import Path

from bench.throughput.generators import GENERATOR_CORE, SERVER_CORE
from bench.throughput.measure import Pair, Result, VsWrk

BEGIN = "<!-- BEGIN http_throughput (generated: edits here are overwritten) -->"
END = "<!-- END http_throughput -->"

# Goals from the design, checked against the numbers in the report.
GOAL_ENGINE_US_PER_REQ = 12.0
GOAL_VS_LOCUST = 10.0
GOAL_VS_WRK = 2.5
# Issue 15: the engine's CPU per request at most this many times wrk's, judged on the
# whole run (start-up and shutdown included) and on the steady state, both.
GOAL_CPU_VS_WRK = 1.25
GOAL_WORKER_SCALING = 0.10


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {model}, Linux {os.uname().release}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def pairs_table(pairs: list[Pair]) -> str:
    rows = "\n".join(
        f"| {n} | {'2 then 1' if p.two_first else '1 then 2'} "
        f"| {p.one.us_per_request:.2f} → {p.two.us_per_request:.2f} ({p.whole_run:+.1%}) "
        f"| {p.one.steady.us_per_request:.2f} → {p.two.steady.us_per_request:.2f} "
        f"({p.steady:+.1%}) "
        f"| {p.one.steady.us_per_nginx_request:.2f} → {p.two.steady.us_per_nginx_request:.2f} "
        f"({p.by_nginx:+.1%}) |"
        for n, p in enumerate(pairs, 1)
    )
    medians = (
        f"| median | | {statistics.median(p.whole_run for p in pairs):+.1%} "
        f"| {statistics.median(p.steady for p in pairs):+.1%} "
        f"| {statistics.median(p.by_nginx for p in pairs):+.1%} |"
    )
    return (
        "| pair | order | whole run | steady (/metrics) | steady, nginx's count |\n"
        "| ---: | --- | --- | --- | --- |\n"
        f"{rows}\n{medians}"
    )


def vs_wrk_table(rounds: list[VsWrk]) -> str:
    rows = "\n".join(
        f"| {n} | {r.engine.us_per_request:.2f} ÷ {r.wrk.us_per_request:.2f} = "
        f"{r.whole_run:.2f}× "
        f"| {r.engine.steady.us_per_nginx_request:.2f} ÷ {r.wrk.steady.us_per_nginx_request:.2f} "
        f"= {r.steady:.2f}× | {r.engine.rps:,.0f} / {r.wrk.rps:,.0f} |"
        for n, r in enumerate(rounds, 1)
    )
    medians = (
        f"| median | {statistics.median(r.whole_run for r in rounds):.2f}× "
        f"| {statistics.median(r.steady for r in rounds):.2f}× | |"
    )
    return (
        "| round | whole run: engine ÷ wrk µs/request | steady, nginx's count: engine ÷ wrk "
        "| req/s engine / wrk |\n"
        "| ---: | --- | --- | --- |\n"
        f"{rows}\n{medians}"
    )


def report(
    results: dict[str, Result], pairs: list[Pair], rounds: list[VsWrk], args: argparse.Namespace
) -> str:
    wrk, locust = results["wrk"], results["locust"]
    one, two = results["engine1"], results["engine2"]
    vs_locust = one.rps / locust.rps
    vs_locust_cpu = one.per_cpu_second / locust.per_cpu_second
    wrk_vs_engine = wrk.rps / one.rps
    cpu_vs_wrk = one.us_per_request / wrk.us_per_request
    scaling = statistics.median(p.whole_run for p in pairs)
    steady_scaling = statistics.median(p.steady for p in pairs)
    nginx_scaling = statistics.median(p.by_nginx for p in pairs)
    whole_vs_wrk = statistics.median(r.whole_run for r in rounds)
    steady_vs_wrk = statistics.median(r.steady for r in rounds)
    rows = "\n".join(
        f"| {r.name} | {r.requests:,} | {r.rps:,.0f} | {r.p99_ms:.2f} | {r.cpu_s:.2f} "
        f"| {r.cpu_s / args.duration:.0%} | {r.us_per_request:.2f} "
        f"| {f'{r.steady.us_per_nginx_request:.2f}' if r.steady else '–'} "
        f"| {f'{r.steady.us_per_request:.2f}' if r.steady and r is not wrk else '–'} "
        f"| {r.per_cpu_second:,.0f} |"
        for r in (one, two, locust, wrk)
    )
    w1, w2 = one.steady.first.at, one.steady.last.at
    n1, n2 = one.steady.us_per_nginx_request, two.steady.us_per_nginx_request
    swing = min(p.by_nginx for p in pairs), max(p.by_nginx for p in pairs)
    vs_swing = min(r.steady for r in rounds), max(r.steady for r in rounds)
    header = (
        "| generator | requests | req/s | p99 ms | CPU s | CPU ÷ run "
        "| CPU µs/request (whole run) | steady µs/request, nginx's count "
        "| steady µs/request, /metrics | req per CPU-second |"
    )
    commands = "\n".join(f"- {r.name}: `{r.command}`" for r in (one, two, locust, wrk))
    return f"""{BEGIN}
## Latest run

- Date: {datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
- Machine: {machine()}
- Command: `.venv/bin/python -m bench.http_throughput --duration {args.duration} \
--connections {args.connections} --pairs {args.pairs}`
- Server: nginx, 1 worker process pinned to core {SERVER_CORE}, keep-alive, `return 200 "ok\\n"`.
  Every generator pinned to core {GENERATOR_CORE}, {args.connections} connections, \
{args.duration} s.
- One-minute load average before / after the run: {args.load_before} / {args.load_after}.
  Anything else running on core 0 or 1 takes req/s from the generators; CPU per request and
  requests per CPU-second hold up far better, so the goals are judged on both.
- CPU = user + sys of the generator's whole process tree (supervisor and workers for the
  engine, startup included), from `getrusage(RUSAGE_CHILDREN)` around each run. "CPU ÷ run"
  is that over the run's duration: below a whole core the generator waited (for nginx, or for
  core 0 when something else had it).
- Steady µs/request (engine and wrk): CPU of the generator's process and all its
  descendants (utime + stime of each `/proc/<pid>/stat`, found by ppid: the supervisor and
  its workers, or wrk) ÷ nginx's own count of requests served (`stub_status`), both taken
  at {w1:.2f} s and {w2:.2f} s after launch (the same instants for every run). It leaves out
  start-up (each spawned worker imports Python modules: a fixed cost per worker, not per
  request) and shutdown, so the 1 → 2 workers goal is judged on it, and the ratio to wrk
  on it and on the whole run both. nginx's count is exact (a generator's own count differs
  by at most the requests in flight). For the engine the same CPU ÷
  `loadtest_requests_total` from its `/metrics` is shown too (the HTTP API is on for the
  engine runs, scraped only at those two instants); /metrics sums the workers' last
  snapshots and can be off by part of a snapshot interval of requests at either instant.
  Here by nginx's count: {n1:.2f} (1 worker) and {n2:.2f} (2 workers) µs/request.
- Engine ÷ wrk: each round runs the engine with one worker and wrk back to back (the
  table's runs, then {len(rounds) - 1} more rounds with the order alternating); a single
  round moves with whatever else shares the machine (here from {vs_swing[0]:.2f}× to
  {vs_swing[1]:.2f}× on the steady figure), so the goal is judged on the median ratio of
  the rounds, on the whole run and on the steady state.
- 1 → 2 workers: a single pair of runs moves in both directions with the same code (in this
  run, from {swing[0]:+.1%} to {swing[1]:+.1%} by nginx's count), so
  the engine is run in {len(pairs)} pairs (one a round) and the goal is judged on the
  median change of nginx-counted steady CPU/request. It is one-sided: two workers sharing
  core {GENERATOR_CORE} each find more responses ready per turn (p99 {two.p99_ms:.2f} ms
  against {one.p99_ms:.2f} ms here), so they may cost less per request; the goal guards
  against the split adding work.

{pairs_table(pairs)}

{vs_wrk_table(rounds)}

{header}
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

| ratio | value | goal | |
| --- | ---: | --- | --- |
| engine req/s ÷ Locust req/s (same core) | {vs_locust:.1f}× | ≥ {GOAL_VS_LOCUST:.0f}× \
| {verdict(vs_locust >= GOAL_VS_LOCUST)} |
| the same per CPU-second | {vs_locust_cpu:.1f}× | ≥ {GOAL_VS_LOCUST:.0f}× \
| {verdict(vs_locust_cpu >= GOAL_VS_LOCUST)} |
| wrk req/s ÷ engine req/s | {wrk_vs_engine:.2f}× | ≤ {GOAL_VS_WRK}× \
| {verdict(wrk_vs_engine <= GOAL_VS_WRK)} |
| engine µs/request ÷ wrk µs/request (the same per CPU-second) | {cpu_vs_wrk:.2f}× \
| ≤ {GOAL_VS_WRK}× | {verdict(cpu_vs_wrk <= GOAL_VS_WRK)} |
| engine ÷ wrk CPU µs/request, whole run, median of {len(rounds)} rounds (judged) \
| {whole_vs_wrk:.2f}× | ≤ {GOAL_CPU_VS_WRK}× | {verdict(whole_vs_wrk <= GOAL_CPU_VS_WRK)} |
| engine ÷ wrk CPU µs/request, steady, nginx's count, median of {len(rounds)} rounds \
(judged) | {steady_vs_wrk:.2f}× | ≤ {GOAL_CPU_VS_WRK}× \
| {verdict(steady_vs_wrk <= GOAL_CPU_VS_WRK)} |
| engine CPU µs/request (1 worker) | {one.us_per_request:.2f} | ≤ {GOAL_ENGINE_US_PER_REQ:.0f} \
| {verdict(one.us_per_request <= GOAL_ENGINE_US_PER_REQ)} |
| CPU/request change 1 → 2 workers, median of {len(pairs)} pairs, steady, nginx's count \
(judged) | {nginx_scaling:+.1%} | ≤ +{GOAL_WORKER_SCALING:.0%} \
| {verdict(nginx_scaling <= GOAL_WORKER_SCALING)} |
| the same by /metrics (shown, not judged) | {steady_scaling:+.1%} \
| ≤ +{GOAL_WORKER_SCALING:.0%} | {verdict(steady_scaling <= GOAL_WORKER_SCALING)} |
| the same, whole run (start-up included; shown, not judged) | {scaling:+.1%} \
| ≤ +{GOAL_WORKER_SCALING:.0%} | {verdict(scaling <= GOAL_WORKER_SCALING)} |

Commands as run:

{commands}
{END}"""


def show(result: Result) -> None:
    steady = result.steady
    print(
        f"{result.name:24} {result.requests:>10,} req {result.rps:>10,.0f} req/s "
        f"p99 {result.p99_ms:7.2f} ms  cpu {result.cpu_s:6.2f} s  "
        f"{result.us_per_request:7.2f} µs/req"
        + (
            f"  steady {steady.us_per_nginx_request:.2f} µs/req by nginx's count "
            f"({steady.cpu_s:.2f} s CPU over {steady.first.at:.2f}-{steady.last.at:.2f} s"
            + (
                f"; {steady.us_per_request:.2f} by /metrics, {steady.requests:,} req)"
                if steady.first.requests is not None
                else ")"
            )
            if steady
            else ""
        ),
        flush=True,
    )
