"""Where a finished run's results go besides the summary: ``--out`` JSON, ``--csv`` files.

Standalone runs and ``submit --wait`` write them the same way; a file that cannot be
written is said plainly (never a traceback) and makes the run's exit code 3 when it had
passed."""

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


def write_outputs(
    console: Console, command: str, results: dict[str, Any], out: str | None, csv: str | None
) -> bool:
    """Write ``results`` as asked; False when a file could not be written."""
    written = True
    if out:
        try:
            write_results_json(out, results)
        except OSError as exc:
            console.print(f"{command}: cannot write {out}: {exc.strerror or exc}")
            written = False
    if csv:
        try:
            write_csv_files(csv, results)
        except OSError as exc:
            console.print(f"{command}: cannot write {exc.filename or csv}: {exc.strerror or exc}")
            written = False
    return written
