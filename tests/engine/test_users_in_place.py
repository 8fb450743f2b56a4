"""Prepared workers, and a closed model's users changed in place, against a real target.

The target answers /slow after SLOW_MS and counts the /slow requests in flight, so a
closed model's users show there as requests in flight. Workers are real processes
(``LoadRun`` in this test's event loop, as a cluster node's supervisor runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.engine.runner import LoadRun
from tests.services import HttpTarget
from tests.support import wait_for, worker_pids

SLOW_MS = 200


def _slow_stats(target: HttpTarget) -> dict[str, int]:
    with urllib.request.urlopen(f"{target.url}/slow/stats", timeout=5) as response:
        return json.loads(response.read())


async def _in_flight(target: HttpTarget) -> int:
    """The users in flight at the target: the most of a few looks, since a user between
    an answer and its next request is briefly not in flight."""
    seen = 0
    for _ in range(5):
        seen = max(seen, (await asyncio.to_thread(_slow_stats, target))["in_flight"])
        await asyncio.sleep(0.04)
    return seen


def _plan(target: HttpTarget, steps: int, users: int, seconds: int) -> Any:
    # One static step runs on the callback-driven user, more on the coroutine one.
    flow = ", ".join(f"{{name: s{i}, path: '/slow?ms={SLOW_MS}'}}" for i in range(steps))
    return load_plan_text(
        f"target: {{url: '{target.url}'}}\n"
        f"load: {{model: Concurrent, concurrency: {users}, duration: {seconds}s}}\n"
        f"scenarios: [{{name: flow, steps: [{flow}]}}]\n",
        "test",
    )


@pytest.mark.parametrize("steps", [1, 2])
def test_users_are_added_and_removed_in_place_and_every_request_counts(
    http_target_factory: Callable[[], HttpTarget], steps: int
) -> None:
    target = http_target_factory()

    async def scenario() -> tuple[list[int], Any, int]:
        load = LoadRun(_plan(target, steps, users=4, seconds=5), workers=2)
        await load.prepare()
        workers = worker_pids(os.getpid())
        assert len(workers) == 2
        # Prepared workers wait on their pipe: no CPU while idle.
        cpu = [psutil.Process(pid).cpu_times() for pid in workers]
        await asyncio.sleep(1.0)
        for pid, before in zip(workers, cpu, strict=True):
            after = psutil.Process(pid).cpu_times()
            assert after.user + after.system - before.user - before.system < 0.05
        before = _slow_stats(target)["answered"]
        run = asyncio.ensure_future(load.run(asyncio.Event()))
        await asyncio.sleep(0.2 + 0.4)  # the run's start lead, then users in flight
        seen = [await _in_flight(target)]
        for users in (9, 3, 0, 5):
            load.set_users(users)
            # Removed users are out once their request in flight is answered.
            await asyncio.sleep(SLOW_MS / 1000 + 0.15)
            seen.append(await _in_flight(target))
            assert worker_pids(os.getpid()) == workers  # no process started or lost
        outcome = await run
        return seen, outcome.totals.total(), before

    seen, counted, answered_before = asyncio.run(scenario())
    assert seen == [4, 9, 3, 0, 5]
    stats = _slow_stats(target)
    # Exact: every request answered was counted once, none cut off as an error.
    assert counted.requests == stats["answered"] - answered_before, (counted.requests, stats)
    assert counted.errors_total == 0
    assert stats["in_flight"] == 0


def test_idle_prepared_workers_die_with_their_supervisor(
    http_target_factory: Callable[[], HttpTarget],
) -> None:
    """kill -9 of the supervisor alone: its idle workers read EOF on their pipe and exit."""
    target = http_target_factory()
    script = (
        "import asyncio, sys\n"
        "from loadtest_supervisor.config.loading import load_plan_text\n"
        "from loadtest_supervisor.engine.runner import LoadRun\n"
        "async def main():\n"
        f"    plan = load_plan_text(\"target: {{url: '{target.url}'}}\", 'test')\n"
        "    await LoadRun(plan, 2).prepare()\n"
        "    print('prepared', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert supervisor.stdout is not None
        assert supervisor.stdout.readline() == b"prepared\n"
        workers = worker_pids(supervisor.pid)
        assert len(workers) == 2
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        wait_for(
            lambda: not any(_alive(pid) for pid in workers),
            timeout=10,
            what="the idle workers gone with their supervisor",
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
