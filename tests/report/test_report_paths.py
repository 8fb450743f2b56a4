"""A report that cannot be written is said plainly, and costs no results: the summary is
printed and ``--out`` written all the same; the exit code says something went wrong."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from loadtest_supervisor.exit_codes import ExitCode
from loadtest_supervisor.results.outputs import write_outputs
from tests.engine.cli import cli_path, run_cli
from tests.report.documents import synthetic_results
from tests.services import HttpTarget

# sysfs takes no new file from anyone, root included (the tests run as root, whom a
# chmod'ed directory would not stop).
UNWRITABLE_DIR = Path("/sys")


def test_a_run_whose_report_cannot_be_written_keeps_its_results(
    http_target: HttpTarget, tmp_path: Path
) -> None:
    report = UNWRITABLE_DIR / "loadtest-report.html"
    out = tmp_path / "results.json"
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": "40",
        "TEST_DURATION": "2s",
    }
    proc, results = run_cli(
        ["--workers", "1", "--out", str(out), "--report", str(report)], env, tmp_path=tmp_path
    )
    assert proc.returncode == ExitCode.CANNOT_RUN, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert (
        f"loadtest-supervisor: cannot write the report to {report}: Permission denied"
        in proc.stdout
    )
    assert "PASSED" in proc.stdout  # the summary, printed before
    assert results is not None and results["requests_total"] > 0  # --out, written
    assert not report.exists()


@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("missing-dir/report.html", "No such file or directory"),
        ("a-file/report.html", "Not a directory"),
        (".", "Is a directory"),
    ],
)
def test_each_bad_report_path_is_named_with_its_reason(
    tmp_path: Path, where: str, why: str
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    report = tmp_path / where
    out = tmp_path / "results.json"
    console = Console(record=True, width=80)
    results = synthetic_results(5)
    assert not write_outputs(console, "loadtest-supervisor", results, str(out), None, str(report))
    said = console.export_text()
    assert f"loadtest-supervisor: cannot write the report to {report}: {why}" in said
    assert json.loads(out.read_text())["requests_total"] == results["requests_total"]
    # No half-written file is left behind where it was refused.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "results.json"]


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ("missing-dir/report.html", "directory {tmp}/missing-dir does not exist"),
        ("", "is a directory; give a file name, e.g. {tmp}/report.html"),
    ],
)
def test_a_report_path_that_cannot_be_right_stops_before_the_run(
    tmp_path: Path, where: str, said: str
) -> None:
    report = f"{tmp_path}/{where}" if where else str(tmp_path)
    # Nothing listens on port 9: a run that started would fail differently (exit 1).
    env = {"TARGET_URL": "http://127.0.0.1:9/", "TEST_DURATION": "1s"}
    proc, results = run_cli(
        ["--workers", "1", "--report", report], env, tmp_path=tmp_path, expect_results=False
    )
    assert proc.returncode == ExitCode.CONFIG, proc.stdout + proc.stderr
    assert f"loadtest-supervisor: --report {report!r}: {said.format(tmp=tmp_path)}" in proc.stderr
    assert results is None and "requests" not in proc.stdout
    plan = tmp_path / "plan.yaml"
    plan.write_text("target: {url: 'http://127.0.0.1:9/'}\n")
    submitted = subprocess.run(
        [str(cli_path()), "submit", "--cluster", "http://127.0.0.1:9", str(plan), "--wait"]
        + ["--report", report],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert submitted.returncode == ExitCode.CONFIG
    assert f"loadtest-supervisor submit: --report {report!r}: " in submitted.stderr
    assert "Traceback" not in submitted.stderr


def test_submit_takes_report_only_with_wait(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("target: {url: 'http://127.0.0.1:9/'}\n")
    done = subprocess.run(
        [str(cli_path()), "submit", "--cluster", "http://127.0.0.1:9", str(plan)]
        + ["--report", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == ExitCode.CONFIG
    assert "loadtest-supervisor submit: --report needs --wait" in done.stderr
    assert "Traceback" not in done.stderr
