"""Durations as a user writes them (250ms, 10m, 3d), and as --print-config writes them back."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest_supervisor.config.durations import format_duration, parse_duration
from loadtest_supervisor.config.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("2h", 7200.0),
        ("3d", 259200.0),
        ("45", 45.0),
        (" 5 m ", 300.0),
        (30, 30.0),
        (0.5, 0.5),
        ("0", 0.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text, "load.duration") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["ten minutes", "-1s", "1w", "10M", "", "1h30m", True, "nan"])
def test_parse_duration_rejects(text: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(text, "TEST_DURATION")
    assert str(info.value) == (
        f"TEST_DURATION={text!r}{' (bool)' if text is True else ''}: not a duration; "
        "allowed: seconds or <n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (1.5, "1500ms"), (90, "90s"), (600, "10m"), (7200, "2h"), (259200, "3d")],
)
def test_format_duration_reads_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text, "x") == pytest.approx(seconds)
