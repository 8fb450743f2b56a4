"""Anti-entropy: every period, check that the agent still holds this node's registration.

A restarted agent (or one whose catalog was wiped, or an operator's deregister)
forgets the registration without telling anyone. The job compares what the
agent holds with the state the node is in, and when they differ it has the
registration worker register again, so the node is back with the right tag
within one period.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.consul_agent import AGENT_ERRORS, ConsulAgent
from loadtest_supervisor.plugins.consul_discovery.consul_registration import RegistrationKeeper

log = logging.getLogger("loadtest.consul")

OPERATION = "anti_entropy"

# APScheduler logs every run of every job at INFO: one line per period, forever.
# The job logs what matters itself (consul_registration_restored).
for _name in ("apscheduler.scheduler", "apscheduler.executors.default"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class AntiEntropy:
    def __init__(self, agent: ConsulAgent, keeper: RegistrationKeeper, service_id: str) -> None:
        self._agent = agent
        self._keeper = keeper
        self._service_id = service_id
        self._scheduler = AsyncIOScheduler()
        self._scheduler.add_job(
            self.check_once,
            "interval",
            seconds=agent.settings.anti_entropy_interval_s,
            id="consul-anti-entropy",
            # One check at a time; after a stall, one catch-up run rather than a burst.
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def check_once(self) -> None:
        """Compare the agent's copy with the desired state; re-register on any difference."""
        service_id = self._service_id
        try:
            held = await self._agent.call(
                OPERATION, lambda client: client.agent.services().get(service_id)
            )
        except AGENT_ERRORS:
            # Unreachable now; the registration worker retries on its own if it owes
            # an update, and this job asks again next period.
            self._keeper.reassert()
            return
        wanted = self._keeper.desired_tags
        applied = self._keeper.applied
        if held is not None and (applied is None or applied[0] != wanted):
            return  # a transition is on its way to the agent; the worker owns it
        if held is None:
            reason = "missing"
        elif list(held.get("Tags") or []) != wanted:
            reason = "tags_differ"
        else:
            return
        held_tags = ",".join(held.get("Tags") or []) if held else None
        log_event(
            log,
            "consul_registration_restored",
            reason=reason,
            service_id=service_id,
            held_tags=held_tags,
            tag=",".join(wanted),
        )
        self._keeper.reassert()
