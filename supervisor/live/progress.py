"""The one live progress line shown while a test runs.

On a terminal the line is redrawn in place on every update; anywhere else (CI logs,
pipes) a plain line is printed at most every ``PLAIN_INTERVAL_S`` so logs stay short.
"""

from __future__ import annotations

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

    def update(self, elapsed_s: float, totals: MergedStats) -> None:
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

    def _format(self, elapsed_s: float, totals: MergedStats) -> str:
        hist = totals.histogram
        if hist.get_total_count():
            # One pass over the histogram for both percentiles keeps this cheap.
            at = hist.get_percentile_to_value_dict([50, 99])
            p50, p99 = at[50] / 1000, at[99] / 1000
        else:
            p50 = p99 = 0.0
        error_pct = totals.errors_total / totals.requests * 100 if totals.requests else 0.0
        clock = f"{_clock(elapsed_s, self._with_hours)}/{_clock(self._total_s, self._with_hours)}"
        return (
            f"{clock}  {totals.requests:,} requests  {self._rate:,.1f} req/s"
            f"  errors {error_pct:.2f}%  p50 {p50:,.2f} ms  p99 {p99:,.2f} ms"
        )
