"""Is the load generator the bottleneck? Each worker measures itself; the supervisor says so.

A saturated generator makes a target look slow: its requests wait for the worker's CPU,
not for the target, and an open model drops arrivals the target could have served. So a
worker reports, with every snapshot, its own CPU use and event-loop lag over the last
snapshot interval, and counts the arrivals it dropped while saturated apart from those
it dropped because every connection was busy waiting for the target.

CPU is what the worker used and, where Linux says (``/proc/self/schedstat``), what it
waited for on a run queue: on a machine shared with other work a worker that wants a
whole core may get half of one, and it is as much the bottleneck as one that gets it all
(measured on a shared 2-core box: a busy loop used 0.58 s of a second and waited 0.42 s).

Both measurements stay off the per-request path: CPU is a ``process_time()`` and one
small file read per snapshot, and loop lag is the lateness of a timer that fires every
``LAG_PROBE_S``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from time import monotonic, process_time
from typing import Any

from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.engine")

# A worker that used, or waited on a run queue for, more than this share of one core
# over a snapshot interval has no CPU to spare: Locust warns at the same 90 % (locust
# #1161, PR #1236), and so do we.
CPU_SATURATED = 0.9
# The lag probe's period: 50 wake-ups a second cost a worker ~0.01 % of a core.
LAG_PROBE_S = 0.02
# A loop whose probe fires this late on average over an interval runs callbacks that
# long between looks at its sockets: every answer waits that long to be read, which is
# generator time in the latency. An average, not the worst, so that one scheduling
# hiccup on a busy machine (tens of ms) is no alarm.
LOOP_LAG_SATURATED_S = 0.02
# A snapshot this soon after the previous one (the run's first, on its grid, comes at
# its very start) closes no interval: over a few ms, one slice of CPU reads as 100 %.
# Its time goes into the next interval.
MIN_INTERVAL_S = 0.1
SATURATED_HINT = "load generator saturated: add workers or nodes"
_SCHEDSTAT = "/proc/self/schedstat"


def _run_queue_wait() -> float | None:
    """Seconds this thread (the worker's loop) has waited for a CPU, or None where the
    kernel does not say."""
    try:
        with open(_SCHEDSTAT) as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class LoadGauge:
    """A worker's own CPU and loop lag, per snapshot interval and over the run."""

    def __init__(self) -> None:
        self._wall = monotonic()
        self._cpu = process_time()
        self._wait = _run_queue_wait()
        self._lag_sum = 0.0
        self._lag_count = 0
        self._dropped_seen = 0
        self._run_start = 0.0
        self.cpu = 0.0
        self.cpu_wait = 0.0
        self.loop_lag_s = 0.0
        self.saturated = False
        self.saturated_s = 0.0
        self.first_saturated_s: float | None = None
        self.peak_cpu = 0.0
        self.peak_cpu_wait = 0.0
        self.peak_loop_lag_s = 0.0
        self.dropped_saturated = 0

    def start(self, run_start: float) -> asyncio.Task[None]:
        """Measure from now on; the task probes the loop until cancelled."""
        self._run_start = run_start
        self._wall, self._cpu, self._wait = monotonic(), process_time(), _run_queue_wait()
        return asyncio.ensure_future(self._probe())

    async def _probe(self) -> None:
        while True:
            due = monotonic() + LAG_PROBE_S
            await asyncio.sleep(LAG_PROBE_S)
            self._lag_sum += max(0.0, monotonic() - due)
            self._lag_count += 1

    def sample(self, dropped: int) -> dict[str, Any]:
        """Close the interval since the last sample; ``dropped`` is the worker's dropped
        arrivals so far. Those of this interval count as the generator's doing when it
        was saturated over it, else as the target's (every connection was busy)."""
        self._close_interval(dropped)
        return self.report()

    def _close_interval(self, dropped: int) -> None:
        wall, cpu, wait = monotonic(), process_time(), _run_queue_wait()
        interval = wall - self._wall
        if interval < MIN_INTERVAL_S:
            return
        self.cpu = (cpu - self._cpu) / interval
        waited = wait - self._wait if wait is not None and self._wait is not None else 0.0
        self.cpu_wait = waited / interval
        self.loop_lag_s = self._lag_sum / self._lag_count if self._lag_count else 0.0
        self.saturated = (
            self.cpu + self.cpu_wait > CPU_SATURATED or self.loop_lag_s > LOOP_LAG_SATURATED_S
        )
        self.peak_cpu = max(self.peak_cpu, self.cpu)
        self.peak_cpu_wait = max(self.peak_cpu_wait, self.cpu_wait)
        self.peak_loop_lag_s = max(self.peak_loop_lag_s, self.loop_lag_s)
        if self.saturated:
            self.saturated_s += interval
            if self.first_saturated_s is None:
                self.first_saturated_s = max(0.0, self._wall - self._run_start)
            self.dropped_saturated += dropped - self._dropped_seen
        self._dropped_seen = dropped
        self._wall, self._cpu, self._wait = wall, cpu, wait
        self._lag_sum, self._lag_count = 0.0, 0

    def report(self) -> dict[str, Any]:
        """The latest interval's figures and the run's so far, as a snapshot carries them."""
        return {
            "cpu": round(self.cpu, 3),
            "cpu_wait": round(self.cpu_wait, 3),
            "loop_lag_ms": round(self.loop_lag_s * 1e3, 3),
            "saturated": self.saturated,
            "saturated_s": round(self.saturated_s, 3),
            "first_saturated_s": (
                None if self.first_saturated_s is None else round(self.first_saturated_s, 3)
            ),
            "peak_cpu": round(self.peak_cpu, 3),
            "peak_cpu_wait": round(self.peak_cpu_wait, 3),
            "peak_loop_lag_ms": round(self.peak_loop_lag_s * 1e3, 3),
        }


@dataclass
class SaturationWatch:
    """The supervisor's view of its workers' saturation: it warns when a worker becomes
    saturated, and again whenever which workers are saturated changes."""

    # slot -> (CPU used and waited for, loop lag ms) of each worker saturated in its
    # latest report
    saturated: dict[int, tuple[float, float]] = field(default_factory=dict)
    ever: bool = False

    def observe(self, slot: int, generator: dict[str, Any] | None) -> None:
        if generator is None:
            return
        before = set(self.saturated)
        if generator["saturated"]:
            cpu = generator["cpu"] + generator.get("cpu_wait", 0.0)
            self.saturated[slot] = (cpu, generator["loop_lag_ms"])
            self.ever = True
        else:
            self.saturated.pop(slot, None)
        if set(self.saturated) == before:
            return
        if self.saturated:
            log_event(
                log,
                "generator_saturated",
                level=logging.WARNING,
                msg=SATURATED_HINT,
                workers=",".join(str(s) for s in sorted(self.saturated)),
                cpu=",".join(f"{c:.2f}" for c, _ in self.saturated.values()),
                loop_lag_ms=",".join(f"{lag:.1f}" for _, lag in self.saturated.values()),
            )
        else:
            log_event(log, "generator_unsaturated")

    def forget(self, slot: int) -> None:
        """A dead worker is saturated no more."""
        self.observe(slot, {"saturated": False})

    def note(self, final: bool = False) -> str:
        """What the progress line says while a worker is saturated, and at the end
        (``final``) when one was; empty otherwise."""
        if final and self.ever:
            return f"{SATURATED_HINT} (see the summary)"
        if not self.saturated:
            return ""
        worst_cpu = max(c for c, _ in self.saturated.values())
        worst_lag = max(lag for _, lag in self.saturated.values())
        count = len(self.saturated)
        return (
            f"{SATURATED_HINT} ({count} worker{'s' if count > 1 else ''}:"
            f" wants {worst_cpu:.0%} of a core, loop lag {worst_lag:,.0f} ms)"
        )
