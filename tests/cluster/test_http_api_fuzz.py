"""The HTTP API against its own OpenAPI schema (issue 14): every route is in
/openapi.json, and schemathesis generates requests from it against live nodes, a leader
and a follower, with and without the API token, and with the token unconfigured. No
5xx but the documented 503s, answers within the client's timeout, documented status
codes and content types only.

Longer runs: ``FUZZ_EXAMPLES=500``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import given
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loadtest_supervisor.cluster.run_routes import run_routes
from loadtest_supervisor.http_api import StandaloneNode, build_app, openapi_schema, serve_http_api
from tests.cluster.api_client import TOKEN
from tests.cluster.conftest import SECRET
from tests.cluster.harness import ClusterHarness
from tests.support.fuzzing import fuzz_settings

TIMEOUT_S = 30
# What the issue asks: no 5xx, documented codes and content types. Not schemathesis's
# "positive data accepted": the body's schema is "YAML text", and most text is no plan.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
]


def missing_from_schema(routes: list[Route]) -> list[str]:
    """``METHOD path`` of each route the schema does not describe."""
    paths = openapi_schema(routes)["paths"]
    return [
        f"{method} {route.path}"
        for route in routes
        for method in sorted(set(route.methods or ()) - {"HEAD"})
        if method.lower() not in paths.get(route.path, {})
    ]


def test_every_route_is_in_the_schema() -> None:
    app = build_app(StandaloneNode("n"), run_routes(calls=None, token=None))  # type: ignore[arg-type]
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert {r.path for r in routes} >= {"/health/cluster", "/runs", "/runs/current"}
    assert missing_from_schema(routes) == []


def test_the_schema_check_finds_a_route_left_out() -> None:
    async def undocumented(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = build_app(StandaloneNode("n"), [Route("/extra", undocumented, methods=["POST"])])
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert missing_from_schema(routes) == ["POST /extra"]


# "-token": requests carry the right bearer token; "leader-no-token": none;
# "unconfigured": a node with no CLUSTER_API_TOKEN (its mutating routes answer 403);
# "standalone": a standalone node's API (no mutating routes).
TARGETS = ["leader-token", "leader-no-token", "follower-token", "unconfigured", "standalone"]


@contextlib.contextmanager
def standalone_api() -> Iterator[str]:
    """A standalone node's API (standalone.py serves the same app the same way) on its
    own loop in a thread, so that no load test has to run to keep it up."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = build_app(StandaloneNode("standalone"))
    server = asyncio.run_coroutine_threadsafe(serve_http_api(app, "127.0.0.1", 0), loop).result(10)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URLs by target: a 3-node cluster with the API token, one node without."""
    with (
        ClusterHarness(
            tmp_path_factory.mktemp("api-token"),
            env={"CLUSTER_SECRET": SECRET, "CLUSTER_API_TOKEN": TOKEN},
        ) as with_token,
        ClusterHarness(
            tmp_path_factory.mktemp("api-none"), env={"CLUSTER_SECRET": SECRET}
        ) as without,
        standalone_api() as standalone,
    ):
        nodes = with_token.start(3)
        leader_id, _ = with_token.wait_for_agreement(TIMEOUT_S)
        leader = with_token.node_by_id(leader_id)
        follower = next(n for n in nodes if n.node_id != leader_id)
        (alone,) = without.start(1)
        without.wait_for_agreement(TIMEOUT_S)
        yield {
            "leader-token": f"http://{leader.health_addr}",
            "leader-no-token": f"http://{leader.health_addr}",
            "follower-token": f"http://{follower.health_addr}",
            "unconfigured": f"http://{alone.health_addr}",
            "standalone": standalone,
        }
        for node in [*nodes, alone]:
            assert node.running()
            assert "Traceback" not in node.log(), node.log_tail(40)


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return request.param


def test_generated_requests_get_documented_answers(target: str, clusters: dict[str, str]) -> None:
    """Each operation of the schema the target itself serves (a standalone node has no
    /runs), with requests schemathesis makes from it."""
    base_url = clusters[target]
    with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=5) as resp:
        schema = schemathesis.openapi.from_dict(json.loads(resp.read()))
    # "-token" targets get the right token: a generated POST /runs body is no valid plan
    # (400), and an empty one asks for a run of a plan when none is committed (400).
    headers = {"Authorization": f"Bearer {TOKEN}"} if target.endswith("-token") else {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/health/cluster", "/results", "/openapi.json"}
    for operation in operations:

        @fuzz_settings(25, deadline=None)
        @given(operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, timeout=10, checks=CHECKS)

        call()
