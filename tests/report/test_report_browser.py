"""The HTML report of a real standalone run, opened from disk in headless Chromium: it
shows offline (no console error, no request but the file), every chart has points, and
its tables hold the run's figures. A screenshot is kept in .cache/test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.engine.cli import run_cli
from tests.report.documents import synthetic_results
from tests.report.report_page import open_offline, table_rows
from tests.services import HttpTarget
from tests.support.browser import Browser

SECONDS = 4


def _plan(tmp_path: Path, url: str) -> Path:
    plan = {
        "target": {"url": url},
        "load": {
            "model": "Rps",
            "target_rps": 60,
            "duration": f"{SECONDS}s",
            "concurrency": 8,
            "workers": 1,
        },
        "scenarios": [
            {
                "name": "shop",
                "steps": [{"name": "home", "path": "/"}, {"name": "slow", "path": "/slow?ms=20"}],
            }
        ],
        "thresholds": ["p99 < 5s", "error_rate < 1%"],
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_the_report_of_a_real_run_shows_offline_with_every_chart_drawn(
    http_target: HttpTarget, browser: Browser, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    proc, results = run_cli(
        ["--config", str(_plan(tmp_path, http_target.url)), "--report", str(report)],
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"report written to {report}" in proc.stdout
    assert len(results["timeline"]["points"]) == SECONDS

    charts = open_offline(browser, report)
    by_id = {chart["id"]: chart for chart in charts}
    assert {"throughput", "errors", "latency-over-time", "in-flight", "distribution"} <= set(by_id)
    # A point a second on the time charts; the run's latency curve from 0 % to its max.
    assert by_id["throughput"]["series"] == [{"name": "req/s", "points": SECONDS}]
    assert [s["name"] for s in by_id["latency-over-time"]["series"]] == [
        "p50",
        "p90",
        "p99",
        "max",
    ]
    assert by_id["distribution"]["series"][0]["points"] > 40

    assert browser.evaluate("return document.getElementById('verdict').textContent") == "PASSED"
    steps = {row[0]: row for row in table_rows(browser, "steps-table")}
    assert set(steps) == {"shop / home", "shop / slow"}
    assert steps["shop / home"][1] == f"{results['steps']['shop / home']['requests_total']:,}"
    assert [row[2] for row in table_rows(browser, "thresholds-table")] == ["PASS", "PASS"]
    browser.screenshot("standalone-report")


def test_a_one_hour_report_opens_offline_with_every_chart_drawn(
    browser: Browser, tmp_path: Path
) -> None:
    # Synthetic document (tests/report/documents.py): a 1-hour run is too long for a test.
    from loadtest_supervisor.report.report_file import write_report

    report = tmp_path / "hour.html"
    write_report(str(report), synthetic_results(3600, cluster=True))
    assert report.stat().st_size < 2_000_000
    charts = open_offline(browser, report)
    assert len(charts) == 8
    assert [row[0] for row in table_rows(browser, "nodes-table")] == ["node-a", "node-b", "node-c"]
    browser.screenshot("one-hour-cluster-report")
