"""Rate curves second by second, as the target saw them: nginx's access log, one line per
request with its time, binned by second of the run.

A total can hide a wrong shape (a flat rate with the same total passes a total), so each
second's count must be within 5 % of the curve's integral over that second. The curves
are written here from the documented shapes (design §11.1), not taken from the engine's
own ``RateCurve``, so a wrong shape in the engine cannot agree with itself. A run with a
2 s stall of the target shows the catch-up: the arrivals owed during the stall go out
late, right after it, and then the rate is the curve's again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.cli import start_cli
from tests.services import Nginx
from tests.support import wait_for

TOLERANCE = 0.05


def _start_at(stderr: str) -> float | None:
    """The run's first instant on the wall clock, from its run_started event."""
    found = re.search(r"event=run_started .*start_at=([\d.]+)", stderr)
    return float(found.group(1)) if found else None


def _per_second(nginx: Nginx, start_at: float, seconds: int) -> list[int]:
    counts = [0] * seconds
    for hit in nginx.hits():
        second = int(hit.at - start_at)  # hit.at < start_at: the readiness check, before
        if hit.at >= start_at and second < seconds:
            counts[second] += 1
    return counts


def _integral(rate: Callable[[float], float], t0: float, t1: float, steps: int = 2000) -> float:
    """The arrivals ``rate`` asks for in [t0, t1), by the midpoint rule (exact enough
    for piecewise-linear curves at 2000 steps a second)."""
    width = (t1 - t0) / steps
    return sum(rate(t0 + (i + 0.5) * width) for i in range(steps)) * width


def _piecewise(points: list[tuple[float, float]], cycle: float | None = None):
    """Linear between ``points`` (t, rate), flat after the last, repeating every ``cycle``."""

    def rate(t: float) -> float:
        if cycle:
            t %= cycle
        for (t0, r0), (t1, r1) in zip(points, points[1:], strict=False):
            if t0 <= t < t1:
                return r0 + (r1 - r0) * (t - t0) / (t1 - t0)
        return points[-1][1]

    return rate


def _run_and_bin(nginx: Nginx, tmp_path: Path, env: dict[str, str], seconds: int) -> list[int]:
    with start_cli(
        ["--workers", "1"],
        {"TARGET_URL": nginx.url + "/", "NUM_CONCURRENT_TASKS": "32", **env},
        tmp_path=tmp_path,
    ) as cli:
        proc, results = cli.wait(seconds + 30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["errors_total"] == 0, results["errors"]
    assert results["dropped_iterations"] == 0, results["dropped_by_cause"]
    start_at = _start_at(proc.stderr)
    assert start_at is not None, proc.stderr
    return _per_second(nginx, start_at, seconds)


def _assert_each_second(
    counts: list[int], expected: list[float], skip: frozenset[int] = frozenset()
) -> None:
    off = {
        second: (count, round(want))
        for second, (count, want) in enumerate(zip(counts, expected, strict=True))
        if second not in skip and abs(count - want) > TOLERANCE * want
    }
    assert not off, f"seconds off the curve by > 5 % (count, expected): {off}; all: {counts}"


def test_ramp_rps_goes_up_holds_and_comes_down_second_by_second(
    logged_nginx: Nginx, tmp_path: Path
) -> None:
    # Up 200 -> 1200 over 3 s, hold 1200 for 2 s, down over the last 3 s (§11.1).
    low, high, ramp, duration = 200.0, 1200.0, 3.0, 8
    rate = _piecewise([(0, low), (ramp, high), (duration - ramp, high), (duration, low)])
    counts = _run_and_bin(
        logged_nginx,
        tmp_path,
        {
            "LOAD_MODEL_TYPE": "RampRps",
            "MIN_RPS": f"{low:g}",
            "MAX_RPS": f"{high:g}",
            "RAMP_DURATION": f"{ramp:g}s",
            "TEST_DURATION": f"{duration}s",
        },
        duration,
    )
    expected = [_integral(rate, s, s + 1) for s in range(duration)]
    _assert_each_second(counts, expected)
    # Not flat: the shape itself, up then down (the means of a flat run would all match).
    assert counts[0] < counts[1] < counts[2] < counts[3]
    assert counts[4] > counts[5] > counts[6] > counts[7]


def test_daily_traffic_follows_its_phases_second_by_second(
    logged_nginx: Nginx, tmp_path: Path
) -> None:
    # A 5 s "day": min->max 20 %, max 10 %, max->mid 20 %, mid 10 %, mid->min 20 %,
    # min 20 % (§11.1), twice.
    low, mid, high, cycle, duration = 200.0, 500.0, 1000.0, 5.0, 10
    edges = [0.0, 1.0, 1.5, 2.5, 3.0, 4.0, 5.0]
    rate = _piecewise(list(zip(edges, [low, high, high, mid, mid, low, low], strict=True)), cycle)
    counts = _run_and_bin(
        logged_nginx,
        tmp_path,
        {
            "LOAD_MODEL_TYPE": "DailyTraffic",
            "DAILY_MIN_RPS": f"{low:g}",
            "DAILY_MID_RPS": f"{mid:g}",
            "DAILY_MAX_RPS": f"{high:g}",
            "DAILY_CYCLE_DURATION": f"{cycle:g}s",
            "TEST_DURATION": f"{duration}s",
        },
        duration,
    )
    expected = [_integral(rate, s, s + 1) for s in range(duration)]
    _assert_each_second(counts, expected)
    # Both days have the same shape: a flat or a one-off curve would not.
    assert counts[1] > counts[3] > counts[4] and counts[6] > counts[8] > counts[9]


def test_rps_catches_up_after_a_stall_of_the_target_and_then_holds(
    logged_nginx: Nginx, tmp_path: Path
) -> None:
    """nginx frozen (SIGSTOP) from second 3 to 5 of a 9 s run at 800/s: nothing is
    answered then, the 1,600 arrivals owed meanwhile wait in the worker's queue and go
    out as soon as it is back, late (their latency says so), and from then on the rate
    is 800/s again."""
    rps, duration, stall_from, stall_to, connections = 800.0, 9, 3, 5, 64
    env = {
        "TARGET_URL": logged_nginx.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": f"{rps:g}",
        "NUM_CONCURRENT_TASKS": str(connections),
        "TEST_DURATION": f"{duration}s",
    }
    with start_cli(["--workers", "1"], env, tmp_path=tmp_path) as cli:
        start_at = wait_for(
            lambda: _start_at(cli.stderr_text()), timeout=30, what="the run_started event"
        )
        try:
            time.sleep(max(0.0, start_at + stall_from - time.time()))
            logged_nginx.pause()
            time.sleep(max(0.0, start_at + stall_to - time.time()))
        finally:
            logged_nginx.resume()
        proc, results = cli.wait(duration + 30)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["errors_total"] == 0, results["errors"]
    counts = _per_second(logged_nginx, start_at, duration)
    # Before and well after the stall: the rate, second by second.
    _assert_each_second(counts, [rps] * duration, skip=frozenset({3, 4, 5, 6}))
    # The stall: nothing answered. The requests in flight when nginx froze are answered
    # when it thaws, but logged with the time nginx cached before it froze (at most one
    # per connection), and the freeze itself lands within a few ms of its second.
    assert counts[stall_from] + counts[stall_from + 1] <= connections + TOLERANCE * rps, counts
    # The catch-up, visible: the second after holds its own 800 and most of the 1,600
    # owed during the stall.
    assert counts[stall_to] >= 2 * rps, counts
    # ... and bounded: from the stall's start to the catch-up's end the target got what
    # the curve owed over those seconds, no more (nothing sent twice, no burst beyond
    # the backlog) and no less (nothing dropped); after it, the rate again.
    assert sum(counts[stall_from : stall_to + 2]) == pytest.approx(4 * rps, rel=TOLERANCE)
    assert counts[stall_to + 1] == pytest.approx(rps, rel=TOLERANCE), counts
    assert results["dropped_iterations"] == 0
    assert results["requests_total"] == pytest.approx(duration * rps, abs=2)
    # The late ones carry their wait: up to the stall's 2 s, from their intended instant.
    assert results["latency_ms"]["max"] > 1500, results["latency_ms"]
