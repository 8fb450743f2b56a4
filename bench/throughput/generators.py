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

# Steady-state window of an engine or wrk run, in seconds after its launch: from here...
STEADY_FROM = 0.25  # x duration, and at least STEADY_MIN_FROM s (start-up is ~1 s)
STEADY_MIN_FROM = 3.0
# ...to a whole number of seconds later, at most this far in (the run ends >= 1 x duration).
STEADY_TO = 0.90


def pinned(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(GENERATOR_CORE), *cmd]


def fail(name: str, output: str) -> None:
    sys.exit(f"{name} failed:\n{output[-6000:]}")


def steady_window(duration: int) -> tuple[float, float]:
    """The two instants, in s after launch, between which a run's steady CPU is taken:
    the same for the engine and wrk, so that their steady figures compare."""
    first_at = max(STEADY_MIN_FROM, STEADY_FROM * duration)
    return first_at, first_at + max(1, int(STEADY_TO * duration - first_at))


def sample_window(
    pid: int, launched: float, duration: int, nginx: Nginx, api_port: int | None = None
) -> Steady:
    """Sample ``pid``'s tree at the two instants of ``steady_window``, and only then."""
    samples = []
    for at in steady_window(duration):
        time.sleep(max(0.0, launched + at - time.monotonic()))
        samples.append(sample(pid, launched, nginx, api_port))
    return Steady(*samples)


def run_wrk(nginx: Nginx, duration: int, connections: int) -> Result:
    """wrk, whole run as the others, and its steady window as the engine's: CPU of its
    process from /proc over nginx's count between the same two instants."""
    url = f"{nginx.url}/"
    cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url])
    before = children_cpu()
    launched = time.monotonic()
    # taskset execs wrk, so this pid is wrk's.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        steady = sample_window(proc.pid, launched, duration, nginx)
        out, _ = proc.communicate(timeout=duration + 30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc.kill()
        out, _ = proc.communicate()
        fail("wrk", f"{exc!r}\n{out}")
    # Reaped by communicate(), so it is in RUSAGE_CHILDREN now.
    cpu = children_cpu() - before
    if proc.returncode != 0:
        fail(f"wrk (exit {proc.returncode})", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()
    p99_ms = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]
    return Result("wrk", " ".join(cmd), requests, rps, p99_ms, cpu, steady)


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

    Its HTTP API is on so that /metrics can be read at the two instants of
    ``steady_window`` (a whole number of seconds apart, so each worker's snapshot lag is
    about the same at both), and only then: a scrape costs the supervisor CPU.
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
    before = children_cpu()
    launched = time.monotonic()
    engine.start()
    try:
        steady = sample_window(engine.pid, launched, duration, nginx, api_port)
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
        steady,
    )
