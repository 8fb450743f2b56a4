"""The cluster's mutating HTTP endpoints: ``POST /runs`` takes a plan, on any node.

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

from loadtest_supervisor.cluster.coordination import PlanSubmission

# A plan is a few KB; a body beyond this is a mistake or an attack, never a plan.
MAX_PLAN_BYTES = 1 << 20


def run_routes(submission: PlanSubmission, token: SecretStr | None) -> list[Route]:
    async def submit_run(request: Request) -> JSONResponse:
        refused = _refuse_unauthorized(request, token)
        if refused is not None:
            return refused
        body = await _read_limited(request)
        if body is None:
            return JSONResponse(
                {"error": f"the plan is larger than {MAX_PLAN_BYTES} bytes"}, status_code=413
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "the plan must be UTF-8 YAML text"}, status_code=400)
        client = request.client.host if request.client else "unknown"
        done = await submission.submit(text, f"api POST /runs from {client}")
        document = {
            "accepted": done.accepted,
            "sha256": done.sha256 or None,
            "leader_id": done.leader_id,
            "error": done.error,
        }
        status = 200 if done.accepted else 503 if done.retryable else 400
        return JSONResponse(document, status_code=status)

    return [Route("/runs", submit_run, methods=["POST"])]


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


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_PLAN_BYTES (read no further)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_PLAN_BYTES:
            return None
    return bytes(body)
