"""The page draws a results document's ``timeline`` (docs/design.md §11.1) when it has
one: each second's req/s, errors, latency and each node's req/s, with the run's events on
the time axis, and asks only for the points it lacks.

The node here is a real HTTP API (``serve_http_api``) serving a results document written
by the test, a stand-in for a run: it lets the test say exactly which seconds exist."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from loadtest_supervisor.http_api import StandaloneNode, build_app, serve_http_api
from tests.dashboard.page import DashboardPage
from tests.support import LOOPBACK
from tests.support.browser import Browser

NODES = ("node-a", "node-b")


def point(t: int) -> dict[str, Any]:
    errors = {"timeout": 2} if t == 4 else {}
    return {
        "t": t,
        "time": f"2026-11-29T15:00:{t:02d}Z",
        "requests": 100 + t,
        "rps": 100.0 + t,
        "errors_total": sum(errors.values()),
        "errors": errors,
        "in_flight": 7 + t,
        "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0 + t, "max": 9.0},
        "nodes_live": 2,
        "node_rps": {node: (100.0 + t) / 2 for node in NODES},
    }


def results(seconds: int) -> dict[str, Any]:
    """A cluster run's live document after ``seconds`` seconds."""
    points = [point(t) for t in range(seconds)]
    return {
        "requests_total": sum(p["requests"] for p in points),
        "errors_total": 2 if seconds > 4 else 0,
        "error_rate": 0.0,
        "rps": 100.0,
        "duration_s": float(seconds),
        "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 9.0},
        "errors": {"timeout": 2 if seconds > 4 else 0},
        "failures": [],
        "nodes": {node: {"requests_total": 1, "rps": 50.0} for node in NODES},
        "run": {"run_id": "r1", "state": "running", "elapsed_s": float(seconds), "final": False},
        "timeline": {
            "interval_s": 1,
            "points": points,
            "events": [{"t": 2.5, "kind": "node_lost", "node": "node-c", "term": 3}],
        },
    }


@pytest.fixture
def served() -> Iterator[tuple[str, StandaloneNode]]:
    """A node's HTTP API on its own loop in a thread, and the node, to change its results."""
    node = StandaloneNode("node-a")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        serve_http_api(build_app(node), LOOPBACK, 0), loop
    ).result(10)
    try:
        yield f"http://{LOOPBACK}:{server.port}", node
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_the_charts_follow_the_timeline(
    served: tuple[str, StandaloneNode], browser: Browser
) -> None:
    base, node = served
    node.set_results(results(6))
    page = DashboardPage(browser, base)
    page.open()
    page.wait_for(lambda: page.chart_points("chart-throughput") == 12, what="6 seconds drawn")
    assert page.chart_points("chart-latency") == 24  # p50, p90, p99, max
    assert page.chart_points("chart-nodes") == 12
    assert page.text("in-flight") == "12"  # the last second's
    assert page.text("rps-now") == "105"
    assert page.text("latency-note") == "each second"
    assert (
        browser.evaluate(
            "return [...document.querySelectorAll('#chart-throughput .event-node_lost')].length"
        )
        == 1
    )
    recent = browser.evaluate(
        "return [...document.querySelectorAll('#recent-errors tbody td')].map(td => td.textContent)"
    )
    assert recent == ["15:00:04 (4 s)", "timeout 2"]

    node.set_results(results(9))
    page.wait_for(lambda: page.chart_points("chart-throughput") == 18, what="9 seconds drawn")
    asked = [url for url in browser.requests() if "/dashboard/state" in url]
    # Once it has the timeline, the page asks only from its last second on.
    assert f"{base}/dashboard/state" in asked
    assert any(url.endswith("?after=4") or url.endswith("?after=7") for url in asked), asked
    assert browser.console_errors() == []
