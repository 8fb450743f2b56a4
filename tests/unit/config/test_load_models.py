"""Rules of each load model: the settings it requires and how they must relate."""

from __future__ import annotations

import pytest

from tests.unit.config.loading import ENV, config, problems


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (
            "{model: RampRps, min_rps: 5, max_rps: 100}",
            "load.ramp_duration: required when load.model is RampRps; set load.ramp_duration in "
            "test.yaml or the RAMP_DURATION environment variable",
        ),
        (
            "{model: RampRps, min_rps: 50, max_rps: 50, ramp_duration: 1m}",
            "test.yaml: load.max_rps=50: must be greater than load.min_rps (50)",
        ),
        (
            "{model: RampRps, min_rps: 5, max_rps: 50, ramp_duration: 40m, duration: 1h}",
            "test.yaml: load.ramp_duration='40m': 2 x ramp_duration must be <= load.duration (1h): "
            "the test ramps up, holds, then ramps down within it",
        ),
        (
            "{model: DailyTraffic, daily_min_rps: 5, daily_mid_rps: 3, daily_max_rps: 9, "
            "daily_cycle_duration: 1h}",
            "test.yaml: load.daily_mid_rps=3: must be >= load.daily_min_rps (5)",
        ),
        (
            "{model: DailyTraffic, daily_min_rps: 1, daily_mid_rps: 3, daily_max_rps: 2, "
            "daily_cycle_duration: 1h}",
            "test.yaml: load.daily_max_rps=2: must be >= load.daily_mid_rps (3)",
        ),
        (
            "{model: Rps, target_rps: 0}",
            "test.yaml: load.target_rps=0: must be a finite number > 0",
        ),
    ],
)
def test_load_model_rules(load: str, message: str) -> None:
    assert problems(config(f"target: {{url: 'http://h/'}}\nload: {load}\n")) == [message]


def test_daily_traffic_lists_every_missing_setting() -> None:
    lines = problems(config("target: {url: 'http://h/'}\nload: {model: DailyTraffic}\n"))
    assert [line.split(":")[0] for line in lines] == [
        "load.daily_min_rps",
        "load.daily_mid_rps",
        "load.daily_max_rps",
        "load.daily_cycle_duration",
    ]


def test_model_rule_still_checked_when_another_load_field_is_bad() -> None:
    lines = problems(None, {**ENV, "LOAD_MODEL_TYPE": "Rps", "NUM_CONCURRENT_TASKS": "-3"})
    assert lines == [
        "NUM_CONCURRENT_TASKS='-3': must be an integer >= 1",
        "load.target_rps: required when load.model is Rps; set load.target_rps in a --config "
        "file or the TARGET_RPS environment variable",
    ]
