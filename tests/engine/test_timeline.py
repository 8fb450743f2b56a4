"""The results' timeline from a real standalone run: one point per second, from that
second's own histogram, adding up to the run, and showing a stall of the target where
it happened."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.engine.cli import run_cli, start_cli
from tests.support import wait_for


def _start_at(stderr: str) -> float | None:
    found = re.search(r"event=run_started .*start_at=([\d.]+)", stderr)
    return float(found.group(1)) if found else None


def _check_shape(points: list[dict]) -> None:
    assert [p["t"] for p in points] == list(range(len(points)))
    for p in points:
        assert set(p) == {
            "t",
            "time",
            "requests",
            "rps",
            "errors_total",
            "errors",
            "in_flight",
            "latency_ms",
        }
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["time"])
        assert p["errors_total"] == sum(p["errors"].values())
        assert all(p["errors"].values())  # zero kinds are left out
        assert isinstance(p["in_flight"], int)


def test_timeline_adds_up_to_the_run(http_target, tmp_path: Path) -> None:
    rps, duration = 300, 5
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": str(rps),
        "NUM_CONCURRENT_TASKS": "16",
        "TEST_DURATION": f"{duration}s",
    }
    proc, results = run_cli(["--workers", "2"], env, tmp_path=tmp_path, timeout=60)

    assert proc.returncode == 0, proc.stderr
    timeline = results["timeline"]
    assert timeline["interval_s"] == 1 and timeline["events"] == []
    points = timeline["points"]
    _check_shape(points)
    assert len(points) == duration
    # Every request is in exactly one second; req/s adds up within one second's worth.
    assert sum(p["requests"] for p in points) == results["requests_total"]
    assert abs(sum(p["rps"] for p in points) - results["requests_total"]) <= rps
    for p in points:
        assert p["latency_ms"]["p50"] <= p["latency_ms"]["p99"] <= p["latency_ms"]["max"]
    assert all(p["rps"] == p["requests"] for p in points[:-1])
    # The last second is cut where the run ended (its measured length, a hair under or
    # at 5 s), and its rate is per the part of it covered.
    last = points[-1]
    assert last["requests"] <= last["rps"] <= last["requests"] * 1.05


def test_a_stall_of_the_target_shows_in_its_seconds(http_target_factory, tmp_path: Path) -> None:
    """The target frozen (SIGSTOP) for 1 s from the middle of second 3: the requests due
    meanwhile are answered when it thaws, in second 4, with their wait; second 3 answers
    half its share and ends with the stalled requests outstanding. The p99 jumps in
    exactly the seconds the stall covers (3 and 4) where they were answered: second 4.
    Every other second keeps the target's usual latency, because each second's
    percentiles come from that second's own samples (the run's cumulative p99 would
    stay high after the stall)."""
    target = http_target_factory()
    rps, duration, stall_at = 200, 8, 3.5
    env = {
        "TARGET_URL": target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": str(rps),
        "NUM_CONCURRENT_TASKS": "300",  # the stall's arrivals each get a connection
        "TEST_DURATION": f"{duration}s",
    }
    with start_cli(["--workers", "1"], env, tmp_path=tmp_path) as cli:
        start_at = wait_for(lambda: _start_at(cli.stderr_text()), timeout=30, what="run_started")
        try:
            time.sleep(max(0.0, start_at + stall_at - time.time()))
            os.kill(target.pid, signal.SIGSTOP)
            time.sleep(1.0)
        finally:
            os.kill(target.pid, signal.SIGCONT)
        proc, results = cli.wait(duration + 30)

    assert proc.returncode == 0, proc.stderr
    points = results["timeline"]["points"]
    _check_shape(points)
    p99 = [p["latency_ms"]["p99"] for p in points]
    stalled, answered = 3, 4
    assert p99[answered] > 500, p99  # waited up to the stall's 1 s
    jumped = {t for t, ms in enumerate(p99) if ms > 100}
    assert jumped == {answered}, p99
    assert points[stalled]["requests"] < 0.75 * rps, points[stalled]
    assert points[stalled]["in_flight"] >= 0.25 * rps, points[stalled]
    assert points[answered]["requests"] > 1.25 * rps, points[answered]
    assert results["latency_ms"]["p99"] > 100  # the run's own p99 keeps the stall
