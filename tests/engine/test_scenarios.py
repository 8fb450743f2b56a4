"""Scenarios: weighted multi-step flows with assertions, extraction and thresholds.

Exit codes are part of the contract: 0 passed, 1 an assertion or threshold failed.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.engine.cli import run_cli


def _config(tmp_path: Path, doc: dict) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _plan(url: str, scenarios: list, thresholds: list | None = None) -> dict:
    return {
        "target": {"url": url},
        "load": {"model": "Concurrent", "concurrency": 4, "duration": "2s"},
        "scenarios": scenarios,
        "thresholds": thresholds or [],
    }


LOGIN_FLOW = {
    "name": "login",
    "weight": 3,
    "steps": [
        {
            "name": "get token",
            "path": "/json",
            "assert": {"status": 200, "json_path": {"$.items[1].id": 2}},
            "extract": {"token": {"json_path": "$.token"}},
        },
        {
            "name": "use token",
            "method": "POST",
            "path": "/echo",
            "headers": {"Authorization": "Bearer ${token}"},
            "query": {"t": "${token}"},
            "json": {"token": "${token}", "n": 1},
            "assert": {"body_contains": "Bearer abc123"},
            "extract": {"echoed": {"regex": '"query": "t=(\\w+)"'}},
        },
        {"name": "check", "path": "/echo?v=${echoed}", "assert": {"body_contains": "v=abc123"}},
    ],
}
HOME = {"name": "home", "weight": 1, "steps": [{"name": "home", "path": "/"}]}


def test_flow_with_extraction_passes(http_target, tmp_path) -> None:
    config = _config(tmp_path, _plan(http_target.url, [LOGIN_FLOW, HOME], ["p99 < 2s"]))
    proc, results = run_cli(["--config", config, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["errors_total"] == 0
    steps = results["steps"]
    assert set(steps) == {"login / get token", "login / use token", "login / check", "home / home"}
    # each login pass runs its three steps in order, so their counts match
    assert steps["login / get token"]["requests_total"] >= steps["login / check"]["requests_total"]
    assert (
        steps["login / get token"]["requests_total"] - steps["login / check"]["requests_total"] <= 4
    )
    # weights 3:1 between the scenarios' passes
    ratio = steps["login / get token"]["requests_total"] / steps["home / home"]["requests_total"]
    assert 2.4 < ratio < 3.6
    assert results["passed"] is True
    assert "login / use token" in proc.stdout


def test_failed_assertion_counts_and_exits_1(http_target, tmp_path) -> None:
    flow = {
        "name": "wrong",
        "steps": [
            {"name": "expect 201", "path": "/", "assert": {"status": 201}},
            {"name": "never reached", "path": "/json"},
        ],
    }
    config = _config(tmp_path, _plan(http_target.url, [flow]))
    proc, results = run_cli(["--config", config, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert results["errors"]["assertion"] == results["requests_total"] > 0
    # a failed step ends the pass: the next step is never sent
    assert results["steps"]["wrong / never reached"]["requests_total"] == 0
    assert results["passed"] is False
    assert "FAILED" in proc.stdout


def test_expected_error_status_is_not_an_error(http_target, tmp_path) -> None:
    flow = {"name": "gone", "steps": [{"path": "/status/404", "assert": {"status": 404}}]}
    config = _config(tmp_path, _plan(http_target.url, [flow]))
    proc, results = run_cli(["--config", config, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["errors_total"] == 0
    assert results["status_codes"] == {"404": results["requests_total"]}


def test_missing_json_field_fails_extraction(http_target, tmp_path) -> None:
    flow = {
        "name": "extract",
        "steps": [{"path": "/json", "extract": {"x": {"json_path": "$.nope"}}}],
    }
    config = _config(tmp_path, _plan(http_target.url, [flow]))
    proc, results = run_cli(["--config", config, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert results["errors"]["assertion"] == results["requests_total"] > 0


def test_thresholds_decide_the_exit_code(http_target, tmp_path) -> None:
    flow = {"name": "slow", "steps": [{"path": "/slow?ms=50"}]}
    passing = _config(tmp_path, _plan(http_target.url, [flow], ["p99 < 500ms", "error_rate < 1%"]))
    proc, results = run_cli(["--config", passing, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [t["passed"] for t in results["thresholds"]] == [True, True]

    failing = _config(tmp_path, _plan(http_target.url, [flow], ["p50 < 10ms", "rps > 1"]))
    proc, results = run_cli(["--config", failing, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert [t["passed"] for t in results["thresholds"]] == [False, True]
    assert results["thresholds"][0]["actual"] >= 50
    assert "FAIL" in proc.stdout


def test_http_errors_alone_fail_no_run_but_errors_only_does(http_target, tmp_path) -> None:
    ok = {"name": "ok", "steps": [{"path": "/"}]}
    broken = {"name": "broken", "steps": [{"path": "/status/503"}]}
    mixed = _config(tmp_path, _plan(http_target.url, [ok, broken]))
    proc, results = run_cli(["--config", mixed, "--workers", "1"], {}, tmp_path=tmp_path)
    assert results["errors"]["http_5xx"] > 0 and results["status_codes"]["200"] > 0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["passed"] is True and results["failures"] == []

    only_broken = _config(tmp_path, _plan(http_target.url, [broken], ["rps > 1000000"]))
    proc, results = run_cli(["--config", only_broken, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert results["failures"][-1] == "no request succeeded"
    assert results["failures"][0].startswith("threshold rps > 1000000 not met (actual ")
    assert "failed: no request succeeded" in proc.stdout
