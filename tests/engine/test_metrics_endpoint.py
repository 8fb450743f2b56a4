"""The HTTP API of a real standalone run: live Prometheus counters and the health state."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.engine.cli import CliProcess, start_cli
from tests.support import LOOPBACK, free_port, wait_for

RPS = 200


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        assert resp.status == 200
        return resp.read().decode()


def _requests_total(base: str) -> float:
    """loadtest_requests_total from a scrape, summed over any labels it carries."""
    text = _get(f"{base}/metrics")
    samples = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "loadtest_requests_total"
    ]
    assert samples, f"no loadtest_requests_total in /metrics:\n{text}"
    return sum(samples)


def _still_running(cli: CliProcess) -> None:
    # Fail at once with the run's output rather than polling a dead port until the timeout.
    if not cli.running():
        raise AssertionError(f"the run ended before /metrics answered:\n{cli.stderr_text()}")


def test_metrics_grow_during_a_run(http_target, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": str(RPS),
        "NUM_CONCURRENT_TASKS": "4",
        "TEST_DURATION": "4s",
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{port}",
    }
    with start_cli(["--workers", "1"], env, tmp_path=tmp_path) as cli:
        # Up and counting: workers report about once a second, so the first
        # scrapes may answer before any snapshot has arrived.
        first = wait_for(
            lambda: _requests_total(base) or None,
            timeout=20,
            what="/metrics with a nonzero loadtest_requests_total",
            alive=lambda: _still_running(cli),
        )
        # A little over the 1 s snapshot interval, so at least one new snapshot lands.
        time.sleep(1.5)
        second = _requests_total(base)
        health = json.loads(_get(f"{base}/health/cluster"))
        assert cli.running(), "the run ended during the scrapes: they did not watch a live run"
        proc, results = cli.wait(30)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    # At 200 rps, 1.5 s holds at least one full snapshot's worth (~200) of new requests.
    assert second - first >= RPS // 2, (first, second)
    assert health["state"] == "standalone"
    assert results["requests_total"] >= second
    assert results["errors_total"] == 0
