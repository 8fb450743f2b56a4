"""Rate curves of the open load models: the exact arrival counts the engine owes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from loadtest_supervisor.config.load_models import RateCurve, rate_curve
from loadtest_supervisor.engine.runner import split


def _load(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def test_rps_is_flat() -> None:
    curve = rate_curve(_load(model="Rps", target_rps=250.0))
    assert curve is not None
    assert curve.rate(0) == curve.rate(99) == 250.0
    assert curve.arrivals(0, 4) == pytest.approx(1000.0)
    assert curve.arrivals(1.5, 2.0) == pytest.approx(125.0)


def test_ramp_goes_up_sustains_and_comes_down() -> None:
    curve = rate_curve(
        _load(model="RampRps", min_rps=100.0, max_rps=900.0, ramp_duration=10.0, duration=40.0)
    )
    assert curve is not None
    assert curve.rate(0) == 100.0
    assert curve.rate(5) == pytest.approx(500.0)
    assert curve.rate(10) == curve.rate(25) == 900.0
    assert curve.rate(35) == pytest.approx(500.0)
    assert curve.rate(40) == pytest.approx(100.0)
    # up (avg 500 for 10 s) + sustain (900 for 20 s) + down (avg 500 for 10 s)
    assert curve.arrivals(0, 40) == pytest.approx(5000 + 18000 + 5000)


def test_daily_traffic_cycles_through_min_mid_max() -> None:
    load = _load(
        model="DailyTraffic",
        daily_min_rps=10.0,
        daily_mid_rps=50.0,
        daily_max_rps=100.0,
        daily_cycle_duration=100.0,
    )
    curve = rate_curve(load)
    assert curve is not None
    assert curve.rate(0) == 10.0  # night ends, morning ramp starts
    assert curve.rate(20) == 100.0  # peak
    assert curve.rate(45) == pytest.approx(62.5)  # declining from max towards mid
    assert curve.rate(55) == 50.0  # mid plateau
    assert curve.rate(90) == 10.0  # night
    assert curve.rate(120) == curve.rate(20)  # the cycle repeats
    one_cycle = curve.arrivals(0, 100)
    # 20 s avg 55, 10 s at 100, 20 s avg 75, 10 s at 50, 20 s avg 30, 20 s at 10
    assert one_cycle == pytest.approx(1100 + 1000 + 1500 + 500 + 600 + 200)
    assert curve.arrivals(0, 250) == pytest.approx(2 * one_cycle + curve.arrivals(0, 50))


def test_concurrent_has_no_rate() -> None:
    assert rate_curve(_load(model="Concurrent")) is None


def test_arrivals_add_up_over_any_split_of_time() -> None:
    curve = RateCurve((0.0, 3.0, 7.0), (0.0, 300.0, 50.0), cycle=9.0)
    edges = [0.0, 0.4, 1.7, 3.0, 3.01, 6.5, 8.9, 12.2, 20.0]
    parts = sum(curve.arrivals(a, b) for a, b in zip(edges, edges[1:], strict=False))
    assert parts == pytest.approx(curve.arrivals(0.0, 20.0))


def test_split_spreads_remainder() -> None:
    assert split(10, 3) == [4, 3, 3]
    assert split(2, 2) == [1, 1]
    assert sum(split(64, 5)) == 64
