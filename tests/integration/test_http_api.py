import asyncio
import json
import signal
import socket
import urllib.error
import urllib.request

import pytest
import uvloop
from prometheus_client.parser import text_string_to_metric_families

from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.runner import RunOutcome
from loadtest_supervisor.http_api import StandaloneNode, build_app, serve_http_api
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import ERROR_KINDS, Stats
from loadtest_supervisor.results.document import build_results

HDR = 1e-3

# The supervisor runs on uvloop where it can; the API must work on both loops.
RUNNERS = pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])


async def fetch(port, path):
    """GET in a thread: the server runs on this test's loop, which must keep turning."""

    def get():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, resp.headers["content-type"], resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers["content-type"], err.read().decode()

    return await asyncio.to_thread(get)


def worker_totals():
    """Two workers, the second one restarted: 1,000 requests, 1..100 ms, 20 failures."""
    first = Stats()
    for i in range(500):
        first.record(200, (i % 100 + 1) * 1000)
    dead = Stats()
    for i in range(290):
        dead.record(200, (i % 100 + 1) * 1000)
    for _ in range(10):
        dead.record(0, 100_000, "timeout")
    replacement = Stats()
    for i in range(190):
        replacement.record(200, (i % 100 + 1) * 1000)
    for _ in range(10):
        replacement.record(503, 1000, "http_5xx")
    totals = RunTotals()
    for slot, incarnation, stats, dropped in (
        (0, 0, first, 0),
        (1, 0, dead, 2),
        (1, 1, replacement, 1),
    ):
        totals.update(
            {
                "slot": slot,
                "incarnation": incarnation,
                "total": stats.snapshot(),
                "steps": {"s / a": stats.snapshot()},
                "dropped": dropped,
            }
        )
    return totals


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


@RUNNERS
def test_health_metrics_and_results_served_for_real(run):
    node = StandaloneNode("node-dev-1")

    async def scenario():
        server = await serve_http_api(build_app(node), "127.0.0.1", 0)
        try:
            assert server.port > 0
            status, ctype, body = await fetch(server.port, "/health/cluster")
            assert (status, ctype) == (200, "application/json")
            assert json.loads(body) == {
                "state": "standalone",
                "node_id": "node-dev-1",
                "leader_id": None,
                "term": 0,
                "peers": 1,
                "cluster_ready": False,
            }

            # Before any run there is nothing to expose, and no error either.
            status, _, body = await fetch(server.port, "/metrics")
            assert status == 200
            assert "loadtest_requests" not in families(body)

            status, ctype, body = await fetch(server.port, "/results")
            assert (status, ctype) == (404, "application/json")
            assert json.loads(body) == {"error": "no results yet"}

            totals = worker_totals()
            node.set_totals(totals)
            status, ctype, body = await fetch(server.port, "/metrics")
            assert status == 200 and ctype.startswith("text/plain")
            metrics = families(body)

            [requests] = metrics["loadtest_requests"].samples
            assert (requests.name, requests.value) == ("loadtest_requests_total", 1000)

            errors = {s.labels["kind"]: s.value for s in metrics["loadtest_errors"].samples}
            assert errors == {**dict.fromkeys(ERROR_KINDS, 0), "timeout": 10, "http_5xx": 10}

            codes = {s.labels["code"]: s.value for s in metrics["loadtest_responses"].samples}
            assert codes == {"200": 980, "503": 10}

            [dropped] = metrics["loadtest_dropped_iterations"].samples
            assert dropped.value == 3

            latency = metrics["loadtest_request_latency_seconds"]
            assert latency.type == "summary"
            by_name = {(s.name, s.labels.get("quantile")): s.value for s in latency.samples}
            assert by_name[("loadtest_request_latency_seconds_count", None)] == 1000
            expected_s = totals.total().histogram.get_mean_value() * 1000 / 1e6
            assert by_name[("loadtest_request_latency_seconds_sum", None)] == pytest.approx(
                expected_s, rel=HDR
            )
            # Per ms value: 20 at 1 ms, 10 each at 2..90, 8 each at 91..99, 18 at 100 ms.
            quantile = {q: v for (_, q), v in by_name.items() if q is not None}
            assert quantile["0.5"] == pytest.approx(0.049, rel=HDR)
            assert quantile["0.9"] == pytest.approx(0.089, rel=HDR)
            assert quantile["0.99"] == pytest.approx(0.100, rel=HDR)
            assert quantile["0.999"] == pytest.approx(0.100, rel=HDR)

            plan = TestPlan.model_validate({"target": {"url": "http://svc.test/"}})
            results = build_results(plan, RunOutcome(totals, 10.0, 1, False))
            node.set_results(results)
            status, ctype, body = await fetch(server.port, "/results")
            assert (status, ctype) == (200, "application/json")
            assert json.loads(body) == results
        finally:
            await server.stop()

    run(scenario())


@RUNNERS
def test_serving_leaves_the_supervisors_signal_handlers_alone(run):
    async def scenario():
        before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        server = await serve_http_api(build_app(StandaloneNode("n")), "127.0.0.1", 0)
        try:
            status, _, _ = await fetch(server.port, "/health/cluster")
            assert status == 200
            assert {sig: signal.getsignal(sig) for sig in before} == before
        finally:
            await server.stop()
        assert {sig: signal.getsignal(sig) for sig in before} == before

    run(scenario())


@RUNNERS
def test_stop_closes_the_port(run):
    async def scenario():
        server = await serve_http_api(build_app(StandaloneNode("n")), "127.0.0.1", 0)
        port = server.port
        await server.stop()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        # The port is free again: a new server can take it.
        again = await serve_http_api(build_app(StandaloneNode("n")), "127.0.0.1", port)
        assert again.port == port
        await again.stop()

    run(scenario())


@RUNNERS
def test_port_in_use_is_a_clear_oserror(run):
    async def scenario():
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            with pytest.raises(OSError) as err:
                await serve_http_api(build_app(StandaloneNode("n")), "127.0.0.1", port)
        expected = f"HTTP API: cannot listen on 127.0.0.1:{port}: address already in use"
        assert str(err.value) == expected

    run(scenario())


def test_the_dashboard_and_its_state_are_served_for_real():
    node = StandaloneNode("node-dev-1", {"sha256": "ab" * 32, "source": "file plan.yaml"})
    timeline = {"interval_s": 1, "points": [{"t": t, "rps": 10.0} for t in (1, 2, 3)]}
    node.set_results({"requests_total": 30, "latency_hdr": "HISTFAAAA", "timeline": timeline})

    async def scenario():
        server = await serve_http_api(build_app(node), "127.0.0.1", 0)
        try:
            page = await fetch(server.port, "/")
            files = [
                await fetch(server.port, f"/dashboard/static/dashboard.{ext}")
                for ext in ("js", "css")
            ]
            whole = await fetch(server.port, "/dashboard/state")
            later = await fetch(server.port, "/dashboard/state?after=2")
            bad = await fetch(server.port, "/dashboard/state?after=soon")
            return page, files, whole, later, bad
        finally:
            await server.stop()

    page, files, whole, later, bad = asyncio.run(scenario())
    assert page[:2] == (200, "text/html; charset=utf-8")
    assert '<script src="/dashboard/static/dashboard.js"' in page[2]
    assert [(status, ctype.split(";")[0]) for status, ctype, _ in files] == [
        (200, "text/javascript"),
        (200, "text/css"),
    ]
    state = json.loads(whole[2])
    assert state["api_writes"] is False  # a standalone node has no stop to offer
    assert state["cluster"]["config"]["source"] == "file plan.yaml"
    assert [n["state"] for n in state["cluster"]["nodes"]] == ["standalone"]
    # The page draws no histogram, and asks only for the timeline points it lacks.
    assert "latency_hdr" not in state["results"]
    assert [p["t"] for p in state["results"]["timeline"]["points"]] == [1, 2, 3]
    assert [p["t"] for p in json.loads(later[2])["results"]["timeline"]["points"]] == [3]
    assert bad[0] == 400
    assert json.loads(bad[2]) == {
        "error": "after='soon': allowed: a number of seconds into the run"
    }
