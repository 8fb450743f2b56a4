"""Poll until a condition holds: the one wait every test, service and bench uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold in time: the test's expectation failed."""


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str = "condition",
    interval: float = 0.05,
    alive: Callable[[], None] | None = None,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Exceptions from ``condition`` count as "not yet" (a service that is still
    starting refuses connections); the last one is shown if time runs out.
    ``alive`` is called each round so a crashed process fails the wait at once
    instead of after the full timeout. ``detail`` adds context (logs, history)
    to the failure message, and is only called then.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        if alive is not None:
            alive()
        try:
            result = condition()
        except Exception as exc:  # any failure means "not ready yet"
            last = exc
        else:
            if result:
                return result
            last = result
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise WaitTimeout(
                f"timed out after {timeout:.1f}s waiting for {what} (last: {last!r}){extra}"
            )
        time.sleep(interval)


async def eventually(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str = "condition",
    interval: float = 0.05,
) -> T:
    """``wait_for`` from a coroutine: the blocking polls run in a thread, so the event
    loop (and the code under test on it) keeps running meanwhile."""
    return await asyncio.to_thread(
        wait_for, condition, timeout=timeout, what=what, interval=interval
    )
