"""Target request rates over time for the open (rate-driven) load models.

Every model is a piecewise-linear rate curve, so the number of arrivals between
two instants is an exact integral: a worker that wakes late sends exactly the
arrivals it owes, and the run's total matches the target to the request.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

# DailyTraffic phases as shares of one cycle: morning ramp min→max, peak at max,
# decline max→mid, plateau at mid, evening decline mid→min, night at min.
DAILY_PHASES = (0.2, 0.1, 0.2, 0.1, 0.2, 0.2)


@dataclass(frozen=True)
class RateCurve:
    """Rate (requests/s) through the points ``(t, rate)``, repeating every ``cycle`` s."""

    times: tuple[float, ...]
    rates: tuple[float, ...]
    cycle: float | None = None

    def rate(self, t: float) -> float:
        if self.cycle:
            t %= self.cycle
        i = bisect_right(self.times, t) - 1
        if i < 0:
            return self.rates[0]
        if i >= len(self.times) - 1:
            return self.rates[-1]
        t0, t1 = self.times[i], self.times[i + 1]
        r0, r1 = self.rates[i], self.rates[i + 1]
        return r0 + (r1 - r0) * (t - t0) / (t1 - t0)

    def _cumulative(self, t: float) -> float:
        """Arrivals from 0 to ``t``."""
        total = 0.0
        if self.cycle:
            whole, t = divmod(t, self.cycle)
            total += whole * self._cumulative_in_cycle(self.cycle)
        return total + self._cumulative_in_cycle(t)

    def _cumulative_in_cycle(self, t: float) -> float:
        total = 0.0
        times, rates = self.times, self.rates
        for i in range(len(times) - 1):
            t0, t1 = times[i], times[i + 1]
            if t <= t0:
                break
            end = min(t, t1)
            total += (rates[i] + self.rate(end)) / 2 * (end - t0) if t1 > t0 else 0.0
        if t > times[-1]:
            total += rates[-1] * (t - times[-1])
        return total

    def arrivals(self, t0: float, t1: float) -> float:
        """Expected arrivals in ``[t0, t1)``: the integral of the rate."""
        return self._cumulative(t1) - self._cumulative(t0)


def rate_curve(load: Any) -> RateCurve | None:
    """The curve of a validated ``load`` section; None for the closed Concurrent model."""
    model = load.model
    if model == "Rps":
        return RateCurve((0.0,), (load.target_rps,))
    if model == "RampRps":
        ramp, end = load.ramp_duration, load.duration
        lo, hi = load.min_rps, load.max_rps
        return RateCurve((0.0, ramp, end - ramp, end), (lo, hi, hi, lo))
    if model == "DailyTraffic":
        cycle = load.daily_cycle_duration
        lo, mid, hi = load.daily_min_rps, load.daily_mid_rps, load.daily_max_rps
        edges = [0.0]
        for share in DAILY_PHASES:
            edges.append(edges[-1] + share * cycle)
        return RateCurve(tuple(edges), (lo, hi, hi, mid, mid, lo, lo), cycle)
    return None


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as integers allow."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
