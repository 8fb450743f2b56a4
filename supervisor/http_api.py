"""The node's HTTP API: cluster health, Prometheus metrics, run results and the dashboard.

It runs on uvicorn inside the supervisor's own event loop. Every handler is a plain
read of in-memory state, so the API answers quickly even while a run saturates the
workers (the supervisor itself generates no load).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Sequence
from time import monotonic
from typing import Any, Protocol

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

from loadtest_supervisor.http_header_timeout import HeaderTimeoutProtocol
from loadtest_supervisor.http_limits import HttpLimits, LimitedApp
from loadtest_supervisor.live.dashboard import dashboard_routes
from loadtest_supervisor.live.prometheus import build_registry
from loadtest_supervisor.metrics.run_totals import RunTotals

# A scrape or fetch still in flight at shutdown must not hold the supervisor's exit.
GRACEFUL_SHUTDOWN_S = 3
SCOPES = ("cluster", "node")
KEEP_ALIVE_S = 5


class NodeView(Protocol):
    """What the HTTP API reads from a node; every method must return without blocking."""

    def health(self) -> dict[str, Any]:
        """The /health/cluster document (design §5)."""

    def totals(self) -> RunTotals | None:
        """The current (or last) run's totals, or None before any run."""

    def cluster_document(self) -> dict[str, Any] | None:
        """The cluster's merged results, where this node merges them (the leader)."""

    async def results(self, scope: str, run_id: str = "") -> dict[str, Any] | None:
        """A results document, or None before there is one. ``scope`` is ``node`` (this
        node's own last finished run) or ``cluster`` (a cluster's merged results, of its
        latest run or of ``run_id``; a standalone node is its own cluster)."""

    async def overview(self) -> dict[str, Any]:
        """The cluster overview (``cluster/overview.py``: nodes, leader, plan, run; a
        standalone node is its own cluster of one)."""


class StandaloneNode:
    """The NodeView of a node with cluster mode off.

    During a run, ``/results`` is the run's live document, built from the workers'
    latest snapshots when asked and kept for ``refresh_s`` (their snapshot interval: a
    newer build could hold nothing new); once the run is over, its final document.
    ``config`` is the plan's ``{"sha256", "source"}`` for the overview.
    """

    def __init__(self, node_id: str, config: dict[str, Any] | None = None) -> None:
        self._node_id = node_id
        self._config = config
        self.address: str | None = None  # the HTTP API's, once it listens
        self.workers: int | None = None
        self._window: Callable[[], tuple[float, float] | None] = lambda: None
        self._totals: RunTotals | None = None
        self._results: dict[str, Any] | None = None
        self._live: Callable[[], dict[str, Any] | None] | None = None
        self._live_refresh_s = 0.0
        self._live_document: dict[str, Any] | None = None
        self._live_built_at = 0.0

    def health(self) -> dict[str, Any]:
        return {
            "state": "standalone",
            "node_id": self._node_id,
            "leader_id": None,
            "term": 0,
            "peers": 1,
            "cluster_ready": False,
        }

    def totals(self) -> RunTotals | None:
        return self._totals

    def cluster_document(self) -> dict[str, Any] | None:
        return None

    async def results(self, scope: str, run_id: str = "") -> dict[str, Any] | None:
        if self._results is not None or self._live is None:
            return self._results
        now = monotonic()
        if self._live_document is None or now - self._live_built_at >= self._live_refresh_s:
            self._live_document = self._live()
            self._live_built_at = now
        return self._live_document

    async def overview(self) -> dict[str, Any]:
        window = self._window()
        run = None
        if window is not None:
            state = "running"
            if self._results is not None:
                state = "stopped" if self._results.get("interrupted") else "finished"
            run = {
                "run_id": None,
                "plan_sha256": (self._config or {}).get("sha256"),
                "state": state,
                "start_at": window[0],
                "end_at": window[1],
            }
        node = {
            "node_id": self._node_id,
            "address": self.address,
            "state": "standalone",
            "term": 0,
            "share": 1.0 if run else None,
            "workers": self.workers,
        }
        return {
            "node_id": self._node_id,
            "leader_id": None,
            "term": 0,
            "cluster_ready": False,
            "nodes": [node],
            "config": self._config,
            "run": run,
            "served_from": "self",
        }

    def set_window(self, window: Callable[[], tuple[float, float] | None]) -> None:
        """Where the run's start and end are read, on the wall clock (None: not started)."""
        self._window = window

    def set_live(self, build: Callable[[], dict[str, Any] | None], refresh_s: float) -> None:
        """Serve ``build()`` (None: no results yet) until ``set_results`` gives the final
        document, rebuilt at most every ``refresh_s``."""
        self._live = build
        self._live_refresh_s = refresh_s

    def set_totals(self, totals: RunTotals | None) -> None:
        self._totals = totals

    def set_results(self, results: dict[str, Any] | None) -> None:
        self._results = results


def build_app(
    node: NodeView, routes: Sequence[BaseRoute] = (), api_writes: bool = False
) -> Starlette:
    """The read-only API of ``node`` and its dashboard, plus ``routes`` (the cluster's
    mutating ones); ``api_writes``: they take a token (the dashboard offers a stop)."""
    registry = build_registry(node.totals, node.cluster_document)

    # Handlers are async on purpose: sync ones would run in a thread pool and read the
    # totals while the loop thread is updating them.
    async def health(request: Request) -> JSONResponse:
        """
        summary: The node's cluster state (design §5); answered in every state.
        responses:
          200: {description: "state, node_id, leader_id, term, peers, cluster_ready, ..."}
          413: {description: a request body over CLUSTER_HTTP_MAX_BODY_BYTES}
        """
        return JSONResponse(node.health())

    async def metrics(request: Request) -> Response:
        """
        summary: Prometheus metrics of the node (and the cluster, on the leader).
        responses:
          200: {description: Prometheus text format}
          413: {description: a request body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: more connections open than CLUSTER_HTTP_MAX_CONNECTIONS}
        """
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def results(request: Request) -> JSONResponse:
        """
        summary: A run's results document.
        parameters:
          - {name: scope, in: query, schema: {type: string, enum: [cluster, node]}}
          - {name: run_id, in: query, schema: {type: string}}
        responses:
          200: {description: the results document}
          400: {description: an unknown scope}
          404: {description: no results yet}
          413: {description: a request body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: more connections open than CLUSTER_HTTP_MAX_CONNECTIONS}
        """
        scope = request.query_params.get("scope", "cluster")
        if scope not in SCOPES:
            error = f"scope={scope!r}: allowed: {', '.join(SCOPES)}"
            return JSONResponse({"error": error}, status_code=400)
        document = await node.results(scope, request.query_params.get("run_id", ""))
        if document is None:
            return JSONResponse({"error": "no results yet"}, status_code=404)
        return JSONResponse(document)

    async def openapi(request: Request) -> JSONResponse:
        """
        summary: This API's OpenAPI schema.
        responses:
          200: {description: the schema}
          413: {description: a request body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: more connections open than CLUSTER_HTTP_MAX_CONNECTIONS}
        """
        return JSONResponse(schema)

    all_routes = [
        Route("/health/cluster", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/results", results, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *dashboard_routes(node, api_writes),
        *routes,
    ]
    schema = openapi_schema(all_routes)
    return Starlette(routes=all_routes)


def openapi_schema(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of ``routes``, from each handler's docstring (YAML); a
    handler without one is missing from it (tests/integration/test_openapi.py checks
    that none is)."""
    return SchemaGenerator(
        {"openapi": "3.0.0", "info": {"title": "loadtest-supervisor node API", "version": "1"}}
    ).get_schema(list(routes))


class _Server(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to the supervisor.

    ``Server.serve`` wraps everything in ``capture_signals``, which replaces the
    process's handlers with ones that stop only this server and re-raise the signal
    when it exits. The supervisor owns those signals and stops us through ``stop()``.
    """

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class HttpApiServer:
    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], port: int) -> None:
        self._server = server
        self._task = task
        self.port = port

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (briefly), and close."""
        self._server.should_exit = True
        await self._task


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return socket.create_server(address[:2], family=family)
    except OSError as exc:
        # create_server decorates strerror with the address we already name; the errno
        # says it plainly. Resolver errors carry their own codes, not errnos.
        plain = exc.errno and not isinstance(exc, socket.gaierror)
        reason = (os.strerror(exc.errno) if plain else exc.strerror or str(exc)).lower()
        raise OSError(f"HTTP API: cannot listen on {host}:{port}: {reason}") from exc


async def serve_http_api(
    app: Starlette, host: str, port: int, limits: HttpLimits | None = None
) -> HttpApiServer:
    """Serve ``app`` on host:port from the running loop, within ``limits`` (the
    settings' defaults when None); returns once it accepts."""
    # Binding here rather than in uvicorn: on a bind error uvicorn calls sys.exit(),
    # which would escape the task and stop the supervisor's loop.
    sock = _bind(host, port)
    connections = lambda: len(server.server_state.connections)  # noqa: E731 (server: below)
    limited = LimitedApp(app, limits or HttpLimits.of(), connections)
    config = uvicorn.Config(
        limited,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        # The supervisor configures logging; uvicorn's default dictConfig would replace it.
        log_config=None,
        ws="none",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # An idle keep-alive connection is closed after this, so idle clients do not
        # hold connections (and file descriptors) for ever.
        timeout_keep_alive=KEEP_ALIVE_S,
        # httptools, with a deadline for a request's headers (a slowloris client's
        # connection is closed, and what it can send until then is bounded).
        http=HeaderTimeoutProtocol,
    )
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise OSError(f"HTTP API: server on {host}:{port} exited during startup")
        await asyncio.sleep(0.01)
    return HttpApiServer(server, task, sock.getsockname()[1])
