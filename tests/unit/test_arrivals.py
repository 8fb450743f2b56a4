"""An open model's schedule in a worker: any rate costs the same per tick, and every
arrival the curve owed is sent or counted as dropped, exactly."""

from __future__ import annotations

import time

import pytest

from loadtest_supervisor.config.load_models import (
    MAX_RATE_PER_WORKER,
    RateCurve,
    rate_bound_warning,
)
from loadtest_supervisor.config.models import LoadSettings
from loadtest_supervisor.engine.arrivals import MAX_BACKLOG, Arrivals

TICK = 0.001


def test_capped_curve_integrates_min_of_rate_and_limit() -> None:
    ramp = RateCurve((0.0, 1.0, 3.0, 4.0), (100.0, 900.0, 900.0, 100.0))
    capped = ramp.capped(500.0)
    # Up 100 -> 500 in 0.5 s, 500 for 3 s, down 500 -> 100 in 0.5 s.
    assert capped.arrivals(0, 4) == pytest.approx(150 + 1500 + 150)
    assert capped.peak == 500.0
    # Numerically, min(rate, 500) integrates to the same.
    steps = 40_000
    numeric = sum(min(ramp.rate((i + 0.5) * 4 / steps), 500) for i in range(steps)) * 4 / steps
    assert capped.arrivals(0, 4) == pytest.approx(numeric, rel=1e-6)
    assert ramp.capped(1000.0) is ramp


def test_a_huge_rate_stays_finite_at_the_bound() -> None:
    curve = RateCurve((0.0,), (1e308,)).capped(MAX_RATE_PER_WORKER)
    assert curve.arrivals(0, 3) == 3 * MAX_RATE_PER_WORKER
    assert curve.arrivals(86_400, 86_401) == MAX_RATE_PER_WORKER


def _run(rate: float, seconds: float, send_per_tick: int) -> tuple[Arrivals, int]:
    """Tick a schedule for ``seconds`` on a simulated clock, sending at most
    ``send_per_tick`` queued arrivals each tick; returns it and how many it sent."""
    arrivals = Arrivals(RateCurve((0.0,), (rate,)), 100.0, 100.0 + seconds, 100.0)
    arrivals.set_share(1.0)
    sent = 0
    now = 100.0
    while now < 100.0 + seconds:
        now += TICK
        due, first, step = arrivals.advance(now, TICK)
        arrivals.enqueue(due, first, step)
        for _ in range(min(send_per_tick, arrivals.queued)):
            arrivals.take()
            sent += 1
    arrivals.close(100.0 + seconds)
    return arrivals, sent


def test_every_owed_arrival_is_sent_or_dropped_exactly() -> None:
    arrivals, sent = _run(1e9, 3.0, send_per_tick=16)  # 1e9/s capped at the bound
    assert sent + arrivals.dropped == int(3 * MAX_RATE_PER_WORKER)
    assert sent == 16 * 3000
    assert arrivals.queued == 0


def test_a_slow_sender_queues_then_drops_past_the_backlog() -> None:
    arrivals = Arrivals(RateCurve((0.0,), (1e6,)), 0.0, 10.0, 0.0)
    arrivals.set_share(1.0)
    due, first, step = arrivals.advance(0.5, TICK)  # a late tick: spread over 0.5 s
    assert due == 500_000
    assert (first, step) == pytest.approx((1e-6, 1e-6))
    arrivals.enqueue(due, first, step)
    assert arrivals.queued == MAX_BACKLOG
    assert arrivals.dropped == due - MAX_BACKLOG
    # Oldest first, at their intended instants.
    assert arrivals.take() == pytest.approx(1e-6)
    assert arrivals.take() == pytest.approx(2e-6)


def test_a_tick_costs_the_same_at_any_rate() -> None:
    def seconds_for(rate: float) -> float:
        start = time.perf_counter()
        _run(rate, 1.0, send_per_tick=4)
        return time.perf_counter() - start

    slow, absurd = seconds_for(1e3), seconds_for(1e308)
    # 1000 ticks each; generous for a busy machine: one by one, 1e6 arrivals would
    # take a second or more.
    assert absurd < max(10 * slow, 0.5)


def test_a_share_scales_the_schedule_and_the_cap_applies_to_the_worker() -> None:
    arrivals = Arrivals(RateCurve((0.0,), (4e6,)), 0.0, 1.0, 0.0)
    arrivals.set_share(0.5)  # 2e6/s for this worker: capped at the bound
    due, _, _ = arrivals.advance(1.0, TICK)
    assert due == int(MAX_RATE_PER_WORKER)
    arrivals = Arrivals(RateCurve((0.0,), (1000.0,)), 0.0, 1.0, 0.0)
    arrivals.set_share(0.25)
    assert arrivals.advance(1.0, TICK)[0] == 250


def test_closing_early_counts_only_what_was_owed_by_then() -> None:
    arrivals = Arrivals(RateCurve((0.0,), (1000.0,)), 0.0, 10.0, 0.0)
    arrivals.set_share(1.0)
    arrivals.enqueue(*arrivals.advance(1.0, TICK))
    arrivals.close(2.0)  # stopped at 2 s of 10: 1000 queued + 1000 owed since
    assert arrivals.dropped == 2000
    assert arrivals.advance(3.0, TICK)[0] == 0


@pytest.mark.parametrize(
    ("load", "busiest", "warned"),
    [
        ({"model": "Rps", "target_rps": 1e9}, 1.0, "load.target_rps=1e+09"),
        ({"model": "Rps", "target_rps": 1.5e6}, 0.5, None),
        ({"model": "Rps", "target_rps": 1.5e6}, 1.0, "1,000,000 arrivals/s per load worker"),
        (
            {"model": "RampRps", "min_rps": 1, "max_rps": 5e6, "ramp_duration": 1, "duration": 4},
            0.5,
            "load.max_rps=5e+06",
        ),
        ({"model": "Concurrent"}, 1.0, None),
    ],
)
def test_rates_above_the_bound_are_warned_about(load, busiest, warned) -> None:
    warning = rate_bound_warning(LoadSettings.model_validate(load), busiest)
    if warned is None:
        assert warning is None
    else:
        assert warned in warning
        assert "dropped" in warning
