"""The HTTP API's bounds on what a client may hand it: a request body's size and the
number of open connections (docs/design.md §10 "Limits").

uvicorn's own ``limit_concurrency`` answers 503 to every request once it is reached,
``/health/cluster`` included, so a flood of idle connections would fail a node's Consul
check. This ASGI middleware counts the same connections (uvicorn's server state) but
always lets the health check through: it is an in-memory read that costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loadtest_supervisor.config.models import NodeSettings

# Always answered, whatever the load: Consul's check and operators read it.
EXEMPT_PATHS = frozenset({"/health/cluster"})


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int
    max_connections: int

    @classmethod
    def of(cls, node: NodeSettings | None = None) -> HttpLimits:
        """The limits ``node`` sets; the settings' defaults without one."""
        fields = NodeSettings.model_fields
        if node is None:
            return cls(
                fields["http_max_body_bytes"].default, fields["http_max_connections"].default
            )
        return cls(node.http_max_body_bytes, node.http_max_connections)


class LimitedApp:
    """``app`` behind ``limits``; ``open_connections`` counts the server's connections."""

    def __init__(
        self, app: ASGIApp, limits: HttpLimits, open_connections: Callable[[], int]
    ) -> None:
        self._app = app
        self._limits = limits
        self._open_connections = open_connections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limits = self._limits
        connections = self._open_connections()
        if connections > limits.max_connections and scope["path"] not in EXEMPT_PATHS:
            error = (
                f"the HTTP API has {connections} open connections, more than "
                f"CLUSTER_HTTP_MAX_CONNECTIONS={limits.max_connections}; retry later"
            )
            await _refuse(send, 503, error, [(b"retry-after", b"1")])
            return
        too_large = (
            f"the request body is larger than CLUSTER_HTTP_MAX_BODY_BYTES="
            f"{limits.max_body_bytes} bytes"
        )
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limits.max_body_bytes:
            await _refuse(send, 413, too_large)
            return
        received = 0
        started = refused = False

        async def counted_receive() -> Message:
            # Past the bound, refuse at once and tell the app the client left: it stops
            # reading, and whatever it answers then is dropped.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > limits.max_body_bytes and not started:
                refused = True
                await _refuse(send, 413, too_large)
                return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise  # the app's own error: uvicorn logs it


async def _refuse(
    send: Send, status: int, error: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A JSON refusal that also closes the connection: whoever is over a bound should
    not keep a connection for the next request."""
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
