"""The liveness TTL check: the node tells the agent it is alive every TTL/3.

The HTTP check alone lets a node killed with -9 keep its passing registration,
and with it its ``leader`` tag in DNS, until the agent next runs that check: up
to CONSUL_CHECK_INTERVAL (5 s by default) after the kill. The TTL check goes
critical CONSUL_LIVENESS_TTL after the last pass instead, so a dead leader leaves
``leader.<name>.service.consul`` within about one TTL, close to when Raft has
elected the next one.

Passing every TTL/3 leaves room for two lost or slow passes before a live node
flaps critical. Each pass is a call in a thread (ConsulAgent.call); failures are
recorded (``problem()``) and the loop keeps going. A pass refused because the
agent no longer knows the check (it was restarted, or the registration was
removed) asks the registration worker to register again at once, rather than
waiting for the anti-entropy period.
"""

from __future__ import annotations

import asyncio
import logging

from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.consul_agent import AGENT_ERRORS, ConsulAgent
from loadtest_supervisor.plugins.consul_discovery.consul_registration import (
    RegistrationKeeper,
    liveness_check_id,
)

log = logging.getLogger("loadtest.consul")

OPERATION = "liveness"


class Liveness:
    """Passes this node's TTL check every TTL/3, and right after every registration."""

    def __init__(self, agent: ConsulAgent, keeper: RegistrationKeeper, node_id: str) -> None:
        self._agent = agent
        self._keeper = keeper
        self._check_id = liveness_check_id(node_id)
        self._period_s = agent.settings.liveness_ttl_s / 3
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # A re-registration restarts the check's timer from its carried-over status;
        # passing right after it keeps the longest margin before the next pass.
        keeper.on_registered(self._due.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consul-liveness")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def pass_once(self) -> bool:
        """Pass the check once; True when the agent accepted it."""
        check_id = self._check_id
        try:
            known = await self._agent.call(
                OPERATION, lambda client: client.agent.check.ttl_pass(check_id)
            )
        except AGENT_ERRORS:
            return False  # AgentStatus has said what went wrong; try again next period
        if not known:
            # py-consul answers False for an unknown check: the agent has lost the
            # registration. Register again now (the worker sends the current state).
            log_event(log, "consul_liveness_check_missing", check_id=check_id)
            self._keeper.reassert()
        return bool(known)

    async def _run(self) -> None:
        # Before the first registration there is no check to pass.
        await self._keeper.registered()
        while True:
            self._due.clear()
            await self.pass_once()
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that
            # arrives as the event is set (a registration right before stop()), and
            # this task would then never end. asyncio.wait never does.
            due = asyncio.ensure_future(self._due.wait())
            try:
                await asyncio.wait({due}, timeout=self._period_s)
            finally:
                due.cancel()
