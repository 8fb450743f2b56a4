"""The one live progress line shown while a test runs.

On a terminal the line is redrawn in place on every update; anywhere else (CI logs,
pipes) a plain line is printed at most every ``PLAIN_INTERVAL_S`` so logs stay short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from loadtest_supervisor.metrics.stats import MergedStats

PLAIN_INTERVAL_S = 5.0


def _clock(seconds: float, with_hours: bool) -> str:
    minutes, secs = divmod(int(seconds), 60)
    if with_hours:
        hours, minutes = divmod(minutes, 60)
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


@dataclass(frozen=True)
class LiveFigures:
    """What the line shows: cumulative counts, latency so far, and a note."""

    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    note: str = ""

    @classmethod
    def of(cls, totals: MergedStats, note: str = "") -> LiveFigures:
        """A run's merged totals on this machine, and what to say about them."""
        latency = totals.latency_ms()
        return cls(totals.requests, totals.errors_total, latency["p50"], latency["p99"], note)

    @classmethod
    def of_results(cls, document: dict[str, Any]) -> LiveFigures:
        """A cluster's results document, with its live nodes."""
        run = document["run"]
        return cls(
            document["requests_total"],
            document["errors_total"],
            document["latency_ms"]["p50"],
            document["latency_ms"]["p99"],
            f"nodes {run['nodes_live']}/{run['nodes_total']}  {run['state']}",
        )


class ProgressLine:
    def __init__(self, console: Console, total_s: float) -> None:
        self._console = console
        self._total_s = total_s
        self._with_hours = total_s >= 3600
        self._live: Live | None = None
        self._last_elapsed = 0.0
        self._last_requests = 0
        self._rate = 0.0
        self._line = ""
        self._line_printed = True
        self._printed_at = 0.0

    def start(self) -> None:
        if self._console.is_terminal:
            # No refresh thread: the line changes only when update() brings new numbers.
            self._live = Live(console=self._console, auto_refresh=False, transient=False)
            self._live.start()

    def update(self, elapsed_s: float, totals: LiveFigures) -> None:
        """Show cumulative ``totals`` at ``elapsed_s``; call about once a second."""
        interval = elapsed_s - self._last_elapsed
        if interval > 0:
            self._rate = (totals.requests - self._last_requests) / interval
            self._last_elapsed = elapsed_s
            self._last_requests = totals.requests
        self._line = self._format(elapsed_s, totals)
        self._line_printed = False
        if self._live is not None:
            self._live.update(Text(self._line), refresh=True)
        elif elapsed_s - self._printed_at >= PLAIN_INTERVAL_S:
            self._print_plain(elapsed_s)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        elif not self._line_printed:
            self._print_plain(self._last_elapsed)

    def _print_plain(self, elapsed_s: float) -> None:
        # Plain print: no markup, highlighting or wrapping that would garble log lines.
        self._console.print(self._line, markup=False, highlight=False, soft_wrap=True)
        self._printed_at = elapsed_s
        self._line_printed = True

    def _format(self, elapsed_s: float, totals: LiveFigures) -> str:
        error_pct = totals.errors / totals.requests * 100 if totals.requests else 0.0
        clock = f"{_clock(elapsed_s, self._with_hours)}/{_clock(self._total_s, self._with_hours)}"
        line = (
            f"{clock}  {totals.requests:,} requests  {self._rate:,.1f} req/s"
            f"  errors {error_pct:.2f}%  p50 {totals.p50_ms:,.2f} ms  p99 {totals.p99_ms:,.2f} ms"
        )
        return f"{line}  {totals.note}" if totals.note else line
