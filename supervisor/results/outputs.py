"""Where a finished run's results go besides the summary: ``--out`` JSON, ``--csv`` files
and the ``--report`` HTML page.

Standalone runs and ``submit --wait`` write them the same way. A path that cannot be
right (a missing directory) is refused before the run; a file that cannot be written
after it is said plainly (never a traceback), never stops the others, and makes the
run's exit code 3 when it had passed."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

from loadtest_supervisor.results.csv_files import write_csv_files
from loadtest_supervisor.results.json_file import write_results_json


def csv_prefix_problem(prefix: str) -> str | None:
    """Why ``--csv PREFIX`` cannot be written, checked before the run; None when it can."""
    directory = os.path.dirname(os.path.abspath(prefix))
    if not prefix or prefix.endswith(os.sep):
        return f"--csv {prefix!r}: give a file name prefix, e.g. results/run1"
    if not os.path.isdir(directory):
        return f"--csv {prefix!r}: directory {directory} does not exist"
    return None


def report_path_problem(path: str) -> str | None:
    """Why ``--report PATH`` cannot be written, checked before the run so that a long run
    does not end on a typo; None when it may be. What only writing can tell (a directory
    that refuses the file) is said after the run, with the results kept."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        example = os.path.join(path, "report.html")
        return f"--report {path!r}: is a directory; give a file name, e.g. {example}"
    if not os.path.isdir(directory):
        return f"--report {path!r}: directory {directory} does not exist"
    return None


def outputs_problem(csv: str | None, report: str | None) -> str | None:
    """Why the ``--csv`` or ``--report`` asked for cannot be written, before the run."""
    return (csv_prefix_problem(csv) if csv is not None else None) or (
        report_path_problem(report) if report is not None else None
    )


def write_outputs(
    console: Console,
    command: str,
    results: dict[str, Any],
    out: str | None,
    csv: str | None,
    report: str | None = None,
) -> bool:
    """Write ``results`` as asked: JSON to ``out``, CSV files by the prefix ``csv``, the
    HTML report to ``report``. One failing never stops the others, so a bad report path
    costs no results. False when a file could not be written."""
    written = True

    def cannot(path: str, exc: OSError, what: str = "") -> None:
        nonlocal written
        console.print(
            f"{command}: cannot write {what}{path}: {exc.strerror or exc}",
            highlight=False,
            soft_wrap=True,
        )
        written = False

    if out:
        try:
            write_results_json(out, results)
        except OSError as exc:
            cannot(out, exc)
    if csv:
        try:
            write_csv_files(csv, results)
        except OSError as exc:
            cannot(exc.filename or csv, exc)
    if report:
        # Imported only when asked for: a run without --report never loads the report code.
        from loadtest_supervisor.report.report_file import write_report

        try:
            write_report(report, results)
        except OSError as exc:
            cannot(report, exc, "the report to ")
        else:
            console.print(f"report written to {report}", highlight=False, soft_wrap=True)
    return written
