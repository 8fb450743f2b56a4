"""Thresholds in a config file: parsed into objects, or rejected with the allowed metrics."""

from __future__ import annotations

from loadtest_supervisor.config.loading import load_settings
from tests.unit.config.loading import config, problems


def test_bad_threshold() -> None:
    path = config("target: {url: 'http://h/'}\nthresholds: ['p99 < 200ms', 'p98 < 1s', 3]\n")
    lines = problems(path)
    assert lines[0].startswith(
        "test.yaml: thresholds[1]='p98 < 1s': unknown metric 'p98'; allowed: min, mean, p50"
    )
    assert lines[0].endswith("(did you mean 'p99'?)")
    assert lines[1].startswith(
        "test.yaml: thresholds[2]=3: must be a string '<metric> <op> <value>'"
    )


def test_thresholds_are_parsed_objects() -> None:
    path = config("target: {url: 'http://h/'}\nthresholds: ['p99 < 0.2s', 'error_rate < 1%']\n")
    plan = load_settings(path, {}).plan
    assert plan is not None
    [latency, errors] = plan.thresholds
    assert (latency.metric, latency.op, latency.value, latency.text) == (
        "p99",
        "<",
        200.0,
        "p99 < 0.2s",
    )
    assert (errors.metric, errors.value) == ("error_rate", 0.01)
