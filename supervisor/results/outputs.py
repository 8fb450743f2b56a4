"""Where a finished run's results go besides the summary: ``--out`` (JSON) and
``--report`` (HTML), for a standalone run and for ``submit --wait`` alike."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

from loadtest_supervisor.results.json_file import write_results_json


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


def write_outputs(
    console: Console, results: dict[str, Any], out: str | None, report: str | None, prog: str
) -> bool:
    """Write the results JSON to ``out`` and the HTML report to ``report`` (each when
    given); say plainly which could not be written and why. One failing never stops the
    other, so a bad report path costs no results. True when everything asked was written."""
    written = True
    if out:
        try:
            write_results_json(out, results)
        except OSError as exc:
            console.print(
                f"{prog}: cannot write {out}: {exc.strerror or exc}",
                highlight=False,
                soft_wrap=True,
            )
            written = False
    if report:
        # Imported only when asked for: a run without --report never loads the report code.
        from loadtest_supervisor.report.report_file import write_report

        try:
            write_report(report, results)
        except OSError as exc:
            console.print(
                f"{prog}: cannot write the report to {report}: {exc.strerror or exc}",
                highlight=False,
                soft_wrap=True,
            )
            written = False
        else:
            console.print(f"report written to {report}", highlight=False, soft_wrap=True)
    return written
