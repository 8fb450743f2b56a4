"""Pass/fail thresholds: ``"p99 < 200ms"``, ``"error_rate < 1%"``, ``"rps > 100"``.

They are parsed when the config is loaded, so a typo fails the run before any
load is sent rather than after two hours of it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ConfigDict

from loadtest_supervisor.config.errors import ConfigError, show_value
from loadtest_supervisor.metrics.stats import LATENCY_KEYS

COUNT_METRICS = ("rps", "requests")
METRICS = (*LATENCY_KEYS, "error_rate", *COUNT_METRICS)

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_SYNTAX = "'<metric> <op> <value>' with op one of <, <=, >, >=, e.g. 'p99 < 200ms'"
_THRESHOLD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*([<>=!]+)?\s*(.*?)\s*")
_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)")


class Threshold(BaseModel):
    """One parsed threshold; ``value`` is in ms (latency), a fraction (error_rate) or a count."""

    model_config = ConfigDict(frozen=True)

    metric: str
    op: str
    value: float
    text: str

    def __str__(self) -> str:
        return self.text

    def holds_for(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    actual: float  # NaN when the run gives no value to compare (no requests sent)
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        """The form the results document and the summary table use; ``actual`` is None
        (JSON null: JSON has no NaN) when the run gives no value to compare."""
        actual = None if math.isnan(self.actual) else self.actual
        return {"threshold": self.threshold.text, "actual": actual, "passed": self.passed}


def threshold_problem(text: object) -> str | Threshold:
    """The parsed threshold, or the reason ``text`` is not one (without the key)."""
    if not isinstance(text, str):
        return f"must be a string {_SYNTAX}"
    match = _THRESHOLD.fullmatch(text)
    if match is None or not match.group(3):
        return f"not a threshold; allowed: {_SYNTAX}"
    metric, op, raw_value = match.groups()
    if metric not in METRICS:
        hint = get_close_matches(metric, METRICS, n=1)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"unknown metric '{metric}'; allowed: {', '.join(METRICS)}{did_you_mean}"
    if op not in _OPS:
        problem = f"operator '{op}' is not allowed" if op else "missing operator"
        return f"{problem}; allowed: {_SYNTAX}"
    value = _metric_value(metric, raw_value)
    if isinstance(value, str):
        return value
    return Threshold(metric=metric, op=op, value=value, text=text.strip())


def _metric_value(metric: str, raw: str) -> float | str:
    number = _NUMBER.match(raw)
    unit = raw[number.end() :].strip() if number else None
    if metric in LATENCY_KEYS:
        scale = {"": 1.0, "ms": 1.0, "s": 1000.0}.get(unit) if unit is not None else None
        if scale is None:
            return f"{metric} needs a latency; allowed: <n>ms or <n>s (a bare number is ms)"
        return float(number.group(1)) * scale
    if metric == "error_rate":
        if unit == "%":
            fraction = float(number.group(1)) / 100
        elif unit == "":
            fraction = float(number.group(1))
        else:
            return "error_rate needs a rate; allowed: <n>% or a fraction 0..1, e.g. 1% or 0.01"
        if fraction > 1:
            return "error_rate must be at most 100% (a bare number is a fraction 0..1)"
        return fraction
    if unit != "":
        return f"{metric} needs a plain number, e.g. '{metric} > 100'"
    return float(number.group(1))


def parse_threshold(text: str, key: str = "threshold") -> Threshold:
    """Parse ``text``; raises ``ConfigError`` naming ``key``, the text and the syntax."""
    result = threshold_problem(text)
    if isinstance(result, str):
        raise ConfigError(f"{key}={show_value(text)}: {result}")
    return result


def _actual(metric: str, results: Mapping[str, Any]) -> float:
    requests = results.get("requests_total", 0)
    if metric == "requests":
        return float(requests)
    if metric == "rps":
        return float(results.get("rps", math.nan))
    # A run that sent nothing proves nothing about latency or errors.
    if not requests:
        return math.nan
    if metric == "error_rate":
        return results.get("errors_total", 0) / requests
    return float(results.get("latency_ms", {}).get(metric, math.nan))


def evaluate_thresholds(
    thresholds: Iterable[Threshold], results: Mapping[str, Any]
) -> list[ThresholdResult]:
    """Check each threshold against a results document (see ``results.document.build_results``).

    A threshold whose metric has no value (NaN) fails.
    """
    outcome = []
    for threshold in thresholds:
        actual = _actual(threshold.metric, results)
        passed = not math.isnan(actual) and threshold.holds_for(actual)
        outcome.append(ThresholdResult(threshold, actual, passed))
    return outcome
