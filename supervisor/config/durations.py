"""Durations as written in configs (``250ms``, ``10m``, ``3d``) to and from seconds."""

from __future__ import annotations

import math
import re

from loadtest_supervisor.config.errors import ConfigError, show_value

DURATION_ALLOWED = "seconds or <n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?")


def duration_seconds(value: str | int | float) -> float:
    """Seconds in ``value``; raises ``ValueError`` with the user-facing reason.

    Negative values are rejected here, not by each field: no setting has a use
    for a duration before zero.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration; allowed: {DURATION_ALLOWED}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"not a duration; allowed: {DURATION_ALLOWED}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration; allowed: {DURATION_ALLOWED}")
    return seconds


def parse_duration(text: str | int | float, key: str) -> float:
    """Seconds in ``text``; raises ``ConfigError`` naming ``key``, the value and the syntax."""
    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise ConfigError(f"{key}={show_value(text)}: {exc}") from None


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` that ``duration_seconds`` reads back."""
    for unit in ("d", "h", "m", "s", "ms"):
        count = seconds / _UNITS[unit]
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{round(count)}{unit}"
    if seconds == 0:
        return "0s"
    return f"{seconds:g}s" if float(f"{seconds:g}") == seconds else f"{seconds!r}s"
