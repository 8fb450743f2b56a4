"""Every load model holds its rate: the real CLI against a real target on 127.0.0.1.

The RPS models are checked against the exact integral of their rate curve
(±2%); the closed model against what its users can do on a server that answers
in a known time.
"""

from __future__ import annotations

import pytest

from tests.engine.cli import run_cli


def _run(http_target, tmp_path, **env: str) -> dict:
    proc, results = run_cli(
        ["--workers", "2"],
        {"TARGET_URL": http_target.url + "/", **env},
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert results["errors_total"] == 0, results["errors"]
    return results


def test_rps_holds_its_target(http_target, tmp_path) -> None:
    results = _run(
        http_target,
        tmp_path,
        LOAD_MODEL_TYPE="Rps",
        TARGET_RPS="800",
        TEST_DURATION="4s",
        NUM_CONCURRENT_TASKS="16",
    )
    assert results["requests_total"] == pytest.approx(800 * 4, rel=0.02)
    assert results["rps"] == pytest.approx(800, rel=0.02)


def test_ramp_rps_goes_up_sustains_and_down(http_target, tmp_path) -> None:
    results = _run(
        http_target,
        tmp_path,
        LOAD_MODEL_TYPE="RampRps",
        MIN_RPS="100",
        MAX_RPS="900",
        RAMP_DURATION="1s",
        TEST_DURATION="4s",
        NUM_CONCURRENT_TASKS="16",
    )
    # up: avg 500 for 1 s, sustain 900 for 2 s, down: avg 500 for 1 s
    assert results["requests_total"] == pytest.approx(500 + 1800 + 500, rel=0.02)


def test_daily_traffic_follows_its_cycle(http_target, tmp_path) -> None:
    results = _run(
        http_target,
        tmp_path,
        LOAD_MODEL_TYPE="DailyTraffic",
        DAILY_MIN_RPS="100",
        DAILY_MID_RPS="400",
        DAILY_MAX_RPS="1000",
        DAILY_CYCLE_DURATION="2s",
        TEST_DURATION="4s",
        NUM_CONCURRENT_TASKS="16",
    )
    # One 2 s cycle: 0.4 s avg 550, 0.2 s at 1000, 0.4 s avg 700, 0.2 s at 400,
    # 0.4 s avg 250, 0.4 s at 100 = 920 arrivals; the run is two cycles.
    assert results["requests_total"] == pytest.approx(2 * 920, rel=0.02)


def test_concurrent_keeps_its_users_busy(http_target, tmp_path) -> None:
    proc, results = run_cli(
        ["--workers", "2"],
        {
            "TARGET_URL": http_target.url + "/slow?ms=100",
            "LOAD_MODEL_TYPE": "Concurrent",
            "NUM_CONCURRENT_TASKS": "10",
            "TEST_DURATION": "3s",
        },
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    # 10 users, each one request per ~100 ms, for 3 s: about 300 requests.
    assert 250 <= results["requests_total"] <= 310
    assert 100 <= results["latency_ms"]["p50"] < 130


def test_open_model_latency_counts_queueing(http_target, tmp_path) -> None:
    """Coordinated omission: 50 req/s into one connection that serves 10 req/s.

    Measured from the send instant, every request would look like 100 ms. Measured
    from the instant the schedule wanted it sent, the queue shows: later requests
    wait seconds, and the percentiles must say so.
    """
    proc, results = run_cli(
        ["--workers", "1"],
        {
            "TARGET_URL": http_target.url + "/slow?ms=100",
            "LOAD_MODEL_TYPE": "Rps",
            "TARGET_RPS": "50",
            "NUM_CONCURRENT_TASKS": "1",
            "TEST_DURATION": "3s",
            "REQUEST_TIMEOUT": "10s",
        },
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert results["latency_ms"]["min"] >= 100
    assert results["latency_ms"]["p90"] > 1000
