"""The dashboard of a real standalone run, in headless Chromium: it loads with no console
error and nothing from elsewhere, shows this one node and its plan, and its numbers and
charts move while the run goes on."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.dashboard.page import DashboardPage
from tests.engine.cli import start_cli
from tests.support import LOOPBACK, free_port, port_accepts, wait_for
from tests.support.browser import Browser

SECONDS = 12


def test_a_standalone_runs_dashboard_shows_it_live(
    http_target, browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    plan = tmp_path / "plan.yaml"
    # One pass in ten answered 503: errors for the page to show.
    plan.write_text(
        f"target: {{url: '{http_target.url}'}}\n"
        f"load: {{model: Rps, target_rps: 200, concurrency: 4, duration: {SECONDS}s}}\n"
        "scenarios:\n"
        "  - {name: ok, weight: 9, steps: [{path: /}]}\n"
        "  - {name: failing, weight: 1, steps: [{path: /status/503}]}\n"
    )
    env = {"HTTP_API_ENABLED": "true", "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{port}"}
    args = ["--config", str(plan), "--workers", "1", "--linger", "5s"]
    with start_cli(args, env, tmp_path=tmp_path) as cli:
        page = DashboardPage(browser, base)
        wait_for(lambda: port_accepts(LOOPBACK, port), timeout=20, what="the HTTP API")
        page.open()
        first, second = page.wait_for_moving_numbers()
        page.wait_for(lambda: page.chart_points("chart-throughput") >= 4, what="a chart")
        assert page.chart_points("chart-latency") >= 2
        nodes = page.nodes()
        run_state = page.text("run-state")
        plan_shown = (page.text("plan-source"), page.text("plan-sha"))
        stop_offered = page.has_element("stop-button")
        error_kinds = page.wait_for(
            lambda: (rows := page.table("error-kinds"))[0][0] != "none" and rows,
            what="the error kinds with their counts",
        )
        last_errors = page.wait_for(
            lambda: (rows := page.table("recent-errors"))[0][0] != "–" and rows,
            what="the last errors",
        )
        browser.screenshot("standalone-dashboard")
        # Read while the node is up: once it exits, the page says so in its console.
        errors = browser.console_errors()
        proc, results = cli.wait(SECONDS + 30)

    assert proc.returncode == 0, proc.stderr
    assert 0 < first < second <= results["requests_total"]
    # Just this node, standalone, running the plan from its file.
    assert [(n["address"], n["state"]) for n in nodes] == [(f"{LOOPBACK}:{port}", "standalone")]
    assert run_state == "running"
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    assert plan_shown == (f"file {plan}", sha[:12])
    # The errors, by kind, and the seconds they came in (newest first), as they happened.
    assert [kind for kind, _ in error_kinds] == ["http_5xx"]
    assert 0 < float(error_kinds[0][1].replace(",", "")) <= results["errors"]["http_5xx"]
    assert last_errors and all(errors.startswith("http_5xx ") for _, errors in last_errors)
    # A standalone node takes no token, so the page offers no stop.
    assert not stop_offered
    assert errors == []
    assert all(url.startswith(f"{base}/") or url.startswith("data:") for url in browser.requests())
