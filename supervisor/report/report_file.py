"""The HTML report as a file (``--report``)."""

from __future__ import annotations

from typing import Any

from loadtest_supervisor.report.page import render_report
from loadtest_supervisor.results.atomic_file import write_atomically


def write_report(path: str, results: dict[str, Any]) -> None:
    """Render the report of ``results`` and write it whole to ``path``; raises OSError
    when ``path`` cannot be written."""
    write_atomically(path, render_report(results))
