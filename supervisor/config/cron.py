"""A plan's ``run.schedule``: a crontab line, read by APScheduler, in UTC."""

from __future__ import annotations

from typing import Any

CRON_ALLOWED = (
    "must be a crontab line: 5 fields (minute hour day month weekday, e.g. '0 2 * * *'), "
    "or 6 with seconds first, in UTC"
)
_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")


def cron_trigger(schedule: str) -> Any:
    """APScheduler's CronTrigger for ``schedule``; raises ValueError saying what is wrong."""
    # Imported here: only a plan with a schedule needs it (standalone runs never do).
    from apscheduler.triggers.cron import CronTrigger

    fields = schedule.split()
    if len(fields) not in (5, 6):
        raise ValueError(CRON_ALLOWED)
    try:
        if len(fields) == 6:
            return CronTrigger(**dict(zip(_FIELDS, fields, strict=True)), timezone="UTC")
        return CronTrigger.from_crontab(schedule, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{CRON_ALLOWED} ({exc})") from None
