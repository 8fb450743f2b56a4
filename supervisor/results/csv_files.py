"""The results document as CSV files Locust's tooling reads (``--csv PREFIX``).

``PREFIX_stats.csv``, ``PREFIX_history.csv`` and ``PREFIX_failures.csv`` have Locust's
headers (2.x, ``locust --csv``), in its order, so a reader by name or by position finds
each column where Locust puts it; our own columns come after. A column whose meaning we
do not measure (content size, users) or a percentile the document does not hold stays
empty; every value is written from the results document alone, so a standalone run and
``submit --wait`` of a cluster run write the same files. Times are milliseconds, as
Locust's.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest_supervisor.metrics.stats import percentiles_ms
from loadtest_supervisor.metrics.timeline import TIME_FORMAT

# Locust's percentile columns and the document's name for each we hold.
PERCENTILES = {
    "50%": "p50",
    "66%": None,
    "75%": None,
    "80%": None,
    "90%": "p90",
    "95%": "p95",
    "98%": None,
    "99%": "p99",
    "99.9%": "p999",
    "99.99%": "p9999",
    "100%": "max",
}
LOCUST_STATS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *PERCENTILES,
]
OUR_STATS = ["Error Rate", "Errors"]
LOCUST_HISTORY = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *PERCENTILES,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
]
OUR_HISTORY = ["In Flight", "Errors", "Nodes Live"]
LOCUST_FAILURES = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
AGGREGATED = "Aggregated"  # Locust's name for the row of all requests

_METHOD = re.compile(r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) ")


def write_csv_files(prefix: str, results: dict[str, Any]) -> list[str]:
    """Write the three files for ``results``; returns their paths."""
    files = {
        f"{prefix}_stats.csv": [LOCUST_STATS + OUR_STATS, *_stats_rows(results)],
        f"{prefix}_history.csv": [LOCUST_HISTORY + OUR_HISTORY, *_history_rows(results)],
        f"{prefix}_failures.csv": [LOCUST_FAILURES, *_failure_rows(results)],
    }
    for path, rows in files.items():
        with Path(path).open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    return list(files)


def _stats_rows(results: dict[str, Any]) -> Iterable[list[Any]]:
    duration = results["duration_s"]
    for name, step in (results.get("steps") or {}).items():
        yield _stats_row(_method(name), name, step, duration, step["latency_ms"])
    # Locust's Aggregated row has every percentile: read them from the merged histogram.
    latency = dict(results["latency_ms"])
    if results.get("latency_hdr"):
        hist = HdrHistogram.decode(results["latency_hdr"])
        latency |= percentiles_ms(hist, ["p50", "p90", "p95", "p99", "p999", "p9999", "max"])
        latency |= {
            pct: hist.get_value_at_percentile(float(pct[:-1])) / 1000
            for pct, key in PERCENTILES.items()
            if key is None
        }
    yield _stats_row("", AGGREGATED, results, duration, latency)


def _stats_row(
    method: str, name: str, doc: dict[str, Any], duration: float, latency: dict[str, float]
) -> list[Any]:
    requests, failures = doc["requests_total"], doc["errors_total"]
    measured = requests > 0
    return [
        method,
        name,
        requests,
        failures,
        latency["p50"] if measured else 0,
        latency["mean"] if measured else 0,
        latency["min"] if measured else 0,
        latency["max"] if measured else 0,
        "",
        doc["rps"],
        round(failures / duration, 2) if duration > 0 else 0.0,
        *(_percentile(latency, pct, key, measured) for pct, key in PERCENTILES.items()),
        doc["error_rate"],
        _kinds(doc["errors"]),
    ]


def _percentile(latency: dict[str, float], pct: str, key: str | None, measured: bool) -> Any:
    if not measured:
        return "N/A"  # as Locust writes a row without requests
    value = latency.get(key) if key else latency.get(pct)
    return "" if value is None else round(value, 3)


def _history_rows(results: dict[str, Any]) -> Iterable[list[Any]]:
    """A row per timeline second, as Locust's Aggregated row each second; its Total
    columns are the run's up to that second."""
    timeline = results.get("timeline") or {}
    total = failed = 0
    worst = 0.0
    for point in timeline.get("points") or []:
        total += point["requests"]
        failed += point["errors_total"]
        latency = point["latency_ms"]
        worst = max(worst, latency["max"]) if latency else worst
        covered = point["requests"] / point["rps"] if point["rps"] else 1.0
        yield [
            int(datetime.strptime(point["time"], TIME_FORMAT).replace(tzinfo=UTC).timestamp()),
            "",
            "",
            AGGREGATED,
            point["rps"],
            round(point["errors_total"] / covered, 2),
            *(
                ["" if key is None else latency.get(key, "") for key in PERCENTILES.values()]
                if latency is not None
                else ["N/A"] * len(PERCENTILES)
            ),
            total,
            failed,
            "",
            "",
            "",
            worst,
            "",
            point["in_flight"],
            _kinds(point["errors"]),
            point.get("nodes_live", ""),
        ]


def _failure_rows(results: dict[str, Any]) -> Iterable[list[Any]]:
    seen = _kinds_seen(results)
    steps = results.get("steps") or {}
    for name, step in steps.items():
        for kind, count in step["errors"].items():
            if count:
                first, last = seen.get(kind, ("", ""))
                yield [_method(name), name, kind, count, first, last]


def _kinds_seen(results: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each error kind's first and last second in the timeline (over every step)."""
    seen: dict[str, tuple[str, str]] = {}
    for point in (results.get("timeline") or {}).get("points") or []:
        for kind in point["errors"]:
            first = seen.get(kind, (point["time"], ""))[0]
            seen[kind] = (first, point["time"])
    return seen


def _method(step_name: str) -> str:
    """The HTTP method of a step named by default (``scenario / METHOD path``), else ""."""
    found = _METHOD.match(step_name.split(" / ", 1)[-1])
    return found.group(1) if found else ""


def _kinds(errors: dict[str, int]) -> str:
    return ";".join(f"{kind}={n}" for kind, n in errors.items() if n)
