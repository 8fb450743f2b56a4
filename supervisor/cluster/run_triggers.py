"""When a cluster run starts: at its plan's commit, on request, or on the plan's schedule.

``run: {start: auto}`` (the default without a schedule) starts a run when a new plan is
committed; ``run: {start: api}`` only on ``POST /runs``; ``run: {schedule: CRON}`` at each
cron slot, on the leader. The slot a run was started for is committed with it, so a new
leader neither fires a slot twice nor forgets one it missed during the election: a slot
missed by up to ``MAKE_UP_WITHIN_S`` is made up once; older ones are skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from loadtest_supervisor.config.cron import cron_trigger
from loadtest_supervisor.config.models import TestPlan

MAKE_UP_WITHIN_S = 60.0


def starts_on_commit(plan: TestPlan) -> bool:
    return plan.run.start == "auto" or (plan.run.start is None and plan.run.schedule is None)


def slots(schedule: str, since: float, until: float) -> list[float]:
    """The schedule's instants (unix s) in ``(since, until]``."""
    trigger = cron_trigger(schedule)
    found: list[float] = []
    previous = None
    moment = datetime.fromtimestamp(since, UTC)
    while True:
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None or fire.timestamp() > until:
            return found
        if fire.timestamp() > since:
            found.append(fire.timestamp())
        previous = fire
        moment = fire


def due_slot(schedule: str, now: float, since: float) -> float | None:
    """The latest slot after ``since`` (the last one run, or the plan's commit), if it is
    recent enough to make up."""
    due = slots(schedule, max(now - MAKE_UP_WITHIN_S, since), now)
    return due[-1] if due else None


def next_slot(schedule: str, now: float) -> float | None:
    fire = cron_trigger(schedule).get_next_fire_time(None, datetime.fromtimestamp(now, UTC))
    return None if fire is None else fire.timestamp()
