"""Threshold parsing and evaluation against a results document."""

from __future__ import annotations

import json
import math

import pytest

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.results.thresholds import evaluate_thresholds, parse_threshold


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("p99 < 200ms", "p99", "<", 200.0),
        ("p99 < 0.2s", "p99", "<", 200.0),
        ("p50<=35", "p50", "<=", 35.0),  # a bare latency is ms
        ("  max > 1.5s ", "max", ">", 1500.0),
        ("p999 < 1s", "p999", "<", 1000.0),
        ("p9999 < 2s", "p9999", "<", 2000.0),
        ("mean <= 20 ms", "mean", "<=", 20.0),
        ("error_rate < 1%", "error_rate", "<", 0.01),
        ("error_rate <= 0.05", "error_rate", "<=", 0.05),
        ("rps > 100", "rps", ">", 100.0),
        ("requests >= 1000", "requests", ">=", 1000.0),
    ],
)
def test_parse_normalises_values(text: str, metric: str, op: str, value: float) -> None:
    threshold = parse_threshold(text)
    assert (threshold.metric, threshold.op) == (metric, op)
    assert threshold.value == pytest.approx(value)
    assert threshold.text == text.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p98 < 1s", "unknown metric 'p98'; allowed: min, mean, p50"),
        ("p98 < 1s", "(did you mean 'p99'?)"),
        ("p99 = 200ms", "operator '=' is not allowed"),
        ("rps >> 5", "operator '>>' is not allowed"),
        ("p99 200ms", "missing operator"),
        ("p99 <", "not a threshold"),
        ("p99 < 200 apples", "allowed: <n>ms or <n>s"),
        ("p99 < 2m", "allowed: <n>ms or <n>s"),
        ("error_rate < 150%", "at most 100%"),
        ("error_rate < 5", "at most 100% (a bare number is a fraction 0..1)"),
        ("rps > 10ms", "rps needs a plain number"),
    ],
)
def test_parse_rejects_with_reason(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_threshold(text, "thresholds[0]")
    message = str(info.value)
    assert message.startswith(f"thresholds[0]={text!r}: ")
    assert expected in message


def test_parse_rejects_non_string() -> None:
    with pytest.raises(ConfigError, match=r"thresholds\[2\]=5: must be a string"):
        parse_threshold(5, "thresholds[2]")  # type: ignore[arg-type]


RESULTS = {
    "requests_total": 2000,
    "errors_total": 10,
    "error_rate": 0.005,
    "rps": 400.0,
    "latency_ms": {
        "p50": 12.0,
        "p90": 40.0,
        "p95": 55.0,
        "p99": 180.0,
        "p999": 400.0,
        "max": 900.0,
        "mean": 20.0,
        "min": 0.4,
        "p9999": 850.0,
    },
}


@pytest.mark.parametrize(
    ("text", "actual", "passed"),
    [
        ("p99 < 200ms", 180.0, True),
        ("p99 < 180ms", 180.0, False),
        ("p99 <= 180ms", 180.0, True),
        ("max < 0.5s", 900.0, False),
        ("mean > 10", 20.0, True),
        ("error_rate < 1%", 0.005, True),
        ("error_rate < 0.5%", 0.005, False),
        ("error_rate <= 0.005", 0.005, True),
        ("rps >= 400", 400.0, True),
        ("rps > 400", 400.0, False),
        ("requests >= 2000", 2000.0, True),
    ],
)
def test_evaluate(text: str, actual: float, passed: bool) -> None:
    [result] = evaluate_thresholds([parse_threshold(text)], RESULTS)
    assert result.actual == pytest.approx(actual)
    assert result.passed is passed
    assert result.as_dict() == {"threshold": text, "actual": result.actual, "passed": passed}


def test_a_run_without_requests_proves_no_latency_or_error_threshold() -> None:
    empty = {"requests_total": 0, "errors_total": 0, "rps": 0.0, "latency_ms": {"p99": 0.0}}
    thresholds = [parse_threshold(t) for t in ("p99 < 1s", "error_rate < 1%", "requests < 5")]
    latency, errors, requests = evaluate_thresholds(thresholds, empty)
    assert math.isnan(latency.actual) and not latency.passed
    assert math.isnan(errors.actual) and not errors.passed
    assert requests.actual == 0 and requests.passed
    # JSON has no NaN: the document says null, and stays valid JSON.
    assert json.loads(json.dumps(latency.as_dict(), allow_nan=False))["actual"] is None


def test_missing_metric_fails() -> None:
    [result] = evaluate_thresholds([parse_threshold("p90 < 1s")], {"requests_total": 3})
    assert math.isnan(result.actual)
    assert not result.passed
