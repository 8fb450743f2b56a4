"""An open model's arrivals in one worker: owed by the rate curve, queued, or dropped.

Whatever rate a plan asks for, the work per tick is the same: the arrivals owed since
the last tick are one batch (a count, the intended instant of the first and the step
between them), the connections waiting take what they can, the queue takes a batch of
what fits, and the rest is added to ``dropped`` in one addition. Nothing loops over
arrivals that are not sent, so 1e9/s costs what 1e3/s costs, and the count is exact:
at the end every arrival the curve owed up to then was sent or counted as dropped.
"""

from __future__ import annotations

from collections import deque

from loadtest_supervisor.config.load_models import MAX_RATE_PER_WORKER, RateCurve

# Arrivals that find every connection busy wait here, oldest first, and are sent late,
# with that lateness in their latency (no coordinated omission). Past this many the
# target (or this worker) is hopelessly behind: further arrivals are dropped.
MAX_BACKLOG = 100_000


class Arrivals:
    """The schedule of one worker's part of an open model's rate curve.

    Times are monotonic seconds; ``elapsed`` values are seconds since ``run_start``.
    ``share`` (this worker's part of the rate) may change at any tick. The worker's
    schedule is the curve times its share, capped at ``MAX_RATE_PER_WORKER``.
    """

    def __init__(self, curve: RateCurve, run_start: float, run_end: float, resume_at: float):
        self._curve = curve
        self._capped = curve
        self._share = 0.0
        self.run_start = run_start
        self.run_end = run_end
        # Arrivals are owed from here on (a replacement worker owes its predecessor's).
        self._until = max(resume_at, run_start) - run_start
        self._owed = 0.0  # the fraction of an arrival carried to the next tick
        self._queue: deque[list[float]] = deque()  # batches [first, step, count]
        self.queued = 0
        self.dropped = 0
        self.closed = False

    def set_share(self, share: float) -> None:
        if share == self._share:
            return
        self._share = share
        if share > 0:
            self._capped = self._curve.capped(MAX_RATE_PER_WORKER / share)

    def advance(self, now: float, tick: float) -> tuple[int, float, float]:
        """The arrivals owed from the last call to ``now``: (count, intended instant of
        the first, step to the next). A call later than two ``tick``s spreads them over
        the gap, so the lateness of a busy loop shows in their latency."""
        elapsed = min(now, self.run_end) - self.run_start
        start = self._until
        if elapsed <= start or self.closed:
            return 0, now, 0.0
        self._until = elapsed
        if self._share > 0:
            self._owed += self._capped.arrivals(start, elapsed) * self._share
        due = int(self._owed)
        self._owed -= due
        if not due:
            return 0, now, 0.0
        gap = elapsed - start
        if gap > 2 * tick:
            return due, self.run_start + start + gap / due, gap / due
        return due, now, 0.0

    def enqueue(self, count: int, first: float, step: float) -> None:
        """Queue the oldest ``count`` arrivals from ``first`` on that fit; drop the rest."""
        room = MAX_BACKLOG - self.queued
        kept = min(count, room)
        if kept > 0:
            self._queue.append([first, step, kept])
            self.queued += kept
        self.dropped += count - max(kept, 0)

    def take(self) -> float:
        """The oldest queued arrival's intended instant (call only when ``queued``)."""
        batch = self._queue[0]
        intended = batch[0]
        batch[0] += batch[1]
        batch[2] -= 1
        if not batch[2]:
            self._queue.popleft()
        self.queued -= 1
        return intended

    def close(self, now: float) -> None:
        """The run is over at ``now``: what the curve owed until then and was not sent
        (queued, or owed since the last tick) is dropped."""
        if self.closed:
            return
        unsent, _, _ = self.advance(now, 0.0)
        self.dropped += self.queued + unsent
        self._queue.clear()
        self.queued = 0
        self.closed = True
