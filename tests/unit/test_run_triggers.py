"""When a cluster run starts: at commit, on request only, or at each cron slot once."""

from __future__ import annotations

import pytest

from loadtest_supervisor.cluster.run_triggers import (
    MAKE_UP_WITHIN_S,
    due_slot,
    next_slot,
    starts_on_commit,
)
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_plan_text

TARGET = "target: {url: 'http://127.0.0.1:9/'}\n"
EVERY_10_S = "*/10 * * * * *"
NOW = 1_800_000_005.0  # 5 s past a 10 s slot


def plan(run: str = "") -> object:
    return load_plan_text(TARGET + (f"run: {run}\n" if run else ""), "test")


def test_a_plan_starts_on_commit_unless_it_waits_for_the_api_or_a_schedule() -> None:
    assert starts_on_commit(plan())
    assert starts_on_commit(plan("{start: auto, schedule: '0 2 * * *'}"))
    assert not starts_on_commit(plan("{start: api}"))
    assert not starts_on_commit(plan("{schedule: '0 2 * * *'}"))


def test_a_slot_is_due_once_and_only_while_recent() -> None:
    slot = NOW - 5
    assert due_slot(EVERY_10_S, NOW, since=0.0) == slot
    assert due_slot(EVERY_10_S, NOW, since=slot) is None  # already run: never twice
    # A slot missed during an election is made up; one from long ago is not.
    assert due_slot("0 2 * * *", NOW, since=0.0) is None
    assert due_slot(EVERY_10_S, NOW + MAKE_UP_WITHIN_S + 20, since=slot) == NOW + 75
    assert next_slot(EVERY_10_S, NOW) == NOW + 5


def test_a_bad_schedule_or_start_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"test: run.schedule='61 \* \* \* \*': must be a crontab"
    ):
        plan("{schedule: '61 * * * *'}")
    with pytest.raises(ConfigError, match="test: run.start='now': allowed: auto, api"):
        plan("{start: now}")
