"""Talking to the Consul agent without blocking the loop, and remembering whether it answers.

py-consul is synchronous (requests); each call runs in a thread. Its aio client
needs aiohttp, which the supervisor does not otherwise use. One ``ConsulAgent``
is used by one task at a time: requests sessions are not meant to be shared by
concurrent threads, so each part of the plugin (registration, anti-entropy,
peers) has its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import consul
import requests

from loadtest_supervisor.config.errors import MASK
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.consul_settings import ConsulSettings

log = logging.getLogger("loadtest.consul")

T = TypeVar("T")

# Long enough for a busy agent, short enough that a silent one does not hold a
# state update back for long: the worker retries after it.
REQUEST_TIMEOUT_S = 3.0
# While the agent stays unreachable, say so again this often (not on every retry).
REPEAT_PROBLEM_S = 30.0


class AgentStatus:
    """Whether the agent answers, per operation; shared by every ConsulAgent of a node.

    ``problem()`` is what the node's health JSON shows as ``discovery_error``.
    """

    def __init__(self, settings: ConsulSettings) -> None:
        self._settings = settings
        self._problems: dict[str, str] = {}
        self._since: float | None = None
        self._last_said = 0.0

    def problem(self) -> str | None:
        return next(iter(self._problems.values()), None)

    def failed(self, operation: str, exc: BaseException) -> None:
        unreachable = isinstance(exc, requests.RequestException)
        kind = "unreachable" if unreachable else "error"
        text = self._clean(f"{type(exc).__name__}: {exc}")
        self._problems[operation] = f"consul {kind} at {self._settings.url}: {text}"
        now = time.monotonic()
        if self._since is None:
            self._since = now
        elif now - self._last_said < REPEAT_PROBLEM_S:
            return
        self._last_said = now
        log_event(
            log,
            "consul_unreachable" if unreachable else "consul_request_failed",
            level=logging.WARNING,
            consul_addr=self._settings.url,
            operation=operation,
            failing_for_s=round(now - self._since, 1),
            error=text,
        )

    def succeeded(self, operation: str) -> None:
        if self._problems.pop(operation, None) is not None and not self._problems:
            log_event(
                log,
                "consul_reachable",
                consul_addr=self._settings.url,
                was_failing_for_s=round(time.monotonic() - (self._since or time.monotonic()), 1),
            )
            self._since = None
            self._last_said = 0.0

    def _clean(self, text: str) -> str:
        # The token travels in a header, never in a URL, but an error body could echo it.
        if self._settings.token:
            text = text.replace(self._settings.token, MASK)
        return text[:300]


class ConsulAgent:
    """A py-consul client whose calls run in a thread and report to AgentStatus."""

    def __init__(
        self, settings: ConsulSettings, status: AgentStatus, timeout_s: float = REQUEST_TIMEOUT_S
    ) -> None:
        self.settings = settings
        self._status = status
        self._client = consul.Consul(
            host=settings.host,
            port=settings.port,
            scheme=settings.scheme,
            token=settings.token,
            connections_timeout=timeout_s,
        )
        # py-consul lets CONSUL_HTTP_TOKEN from the environment win over the token it
        # is given; the node's own setting must be the one sent.
        self._client.token = settings.token

    async def call(self, operation: str, request: Callable[[consul.Consul], T]) -> T:
        """Run ``request(client)`` in a thread; failures are recorded, then re-raised."""
        try:
            result = await asyncio.to_thread(request, self._client)
        except (requests.RequestException, consul.ConsulException) as exc:
            self._status.failed(operation, exc)
            raise
        self._status.succeeded(operation)
        return result


# What a failed agent call raises; callers that retry catch exactly these.
AGENT_ERRORS = (requests.RequestException, consul.ConsulException)
