"""The live dashboard at ``/``: one page of our own HTML, JS and CSS (``live/static/``,
package data: no build step, no CDN) that reads ``/dashboard/state`` every second and
draws its charts as inline SVG.

It is read-only but for one button: where the node takes a ``CLUSTER_API_TOKEN``, the
page offers a stop that sends ``DELETE /runs/current`` with the token the user types in
it. The server never puts the token in the page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from loadtest_supervisor.http_api import NodeView

STATIC = Path(__file__).with_name("static")
# The page runs only what this server sends: no inline script, no third party at all.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def dashboard_routes(node: NodeView, api_writes: bool) -> list[BaseRoute]:
    """The page, its files and its data; ``api_writes``: the node takes a token."""

    async def page(request: Request) -> FileResponse:
        """
        summary: The live dashboard (HTML; its script and style under /dashboard/static/).
        responses:
          200: {description: the page}
          413: {description: a request body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: more connections open than CLUSTER_HTTP_MAX_CONNECTIONS}
        """
        return FileResponse(
            STATIC / "dashboard.html",
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
        )

    async def state(request: Request) -> JSONResponse:
        """
        summary: What the dashboard shows - the cluster overview and the live results.
        parameters:
          - {name: after, in: query, schema: {type: number}}
        responses:
          200: {description: "api_writes, cluster (the overview), results (or null)"}
          400: {description: an after that is not a number}
          413: {description: a request body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: more connections open than CLUSTER_HTTP_MAX_CONNECTIONS}
        """
        after = request.query_params.get("after", "")
        try:
            after_t = float(after) if after else None
        except ValueError:
            error = f"after={after!r}: allowed: a number of seconds into the run"
            return JSONResponse({"error": error}, status_code=400)
        overview, results = await asyncio.gather(node.overview(), node.results("cluster"))
        return JSONResponse(
            {
                "api_writes": api_writes,
                "cluster": overview,
                "results": _for_the_page(results, after_t),
            }
        )

    return [
        Route("/", page, methods=["GET"]),
        Route("/dashboard/state", state, methods=["GET"]),
        Mount("/dashboard/static", app=StaticFiles(directory=STATIC)),
    ]


def _for_the_page(results: dict[str, Any] | None, after: float | None) -> dict[str, Any] | None:
    """``results`` without what the page does not draw: the histogram's encoding, and the
    timeline points it already has (those up to ``after``); a long run's timeline would
    otherwise be sent whole every second."""
    if results is None:
        return None
    trimmed = {key: value for key, value in results.items() if key != "latency_hdr"}
    timeline = results.get("timeline")
    if timeline is not None and after is not None:
        points = [point for point in timeline.get("points", []) if point["t"] > after]
        trimmed["timeline"] = {**timeline, "points": points}
    return trimmed
