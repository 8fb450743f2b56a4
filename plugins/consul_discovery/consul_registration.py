"""This node's registration in Consul, kept equal to the node's latest state.

The hook bus sets the *desired* state; one worker task converges the agent to it.
A burst of transitions therefore ends at the latest state and never registers an
older state after a newer one; a failed update stays owed and is retried with
backoff, never dropped. Re-registering under the same id with
replace-existing-checks changes the tag while the agent keeps each check's status
(measured on Consul 1.14: the agent carries a known check's status over a
re-registration, and restarts a TTL check's timer from it), so the node never
blinks out of ``?passing`` queries or DNS on a transition.

Two checks per registration: the HTTP check of ``/health/cluster`` (the issue's
interval 5s / timeout 2s, settable) and a TTL check the node itself passes every
TTL/3 (liveness.py). A node killed with -9 stops passing, so its registration
goes critical and leaves DNS about one TTL after the kill, instead of up to one
HTTP interval later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from loadtest_supervisor.cluster.contracts import NodeContext
from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.consul_agent import AGENT_ERRORS, ConsulAgent
from loadtest_supervisor.plugins.consul_discovery.consul_settings import go_duration

log = logging.getLogger("loadtest.consul")

BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0


def registration(agent: ConsulAgent, context: NodeContext, tags: list[str]) -> dict[str, Any]:
    """The arguments of ``agent.service.register`` for this node with ``tags`` (its state,
    then its role once consensus has one: ``voter.<name>.service.consul`` resolves)."""
    settings = agent.settings
    host, port = split_host_port(context.advertise_addr)
    return {
        "name": settings.service_name,
        "service_id": context.node_id,
        "address": host.strip("[]"),
        "port": port,
        "tags": tags,
        "meta": {
            "node_id": context.node_id,
            "region": context.region or "",
            "version": context.version,
            "grpc_addr": context.advertise_addr,
            "health_addr": urlsplit(context.health_url).netloc,
        },
        "check": {
            # Explicit ids: with two checks Consul would number them (service:<id>:1,
            # :2), and the bootstrap session and operators name the HTTP one.
            "CheckID": http_check_id(context.node_id),
            "Name": f"{settings.service_name} /health/cluster",
            "HTTP": context.health_url,
            "Method": "GET",
            "Interval": go_duration(settings.check_interval_s),
            "Timeout": go_duration(settings.check_timeout_s),
            "DeregisterCriticalServiceAfter": go_duration(settings.deregister_after_s),
        },
        "extra_checks": [
            {
                "CheckID": liveness_check_id(context.node_id),
                "Name": f"{settings.service_name} liveness",
                "TTL": go_duration(settings.liveness_ttl_s),
                # A new TTL check would start critical, and the node registering is
                # alive. An existing check keeps its own status over this value, so
                # a re-registration never hides missed passes.
                "Status": "passing",
            }
        ],
        "replace_existing_checks": True,
    }


def http_check_id(node_id: str) -> str:
    return f"service:{node_id}"


def liveness_check_id(node_id: str) -> str:
    return f"service:{node_id}:liveness"


def _register(client: Any, request: dict[str, Any]) -> bool:
    return client.agent.service.register(**request)


class RegistrationKeeper:
    """Owns this node's registration: register, follow the state, re-assert, deregister."""

    def __init__(self, agent: ConsulAgent, context: NodeContext) -> None:
        self._agent = agent
        self._context = context
        self._desired: tuple[str, int, str | None] = ("forming", 0, None)
        self._applied: tuple[list[str], int] | None = None
        self._owed = asyncio.Event()
        self._registered = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], None]] = []

    @property
    def desired_tags(self) -> list[str]:
        state, _, role = self._desired
        return [state, role] if role else [state]

    @property
    def applied(self) -> tuple[list[str], int] | None:
        """(tags, term) the agent holds as far as this node knows; None before the first."""
        return self._applied

    def start(self) -> None:
        self._owed.set()
        self._task = asyncio.create_task(self._converge(), name="consul-registration")

    def on_registered(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (on the loop) after every registration the agent accepted."""
        self._listeners.append(listener)

    async def registered(self) -> None:
        """Wait until the agent has accepted a registration once."""
        await self._registered.wait()

    def want(self, state: str, term: int, role: str | None = None) -> None:
        """The node is now in ``state`` with ``role``; called on the loop, never blocks."""
        self._desired = (state, term, role)
        self._owed.set()

    def reassert(self) -> None:
        """Register again, whatever the node believes the agent holds."""
        self._applied = None
        self._owed.set()

    async def stop(self) -> None:
        """Stop the worker, then deregister (best effort: the agent may be gone)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        service_id = self._context.node_id
        try:
            await self._agent.call(
                "deregister", lambda client: client.agent.service.deregister(service_id)
            )
        except AGENT_ERRORS:
            return
        self._applied = None
        log_event(log, "consul_deregistered", service_id=service_id)

    async def _converge(self) -> None:
        delay = BACKOFF_FIRST_S
        while True:
            await self._owed.wait()
            self._owed.clear()
            tags, term = self.desired_tags, self._desired[1]
            request = registration(self._agent, self._context, tags)
            try:
                await self._agent.call("register", partial(_register, request=request))
            except AGENT_ERRORS:
                # Still owed: the next attempt sends whatever is desired by then.
                self._owed.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_FIRST_S
            previous, self._applied = self._applied, (tags, term)
            self._registered.set()
            for listener in self._listeners:
                listener()
            log_event(
                log,
                "consul_registered",
                service=request["name"],
                service_id=request["service_id"],
                tag=tags[0],
                role=tags[1] if len(tags) > 1 else None,
                term=term,
                previous_tag=previous[0][0] if previous else None,
            )
