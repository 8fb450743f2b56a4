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

    .venv/bin/python bench/http_throughput.py [--duration 20] [--connections 64] [--pairs 5]

Results go to bench/RESULTS.md, between markers, so hand-written notes there stay.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from results_md import replace_section  # bench/ is the script's folder, on sys.path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = BENCH / "RESULTS.md"
BEGIN = "<!-- BEGIN http_throughput (generated: edits here are overwritten) -->"
END = "<!-- END http_throughput -->"
GENERATOR_CORE = "0"
SERVER_CORE = "1"

# Goals from the design, checked against the numbers in the report.
GOAL_ENGINE_US_PER_REQ = 12.0
GOAL_VS_LOCUST = 10.0
GOAL_VS_WRK = 2.5
GOAL_WORKER_SCALING = 0.10

# Steady-state window of an engine run, in seconds after its launch: from here...
STEADY_FROM = 0.25  # x duration, and at least STEADY_MIN_FROM s (start-up is ~1 s)
STEADY_MIN_FROM = 3.0
# ...to a whole number of seconds later, at most this far in (the run ends >= 1 x duration).
STEADY_TO = 0.90
CLK_TCK = os.sysconf("SC_CLK_TCK")

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""


@dataclass
class Sample:
    """One instant inside an engine run."""

    at: float  # s after launch
    cpu_s: float  # supervisor + descendants, user + sys, from /proc
    requests: int  # loadtest_requests_total from the engine's /metrics
    nginx_requests: int  # nginx stub_status: requests served so far (cross-check)


@dataclass
class Steady:
    """CPU per request between two instants of a run: no start-up, no shutdown."""

    first: Sample
    last: Sample

    @property
    def seconds(self) -> float:
        return self.last.at - self.first.at

    @property
    def cpu_s(self) -> float:
        return self.last.cpu_s - self.first.cpu_s

    @property
    def requests(self) -> int:
        return self.last.requests - self.first.requests

    @property
    def us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.requests if self.requests > 0 else float("inf")

    @property
    def us_per_nginx_request(self) -> float:
        served = self.last.nginx_requests - self.first.nginx_requests - 1  # our own status GET
        return self.cpu_s * 1e6 / served if served > 0 else float("inf")


@dataclass
class Result:
    name: str
    command: str
    requests: int
    rps: float
    p99_ms: float
    cpu_s: float
    steady: Steady | None = None

    @property
    def us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.requests if self.requests else float("inf")

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of generator CPU: throughput per core, whatever else ran."""
        return self.requests / self.cpu_s if self.cpu_s else 0.0


@dataclass
class Pair:
    """One engine run with one worker and one with two, back to back: their CPU/request change."""

    one: Result
    two: Result
    two_first: bool

    @property
    def whole_run(self) -> float:
        return self.two.us_per_request / self.one.us_per_request - 1

    @property
    def steady(self) -> float:
        return self.two.steady.us_per_request / self.one.steady.us_per_request - 1

    @property
    def by_nginx(self) -> float:
        return self.two.steady.us_per_nginx_request / self.one.steady.us_per_nginx_request - 1

    def line(self) -> str:
        return (
            f"1 -> 2 workers: whole run {self.whole_run:+.1%}, steady {self.steady:+.1%}"
            f" (by nginx's count {self.by_nginx:+.1%})"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    cmd = ["taskset", "-c", SERVER_CORE, "nginx", "-p", str(tmp), "-c", str(conf)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"nginx exited: {(tmp / 'error.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("nginx did not start listening within 10 s")


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_measured(
    cmd: list[str], env: dict[str, str] | None, timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a generator to completion; its process tree's CPU seconds come along.

    RUSAGE_CHILDREN counts reaped descendants only, and every generator here
    waits for its own children, so the difference is exactly this command's tree.
    nginx is a child too, but it is not reaped until the end, so it never counts.
    """
    before = children_cpu()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, children_cpu() - before


def tree_cpu(root: int) -> float:
    """User + sys CPU seconds of ``root`` and all its descendants, now.

    Walks the ppid links of every /proc/<pid>/stat. Each process counts its own
    utime + stime and the cutime + cstime of children it has reaped, so a
    descendant that exits between two readings is not lost.
    """
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            data = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue  # gone in between
        # Fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17).
        fields = data[data.rindex(b")") + 2 :].split()
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        ticks[pid] = sum(int(f) for f in fields[11:15])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def nginx_requests(port: int) -> int:
    """Requests nginx has served so far, from stub_status (exact, instant)."""
    text = http_get(f"http://127.0.0.1:{port}/nginx_status")
    return int(re.search(r"^\s*\d+\s+\d+\s+(\d+)\s*$", text, re.M).group(1))


def engine_requests(api_port: int) -> int:
    """loadtest_requests_total from the engine's /metrics: the workers' last snapshots."""
    text = http_get(f"http://127.0.0.1:{api_port}/metrics")
    return int(float(re.search(r"^loadtest_requests_total (\S+)$", text, re.M).group(1)))


def sample(pid: int, launched: float, api_port: int, port: int) -> Sample:
    # CPU and nginx's count are exact at this instant; the engine's count is as of
    # each worker's last snapshot (sent every second), hence whole seconds between samples.
    at = time.monotonic() - launched
    cpu = tree_cpu(pid)
    served = nginx_requests(port)
    return Sample(at, cpu, engine_requests(api_port), served)


def pinned(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", GENERATOR_CORE, *cmd]


def fail(name: str, proc: subprocess.CompletedProcess[str]) -> None:
    sys.exit(f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")


def run_wrk(url: str, duration: int, connections: int) -> Result:
    cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url])
    proc, cpu = run_measured(cmd, None, duration + 30)
    if proc.returncode != 0:
        fail("wrk", proc)
    out = proc.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()
    p99_ms = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]
    return Result("wrk", " ".join(cmd), requests, rps, p99_ms, cpu)


def run_locust(url: str, duration: int, connections: int, tmp: Path) -> Result:
    prefix = tmp / "locust"
    cmd = pinned(
        [
            str(VENV_BIN / "locust"),
            "-f",
            str(BENCH / "locustfile.py"),
            "--headless",
            "-u",
            str(connections),
            "-r",
            str(connections),
            "-t",
            f"{duration}s",
            "--host",
            url.rstrip("/"),
            "--csv",
            str(prefix),
            "--only-summary",
        ]
    )
    proc, cpu = run_measured(cmd, None, duration + 60)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        fail("locust", proc)
    with stats.open() as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return Result(
        "Locust FastHttpUser",
        " ".join(cmd),
        int(row["Request Count"]),
        float(row["Requests/s"]),
        float(row["99%"]),
        cpu,
    )


def run_engine(
    url: str, port: int, duration: int, connections: int, workers: int, tmp: Path
) -> Result:
    """The engine's real command; whole-run CPU as for the others, plus a steady window.

    Its HTTP API is on so that /metrics can be read at two instants, STEADY_FROM and
    a whole number of seconds later (so each worker's snapshot lag, up to 1 s, is about
    the same at both and cancels), and only then: a scrape costs the supervisor CPU.
    """
    out = tmp / f"engine-{workers}.json"
    out.unlink(missing_ok=True)
    cmd = pinned(
        [str(VENV_BIN / "loadtest-supervisor"), "--workers", str(workers), "--out", str(out)]
    )
    api_port = free_port()
    env = {
        **os.environ,
        "TARGET_URL": url,
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": str(connections),
        "TEST_DURATION": f"{duration}s",
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"127.0.0.1:{api_port}",
    }
    first_at = max(STEADY_MIN_FROM, STEADY_FROM * duration)
    last_at = first_at + max(1, int(STEADY_TO * duration - first_at))
    log = tmp / f"engine-{workers}.log"
    before = children_cpu()
    with log.open("w+") as output:
        launched = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            samples = []
            for at in (first_at, last_at):
                time.sleep(max(0.0, launched + at - time.monotonic()))
                samples.append(sample(proc.pid, launched, api_port, port))
            proc.wait(timeout=duration + 60)
        except (OSError, AttributeError, subprocess.TimeoutExpired) as exc:
            proc.kill()
            proc.wait()
            output.seek(0)
            sys.exit(f"engine ({workers} workers): {exc!r}\n{output.read()[-4000:]}")
        cpu = children_cpu() - before
        output.seek(0)
        printed = output.read()
    if not out.exists():
        fail(
            f"engine ({workers} workers)",
            subprocess.CompletedProcess(cmd, proc.returncode, printed, ""),
        )
    data = json.loads(out.read_text())
    settings = " ".join(
        f"{k}={env[k]}"
        for k in (
            "TARGET_URL",
            "LOAD_MODEL_TYPE",
            "NUM_CONCURRENT_TASKS",
            "TEST_DURATION",
            "HTTP_API_ENABLED",
            "CLUSTER_HEALTH_ADDR",
        )
    )
    return Result(
        f"engine, {workers} worker{'s' if workers > 1 else ''}",
        f"{settings} {' '.join(cmd)}",
        int(data["requests_total"]),
        float(data["rps"]),
        float(data["latency_ms"]["p99"]),
        cpu,
        Steady(*samples),
    )


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


def report(results: dict[str, Result], pairs: list[Pair], args: argparse.Namespace) -> str:
    wrk, locust = results["wrk"], results["locust"]
    one, two = results["engine1"], results["engine2"]
    vs_locust = one.rps / locust.rps
    vs_locust_cpu = one.per_cpu_second / locust.per_cpu_second
    wrk_vs_engine = wrk.rps / one.rps
    cpu_vs_wrk = one.us_per_request / wrk.us_per_request
    scaling = statistics.median(p.whole_run for p in pairs)
    steady_scaling = statistics.median(p.steady for p in pairs)
    nginx_scaling = statistics.median(p.by_nginx for p in pairs)
    rows = "\n".join(
        f"| {r.name} | {r.requests:,} | {r.rps:,.0f} | {r.p99_ms:.2f} | {r.cpu_s:.2f} "
        f"| {r.cpu_s / args.duration:.0%} | {r.us_per_request:.2f} "
        f"| {f'{r.steady.us_per_request:.2f}' if r.steady else '–'} "
        f"| {r.per_cpu_second:,.0f} |"
        for r in (one, two, locust, wrk)
    )
    w1, w2 = one.steady.first.at, one.steady.last.at
    n1, n2 = one.steady.us_per_nginx_request, two.steady.us_per_nginx_request
    header = (
        "| generator | requests | req/s | p99 ms | CPU s | CPU ÷ run "
        "| CPU µs/request (whole run) | steady µs/request | req per CPU-second |"
    )
    commands = "\n".join(f"- {r.name}: `{r.command}`" for r in (one, two, locust, wrk))
    return f"""{BEGIN}
## Latest run

- Date: {datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
- Machine: {machine()}
- Command: `.venv/bin/python bench/http_throughput.py --duration {args.duration} \
--connections {args.connections} --pairs {args.pairs}`
- Server: nginx, 1 worker process pinned to core {SERVER_CORE}, keep-alive, `return 200 "ok\\n"`.
  Every generator pinned to core {GENERATOR_CORE}, {args.connections} connections, \
{args.duration} s.
- Load average (1 min) before / after the run: {args.load_before} / {args.load_after}.
  Anything else running on core 0 or 1 takes req/s from the generators; CPU per request and
  requests per CPU-second hold up far better, so the goals are judged on both.
- CPU = user + sys of the generator's whole process tree (supervisor and workers for the
  engine, startup included), from `getrusage(RUSAGE_CHILDREN)` around each run. "CPU ÷ run"
  is that over the run's duration: below 100 % the generator waited (for nginx, or for core 0
  when something else had it).
- Steady µs/request (engine only): CPU of the supervisor and all its descendants
  (utime + stime of each `/proc/<pid>/stat`, found by ppid) ÷ `loadtest_requests_total` from
  the engine's `/metrics`, both taken at {w1:.2f} s and {w2:.2f} s after launch
  (the HTTP API is on for the engine runs, scraped only at those two instants). It leaves out
  start-up (each spawned worker imports Python modules, about 0.25 to 0.4 s of CPU, a fixed
  cost per worker, not per request) and shutdown, so the 1 → 2 workers goal is judged on it;
  the whole-run figure stays next to it. The same CPU ÷ nginx's own count (`stub_status`)
  over the window is exact (the engine's count differs by at most the requests in flight),
  where /metrics sums the workers' last once-a-second snapshots and can be off by part of a
  second of requests at either instant: here {n1:.2f} and {n2:.2f} µs/request.
- 1 → 2 workers: one pair of runs moved by up to ±24 % on this machine, in both directions,
  with the same code (bench/RESULTS.md, "1 → 2 workers"), so
  the engine is run in {len(pairs)} pairs (the table's runs, then {len(pairs) - 1} more with the
  order alternating) and the goal is judged on the median change of nginx-counted steady
  CPU/request. It is one-sided: two workers sharing core {GENERATOR_CORE} each find more
  responses ready per turn (p99 4 ms against 1 ms), so they may cost less per request; the goal
  guards against the split adding work.

{pairs_table(pairs)}

{header}
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
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
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        nginx = start_nginx(tmp, port)
        try:
            runners = {
                "engine1": lambda: run_engine(url, port, args.duration, args.connections, 1, tmp),
                "engine2": lambda: run_engine(url, port, args.duration, args.connections, 2, tmp),
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
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
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


def show(result: Result) -> None:
    steady = result.steady
    print(
        f"{result.name:24} {result.requests:>10,} req {result.rps:>10,.0f} req/s "
        f"p99 {result.p99_ms:7.2f} ms  cpu {result.cpu_s:6.2f} s  "
        f"{result.us_per_request:7.2f} µs/req"
        + (
            f"  steady {steady.us_per_request:.2f} µs/req "
            f"({steady.cpu_s:.2f} s CPU, {steady.requests:,} req over "
            f"{steady.first.at:.2f}-{steady.last.at:.2f} s; "
            f"{steady.us_per_nginx_request:.2f} by nginx's count)"
            if steady
            else ""
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
