"""``GET /results`` of a real standalone run: live while it runs, final after it, and still
served for ``--linger`` seconds."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.engine.cli import run_cli, start_cli
from tests.support import LOOPBACK, free_port, wait_for

LINGER_S = 3.0


def _results(base: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base}/results", timeout=2) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # before the run starts: no results yet
            return None
        raise


def test_results_are_live_during_the_run_and_final_while_lingering(
    http_target, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": "200",
        "NUM_CONCURRENT_TASKS": "4",
        "TEST_DURATION": "4s",
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{port}",
    }
    args = ["--workers", "1", "--linger", f"{LINGER_S:g}s"]
    with start_cli(args, env, tmp_path=tmp_path) as cli:
        first = wait_for(
            lambda: (doc := _results(base)) and doc["requests_total"] and doc,
            timeout=20,
            what="/results with requests",
        )
        # Past two snapshot intervals (0.25 s): the document must have moved on.
        time.sleep(0.8)
        second = _results(base)
        assert second is not None
        assert not cli.results_path.exists(), "these must be read before the run ends"

        final_file = wait_for(
            lambda: cli.results_path.exists() and json.loads(cli.results_path.read_text()),
            timeout=20,
            what="the run to end and write its results",
        )
        written_at = time.monotonic()
        served = _results(base)
        assert cli.running(), "the API must linger after the run"
        proc, results = cli.wait(LINGER_S + 15)
        lingered = time.monotonic() - written_at

    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Live: the counts grow between reads, over a growing duration, at about the rate.
    assert second["requests_total"] - first["requests_total"] >= 80, (first, second)
    assert second["duration_s"] > first["duration_s"]
    assert list(first) == list(results)  # the same document, as it stands
    # Final: after the run, /results is exactly what --out wrote.
    assert served == final_file == results
    assert results["requests_total"] >= second["requests_total"]
    assert LINGER_S - 0.5 <= lingered <= LINGER_S + 5, lingered
    assert "event=http_api_lingering" in proc.stderr


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_linger_is_a_named_usage_error(tmp_path: Path, value: str) -> None:
    proc, _ = run_cli(
        ["--linger", value],
        {"TARGET_URL": "http://127.0.0.1:9/", "TEST_DURATION": "1s"},
        tmp_path=tmp_path,
        expect_results=False,
    )
    assert proc.returncode == 2
    assert "--linger" in proc.stderr and f"'{value}'" in proc.stderr
