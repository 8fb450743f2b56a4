"""``--csv PREFIX``: the results as the CSV files Locust writes, checked against the files
Locust itself writes for the same kind of run (a GET that succeeds and one that fails,
against the same target, for a few seconds)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from loadtest_supervisor.results.csv_files import OUR_HISTORY, OUR_STATS
from tests.engine.cli import run_cli

SECONDS = 4

LOCUSTFILE = """
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task(9)
    def home(self):
        self.client.get("/")

    @task(1)
    def broken(self):
        self.client.get("/status/500")
"""

PLAN = """
target: {{url: "{url}"}}
load: {{model: Rps, target_rps: 100, duration: {seconds}s, concurrency: 8, workers: 1}}
scenarios:
  - name: visit
    steps:
      - {{method: GET, path: /}}
      - {{method: GET, path: /status/500}}
"""


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def _locust_csv(url: str, tmp_path: Path) -> Path:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = tmp_path / "locust"
    locust = Path(sys.executable).parent / "locust"
    done = subprocess.run(
        [
            str(locust),
            "-f",
            str(locustfile),
            "--headless",
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--run-time",
            f"{SECONDS}s",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--only-summary",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Locust exits 1 when any request failed, which this run's /status/500 does.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return prefix


def test_our_csv_files_have_locusts_columns_in_locusts_order(http_target, tmp_path: Path):
    locust = _locust_csv(http_target.url, tmp_path)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(url=http_target.url, seconds=SECONDS))
    ours = tmp_path / "ours"
    proc, results = run_cli(
        ["--config", str(plan), "--csv", str(ours)], tmp_path=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr

    # Locust names its history file PREFIX_stats_history.csv; the issue names ours.
    pairs = (("stats", "stats", OUR_STATS), ("history", "stats_history", OUR_HISTORY))
    for kind, locust_kind, extra in (*pairs, ("failures", "failures", [])):
        theirs = _rows(Path(f"{locust}_{locust_kind}.csv"))
        mine = _rows(Path(f"{ours}_{kind}.csv"))
        # Locust's header first, name for name and in its order; ours after it.
        assert mine[0] == theirs[0] + extra, (kind, mine[0], theirs[0])
        width = len(mine[0])
        assert all(len(row) == width for row in mine), kind

    theirs_stats, mine_stats = _rows(Path(f"{locust}_stats.csv")), _rows(Path(f"{ours}_stats.csv"))
    # Both end with the Aggregated row (Type empty), after a row per request name.
    assert theirs_stats[-1][:2] == mine_stats[-1][:2] == ["", "Aggregated"]
    by_name = {row[1]: dict(zip(mine_stats[0], row, strict=True)) for row in mine_stats[1:]}
    assert int(by_name["Aggregated"]["Request Count"]) == results["requests_total"]
    failing = by_name["visit / GET /status/500"]
    assert failing["Type"] == "GET"
    assert int(failing["Failure Count"]) == int(failing["Request Count"]) > 0
    assert float(by_name["Aggregated"]["99%"]) == results["latency_ms"]["p99"]

    # History: a row per second of the run, Locust's Aggregated row each, totals growing.
    history = [
        dict(zip(r[0], row, strict=True))
        for r in [_rows(Path(f"{ours}_history.csv"))]
        for row in r[1:]
    ]
    assert len(history) == len(results["timeline"]["points"]) == SECONDS
    assert [int(row["Timestamp"]) for row in history] == sorted(
        {int(row["Timestamp"]) for row in history}
    )
    assert all(row["Name"] == "Aggregated" for row in history)
    assert int(history[-1]["Total Request Count"]) == results["requests_total"]
    theirs_history = _rows(Path(f"{locust}_stats_history.csv"))
    assert theirs_history[1][3] == "Aggregated"  # the same row Locust writes each second

    # Failures: a row per request name and error, as Locust's.
    failures = [
        dict(zip(r[0], row, strict=True))
        for r in [_rows(Path(f"{ours}_failures.csv"))]
        for row in r[1:]
    ]
    assert [(f["Method"], f["Name"], f["Error"]) for f in failures] == [
        ("GET", "visit / GET /status/500", "http_5xx")
    ]
    assert int(failures[0]["Occurrences"]) == results["errors"]["http_5xx"]
    assert failures[0]["First Seen"] <= failures[0]["Last Seen"]
    theirs_failures = _rows(Path(f"{locust}_failures.csv"))
    assert theirs_failures[1][:2] == ["GET", "/status/500"]


def test_a_csv_prefix_in_a_missing_directory_is_a_usage_error(tmp_path: Path):
    proc, _ = run_cli(
        ["--csv", str(tmp_path / "missing" / "run")],
        {"TARGET_URL": "http://127.0.0.1:9/", "TEST_DURATION": "1s"},
        tmp_path=tmp_path,
        expect_results=False,
    )
    assert proc.returncode == 2
    assert "--csv" in proc.stderr and "does not exist" in proc.stderr
