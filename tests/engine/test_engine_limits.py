"""The engine at its limits, through the real command against real targets.

An absurd rate sends as fast as the connections and the CPU allow, counts the rest as
dropped (exactly), and ends on time. A worker that is the bottleneck says so, and why
iterations were dropped: a slow target keeps every connection busy; a worker out of CPU
is saturated.
"""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadtest_supervisor.config.load_models import MAX_RATE_PER_WORKER
from tests.engine.cli import run_cli, start_cli
from tests.support import LOOPBACK, free_port, wait_for

SATURATED = "load generator saturated: add workers or nodes"


def _event_times(stderr: str, event: str) -> list[float]:
    """When each ``event`` line was logged (its ``ts``, Unix seconds)."""
    found = re.findall(rf"^ts=(\S+) .*event={event}\b", stderr, re.M)
    return [datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() for ts in found]


def _gauge(base: str, name: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"no {name} in /metrics:\n{text}")


def test_a_worker_out_of_cpu_says_it_is_saturated_everywhere(nginx, tmp_path: Path) -> None:
    """One worker, many users on nginx (faster per request than the engine): the worker's
    CPU is the limit, and the log, the progress line, the summary, the document and the
    Prometheus gauge say so."""
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = {
        "TARGET_URL": nginx.url + "/",
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": "128",
        "TEST_DURATION": "4s",
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{port}",
    }
    with start_cli(["--workers", "1"], env, tmp_path=tmp_path) as cli:
        gauge = wait_for(
            lambda: _gauge(base, "loadtest_generator_saturated") or None,
            timeout=20,
            what="loadtest_generator_saturated 1 on /metrics",
        )
        assert cli.running(), "the gauge must be read from a live run"
        proc, results = cli.wait(30)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert gauge == 1
    assert _event_times(proc.stderr, "generator_saturated"), proc.stderr
    assert f'msg="{SATURATED}"' in proc.stderr
    assert SATURATED in proc.stdout  # the progress line and the summary
    saturated = results["generator_saturated"]
    assert saturated is not None, results
    assert saturated["workers"] == 1
    # Saturated for most of the run, from its start (a few intervals may dip).
    assert saturated["saturated_s"] >= 2.0, saturated
    assert saturated["first_at_s"] < 1.5, saturated
    assert saturated["peak_cpu"] + saturated["peak_cpu_wait"] > 0.9, saturated
    assert results["dropped_iterations"] == 0  # a closed model drops nothing


def test_an_absurd_rate_sends_what_it_can_counts_the_rest_and_ends_on_time(
    nginx, tmp_path: Path
) -> None:
    """Rps 1e9 for 3 s on one worker: before, it sent nothing, took 12 s and failed."""
    duration = 3.0
    connections = "64"
    baseline_proc, baseline = run_cli(
        ["--workers", "1"],
        {
            "TARGET_URL": nginx.url + "/",
            "LOAD_MODEL_TYPE": "Concurrent",
            "NUM_CONCURRENT_TASKS": connections,
            "TEST_DURATION": f"{duration}s",
        },
        tmp_path=tmp_path,
    )
    assert baseline_proc.returncode == 0, baseline_proc.stderr

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"target: {{url: '{nginx.url}/'}}\n"
        f"load: {{model: Rps, target_rps: 1e9, concurrency: {connections}, "
        f"duration: {duration}s}}\n"
        "thresholds: ['rps > 500']\n"
    )
    served_before = nginx.requests_served()
    started = time.monotonic()
    proc, results = run_cli(["--config", str(plan), "--workers", "1"], {}, tmp_path=tmp_path)
    wall = time.monotonic() - started
    served = nginx.requests_served() - served_before - 1  # the count's own request

    # Exit per thresholds: rps > 500 holds, so it passes.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["passed"], results["failures"]
    # Accepted, with a warning naming the bound.
    assert "load.target_rps=1e+09 is above what the engine schedules" in proc.stderr
    assert f"{MAX_RATE_PER_WORKER:,.0f} arrivals/s per load worker" in proc.stderr
    # On time: the run itself from its start to its end, and the whole command (spawning
    # a worker and the 0.2 s start lead included) well under the 12 s it took.
    [run_started], [run_finished] = (
        _event_times(proc.stderr, "run_started"),
        _event_times(proc.stderr, "run_finished"),
    )
    assert run_finished - run_started < duration + 1.0, proc.stderr
    assert results["duration_s"] == pytest.approx(duration, abs=0.01)
    assert wall < duration + 6.0
    # As fast as it can: what a closed model with as many connections sends, within
    # the open model's extra cost per request and a busy machine's noise.
    assert results["requests_total"] == served
    assert results["rps"] > 0.4 * baseline["rps"], (results["rps"], baseline["rps"])
    # Every arrival of the schedule (the bound, on one worker) sent or counted as
    # dropped: exactly, to the fraction of an arrival still owed at the end.
    owed = int(duration * MAX_RATE_PER_WORKER)
    assert results["requests_total"] + results["dropped_iterations"] == owed
    causes = results["dropped_by_cause"]
    assert causes["connections_busy"] + causes["generator_saturated"] == owed - served
    # What it sent has its queueing in its latency: arrivals waited for a connection.
    assert results["latency_ms"]["p50"] > 100, results["latency_ms"]
    assert f"{results['dropped_iterations']:,} iterations dropped" in proc.stdout


def test_a_slow_target_drops_iterations_because_connections_are_busy(
    http_target, tmp_path: Path
) -> None:
    """Two connections on a target that answers in 100 ms serve 20/s; 200/s are asked.
    The worker idles: the target is the bottleneck, not the generator."""
    proc, results = run_cli(
        ["--workers", "1"],
        {
            "TARGET_URL": http_target.url + "/slow?ms=100",
            "LOAD_MODEL_TYPE": "Rps",
            "TARGET_RPS": "200",
            "NUM_CONCURRENT_TASKS": "2",
            "TEST_DURATION": "3s",
        },
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # About 2 x 10/s x 3 s sent; the rest of the 600 arrivals dropped (still queued at
    # the end), every one for busy connections.
    assert 40 <= results["requests_total"] <= 62, results["requests_total"]
    assert results["requests_total"] + results["dropped_iterations"] == 600
    assert results["dropped_by_cause"] == {
        "connections_busy": results["dropped_iterations"],
        "generator_saturated": 0,
    }
    assert results["generator_saturated"] is None
    assert "connections busy: the target is slow (raise concurrency or accept it)" in " ".join(
        proc.stdout.split()
    )
    assert SATURATED not in proc.stdout
    assert "event=generator_saturated" not in proc.stderr
