"""The load generators, each run pinned to one core against the same nginx: the engine's
real command, wrk and Locust (FastHttpUser)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.throughput.measure import Result, Steady, children_cpu, run_measured, sample
from tests.services import Nginx
from tests.support import LOOPBACK, ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
GENERATOR_CORE = 0
SERVER_CORE = 1

# Steady-state window of an engine run, in seconds after its launch: from here...
STEADY_FROM = 0.25  # x duration, and at least STEADY_MIN_FROM s (start-up is ~1 s)
STEADY_MIN_FROM = 3.0
# ...to a whole number of seconds later, at most this far in (the run ends >= 1 x duration).
STEADY_TO = 0.90


def pinned(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(GENERATOR_CORE), *cmd]


def fail(name: str, output: str) -> None:
    sys.exit(f"{name} failed:\n{output[-6000:]}")


def run_wrk(url: str, duration: int, connections: int) -> Result:
    cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url])
    proc, cpu = run_measured(cmd, None, duration + 30)
    if proc.returncode != 0:
        fail(f"wrk (exit {proc.returncode})", proc.stdout + proc.stderr)
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
            str(LOCUSTFILE),
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
        fail(f"locust (exit {proc.returncode})", proc.stdout + proc.stderr)
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


def run_engine(nginx: Nginx, duration: int, connections: int, workers: int, tmp: Path) -> Result:
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
    settings = {
        "TARGET_URL": f"{nginx.url}/",
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": str(connections),
        "TEST_DURATION": f"{duration}s",
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{api_port}",
    }
    name = f"engine ({workers} workers)"
    engine = ManagedProcess(
        name, cmd, log_path=tmp / f"engine-{workers}.log", env={**os.environ, **settings}
    )
    first_at = max(STEADY_MIN_FROM, STEADY_FROM * duration)
    last_at = first_at + max(1, int(STEADY_TO * duration - first_at))
    before = children_cpu()
    launched = time.monotonic()
    engine.start()
    try:
        samples = []
        for at in (first_at, last_at):
            time.sleep(max(0.0, launched + at - time.monotonic()))
            samples.append(sample(engine.pid, launched, api_port, nginx))
        engine.wait(timeout=duration + 60)
    except (OSError, AttributeError, subprocess.TimeoutExpired) as exc:
        engine.kill()
        fail(name, f"{exc!r}\n{engine.log_tail()}")
    # Reaped by wait(), so its whole tree is in RUSAGE_CHILDREN now.
    cpu = children_cpu() - before
    if not out.exists():
        fail(name, engine.log_tail())
    data = json.loads(out.read_text())
    env_line = " ".join(f"{key}={value}" for key, value in settings.items())
    return Result(
        f"engine, {workers} worker{'s' if workers > 1 else ''}",
        f"{env_line} {' '.join(cmd)}",
        int(data["requests_total"]),
        float(data["rps"]),
        float(data["latency_ms"]["p99"]),
        cpu,
        Steady(*samples),
    )
