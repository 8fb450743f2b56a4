"""The cluster's mutating HTTP endpoints, on any node: ``POST /runs`` takes a plan (or
asks for a run of the committed one), ``DELETE /runs/current`` stops the run.

They need ``Authorization: Bearer <CLUSTER_API_TOKEN>``, compared in constant time;
without a token configured they answer 403 and say how to enable them. Read-only
endpoints stay open.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loadtest_supervisor.cluster.coordination import Answer, LeaderCalls


def run_routes(calls: LeaderCalls, token: SecretStr | None) -> list[Route]:
    async def submit_run(request: Request) -> JSONResponse:
        """
        summary: Commit a plan (the body, YAML) and run it; an empty body runs the
          committed plan. Needs Authorization Bearer CLUSTER_API_TOKEN.
        requestBody:
          content: {application/yaml: {schema: {type: string}}}
        responses:
          200: {description: accepted; sha256 and leader_id}
          400: {description: the plan does not validate, or is over CLUSTER_MAX_PLAN_BYTES}
          401: {description: missing or wrong bearer token}
          403: {description: no CLUSTER_API_TOKEN configured}
          413: {description: a body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: no leader with quorum, or too many open connections}
        """
        refused = _refuse_unauthorized(request, token)
        if refused is not None:
            return refused
        # The body's size is bounded by the API's limits (http_limits), the plan's by
        # the leader's keeper.
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "the plan must be UTF-8 YAML text"}, status_code=400)
        client = request.client.host if request.client else "unknown"
        done = await calls.submit(text, f"api POST /runs from {client}")
        return _answer({"sha256": done.sha256 or None}, done, refused=400)

    async def stop_run(request: Request) -> JSONResponse:
        """
        summary: Stop the run in progress. Needs Authorization Bearer CLUSTER_API_TOKEN.
        responses:
          200: {description: stopped; run_id and leader_id}
          401: {description: missing or wrong bearer token}
          403: {description: no CLUSTER_API_TOKEN configured}
          409: {description: no run in progress}
          413: {description: a body over CLUSTER_HTTP_MAX_BODY_BYTES}
          503: {description: no leader with quorum, or too many open connections}
        """
        refused = _refuse_unauthorized(request, token)
        if refused is not None:
            return refused
        done = await calls.stop_run()
        return _answer({"run_id": done.run_id or None}, done, refused=409)

    return [
        Route("/runs", submit_run, methods=["POST"]),
        Route("/runs/current", stop_run, methods=["DELETE"]),
    ]


def _answer(fields: dict[str, object], done: Answer, refused: int) -> JSONResponse:
    """200 when done; 503 when worth retrying (no leader, no quorum); else ``refused``."""
    document = {"accepted": done.accepted, **fields, "leader_id": done.leader_id}
    document["error"] = done.error
    status = 200 if done.accepted else 503 if done.retryable else refused
    return JSONResponse(document, status_code=status)


def _refuse_unauthorized(request: Request, token: SecretStr | None) -> JSONResponse | None:
    if token is None:
        return JSONResponse(
            {
                "error": "changing the cluster through the API is disabled: set "
                "CLUSTER_API_TOKEN (the same on every node) and send "
                "Authorization: Bearer <token>"
            },
            status_code=403,
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return JSONResponse(
            {"error": "missing or wrong bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None
