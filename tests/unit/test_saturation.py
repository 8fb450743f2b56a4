"""A worker's own measure of saturation, and the supervisor's warnings about it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from loadtest_supervisor.engine.saturation import SATURATED_HINT, LoadGauge, SaturationWatch


def test_a_busy_interval_is_saturated_and_its_drops_are_the_generators() -> None:
    async def measure() -> tuple[dict, dict, LoadGauge]:
        gauge = LoadGauge()
        probe = gauge.start(time.monotonic())
        spin_until = time.monotonic() + 0.3
        while time.monotonic() < spin_until:  # the loop is blocked: CPU and lag both
            pass
        busy = gauge.sample(dropped=10)
        await asyncio.sleep(0.3)  # idle: no CPU wanted, the probe on time
        idle = gauge.sample(dropped=15)
        probe.cancel()
        return busy, idle, gauge

    busy, idle, gauge = asyncio.run(measure())

    assert busy["saturated"] and busy["cpu"] + busy["cpu_wait"] > 0.9, busy
    assert busy["first_saturated_s"] == pytest.approx(0.0, abs=0.05)
    assert not idle["saturated"], idle
    assert idle["saturated_s"] == pytest.approx(0.3, abs=0.1)
    assert idle["peak_cpu"] + idle["peak_cpu_wait"] >= busy["cpu"] + busy["cpu_wait"] - 0.01
    # The 10 dropped while busy were the generator's; the 5 while idle were not.
    assert gauge.dropped_saturated == 10


def test_a_sample_right_after_the_last_judges_nothing_yet() -> None:
    """The run's first snapshot comes at its very start: a few ms in which the worker
    opened its connections read as a whole core. Such a short interval is not judged;
    its time goes into the next one."""

    async def measure() -> tuple[dict, dict, LoadGauge]:
        gauge = LoadGauge()
        probe = gauge.start(time.monotonic())
        spin_until = time.monotonic() + 0.02
        while time.monotonic() < spin_until:
            pass
        first = gauge.sample(dropped=3)
        await asyncio.sleep(0.3)  # idle: over the whole 0.32 s, ~6 % of a core
        second = gauge.sample(dropped=3)
        probe.cancel()
        return first, second, gauge

    first, second, gauge = asyncio.run(measure())

    assert not first["saturated"] and first["cpu"] == 0.0, first
    assert not second["saturated"] and 0.0 < second["cpu"] < 0.5, second
    assert gauge.dropped_saturated == 0


def _report(saturated: bool, cpu: float = 0.95) -> dict:
    return {"saturated": saturated, "cpu": cpu, "cpu_wait": 0.0, "loop_lag_ms": 3.0}


def test_the_warning_comes_once_and_again_on_change(caplog: pytest.LogCaptureFixture) -> None:
    watch = SaturationWatch()
    caplog.set_level(logging.INFO, logger="loadtest.engine")

    def events() -> list[str]:
        return [r.fields["event"] for r in caplog.records]  # type: ignore[attr-defined]

    watch.observe(0, _report(False))
    assert events() == [] and watch.note() == ""
    watch.observe(0, _report(True))
    watch.observe(0, _report(True, cpu=0.99))  # the same workers: no new warning
    assert events() == ["generator_saturated"]
    assert caplog.records[0].levelno == logging.WARNING
    assert watch.note().startswith(SATURATED_HINT)
    watch.observe(1, _report(True))  # another worker: a change
    assert events() == ["generator_saturated"] * 2
    assert "2 workers" in watch.note()
    watch.observe(0, _report(False))
    watch.forget(1)  # a dead worker is saturated no more
    assert events() == ["generator_saturated"] * 3 + ["generator_unsaturated"]
    assert watch.note() == ""
    assert watch.note(final=True).startswith(SATURATED_HINT)
