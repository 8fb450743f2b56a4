"""The load models: one table of each model's name, required keys and rate curve.

The table feeds the model validation (which keys a model requires), the loader
(which keys a file sets in vain), the docs (a test checks the README against it)
and the engine (the curve it schedules arrivals on).

Every open model is a piecewise-linear rate curve, so the number of arrivals
between two instants is an exact integral: a worker that wakes late sends exactly
the arrivals it owes, and the run's total matches the target to the request.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The most arrivals per second one load worker schedules. A worker sends some tens of
# thousands of requests a second at best, so a plan above this asks for "as fast as
# possible" whatever it says: the worker schedules at this rate, sends what its
# connections and CPU allow and counts the rest as dropped, exactly and in O(1) per tick.
# Bounding the schedule keeps that count a meaningful number (1e308/s would overflow a
# float within two seconds) and the arithmetic exact for runs of days (8.6e10 a day,
# far inside a float's 2**53 exact integers).
MAX_RATE_PER_WORKER = 1_000_000.0

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

    @property
    def peak(self) -> float:
        return max(self.rates)

    def capped(self, limit: float) -> RateCurve:
        """This curve with every rate above ``limit`` brought down to it, exactly: a
        segment that crosses ``limit`` gets a point where it does, so the integral of
        the result is the integral of ``min(rate, limit)``."""
        if self.peak <= limit:
            return self
        times: list[float] = []
        rates: list[float] = []
        for i, (t, r) in enumerate(zip(self.times, self.rates, strict=True)):
            if i:
                t0, r0 = self.times[i - 1], self.rates[i - 1]
                if (r0 - limit) * (r - limit) < 0:  # strictly on both sides of the limit
                    times.append(t0 + (t - t0) * (limit - r0) / (r - r0))
                    rates.append(float(limit))
            times.append(t)
            rates.append(min(r, float(limit)))
        return RateCurve(tuple(times), tuple(rates), self.cycle)


@dataclass(frozen=True)
class LoadModel:
    """One load model: what it needs from ``load:`` and the rate it asks for over time."""

    name: str
    required: tuple[str, ...]  # keys of ``load:`` this model needs, in the order they are read
    curve: Callable[[Any], RateCurve] | None  # None: closed model, no rate
    summary: str


def _rps(load: Any) -> RateCurve:
    return RateCurve((0.0,), (load.target_rps,))


def _ramp(load: Any) -> RateCurve:
    ramp, end = load.ramp_duration, load.duration
    lo, hi = load.min_rps, load.max_rps
    return RateCurve((0.0, ramp, end - ramp, end), (lo, hi, hi, lo))


def _daily(load: Any) -> RateCurve:
    cycle = load.daily_cycle_duration
    lo, mid, hi = load.daily_min_rps, load.daily_mid_rps, load.daily_max_rps
    edges = [0.0]
    for share in DAILY_PHASES:
        edges.append(edges[-1] + share * cycle)
    return RateCurve(tuple(edges), (lo, hi, hi, mid, mid, lo, lo), cycle)


LOAD_MODELS: dict[str, LoadModel] = {
    model.name: model
    for model in (
        LoadModel(
            "Concurrent", (), None, "closed: concurrency users, each sends on the last answer"
        ),
        LoadModel("Rps", ("target_rps",), _rps, "open: target_rps arrivals per second"),
        LoadModel(
            "RampRps",
            ("min_rps", "max_rps", "ramp_duration"),
            _ramp,
            "open: min_rps to max_rps over ramp_duration, hold, back down at the end",
        ),
        LoadModel(
            "DailyTraffic",
            ("daily_min_rps", "daily_mid_rps", "daily_max_rps", "daily_cycle_duration"),
            _daily,
            "open: a repeating day of ramps and plateaus between min, mid and max",
        ),
    )
}
# Every key some model requires; the others leave them unset.
MODEL_KEYS: tuple[str, ...] = tuple(key for m in LOAD_MODELS.values() for key in m.required)


def rate_curve(load: Any) -> RateCurve | None:
    """The curve of a validated ``load`` section; None for a closed model."""
    curve = LOAD_MODELS[load.model].curve
    return None if curve is None else curve(load)


def rate_bound_warning(load: Any, busiest_share: float) -> str | None:
    """What to tell a user whose plan asks more than its load workers schedule
    (``MAX_RATE_PER_WORKER`` each), or None. ``busiest_share`` is the largest part of
    the plan's rate one worker takes (1/workers when they share it evenly)."""
    curve = rate_curve(load)
    if curve is None or busiest_share <= 0:
        return None
    bound = MAX_RATE_PER_WORKER / busiest_share
    if curve.peak <= bound:
        return None
    rates = [key for key in LOAD_MODELS[load.model].required if key.endswith("_rps")]
    key = max(rates, key=lambda k: getattr(load, k))
    return (
        f"load.{key}={getattr(load, key):g} is above what the engine schedules: at most "
        f"{MAX_RATE_PER_WORKER:,.0f} arrivals/s per load worker ({bound:,.0f}/s in this run); "
        "it sends as fast as its connections and CPU allow and counts the arrivals it "
        "could not send as dropped"
    )
