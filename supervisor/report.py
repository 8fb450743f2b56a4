"""The results document of a run, its JSON file, and the summary printed at the end.

``build_results`` is the one place that turns merged statistics into numbers users see:
the summary, ``--out results.json`` and the ``/results`` API all show its output.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import ERROR_KINDS, MergedStats
from rich.console import Console
from rich.table import Table


def _latency_ms(stats: MergedStats) -> dict[str, float]:
    return {key: round(ms, 3) for key, ms in stats.latency_ms().items()}


def _errors(stats: MergedStats) -> dict[str, int]:
    """Every kind in ERROR_KINDS order, zeros included."""
    errors = {kind: stats.errors.get(kind, 0) for kind in ERROR_KINDS}
    # A kind outside ERROR_KINDS still counts in errors_total, so it is listed too.
    errors.update({kind: stats.errors[kind] for kind in sorted(stats.errors) if kind not in errors})
    return errors


def _status_codes(stats: MergedStats) -> dict[str, int]:
    return {str(code): stats.status[code] for code in sorted(stats.status)}


def _error_rate(errors: int, requests: int) -> float:
    return round(errors / requests, 6) if requests else 0.0


def _rps(requests: int, duration_s: float) -> float:
    return round(requests / duration_s, 2) if duration_s > 0 else 0.0


def _step_results(stats: MergedStats, duration_s: float) -> dict[str, Any]:
    return {
        "requests_total": stats.requests,
        "errors_total": stats.errors_total,
        "error_rate": _error_rate(stats.errors_total, stats.requests),
        "rps": _rps(stats.requests, duration_s),
        "latency_ms": _latency_ms(stats),
        "status_codes": _status_codes(stats),
        "errors": {kind: n for kind, n in _errors(stats).items() if n},
    }


def build_results(
    totals: RunTotals,
    duration_s: float,
    *,
    target: str,
    load_model: str,
    worker_restarts: int,
    interrupted: bool,
) -> dict[str, Any]:
    """The results document: a public contract, also written by ``--out``."""
    total = totals.total()
    return {
        "requests_total": total.requests,
        "errors_total": total.errors_total,
        "error_rate": _error_rate(total.errors_total, total.requests),
        "rps": _rps(total.requests, duration_s),
        "duration_s": round(duration_s, 3),
        "latency_ms": _latency_ms(total),
        "status_codes": _status_codes(total),
        "errors": _errors(total),
        "dropped_iterations": totals.counter("dropped"),
        "worker_restarts": worker_restarts,
        "interrupted": interrupted,
        "target": target,
        "load_model": load_model,
        "steps": {name: _step_results(s, duration_s) for name, s in totals.steps().items()},
    }


def write_results_json(path: str, results: dict[str, Any]) -> None:
    """Write ``results`` so that readers see the old file or the new one, never half of it."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".results-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # mkstemp creates files readable by the owner only; results are not secret.
            os.fchmod(f.fileno(), 0o644)
            json.dump(results, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def _ms(value: float) -> str:
    return f"{value:,.3f} ms"


def _latency_cell(latency_ms: dict[str, float], key: str) -> str:
    # Connect, TLS and closed failures record no latency; a run of nothing else has an
    # empty histogram, whose zeros must not read as "0 ms fast". Any recorded request
    # took at least 1 µs, so max == 0 means no sample.
    return "–" if latency_ms["max"] == 0 else _ms(latency_ms[key])


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _headline(results: dict[str, Any]) -> str:
    return (
        f"[bold]{results['requests_total']:,}[/] requests in {results['duration_s']:,.1f} s"
        f"  ·  [bold]{results['rps']:,.2f}[/] req/s"
        f"  ·  error rate [bold]{_pct(results['error_rate'])}[/]"
    )


def _errors_table(results: dict[str, Any]) -> Table | str:
    errors = {kind: n for kind, n in results["errors"].items() if n}
    if not errors:
        return "Errors: no errors"
    table = Table(title="Errors", title_justify="left")
    table.add_column("kind")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    for kind, n in errors.items():
        table.add_row(kind, f"{n:,}", _pct(n / results["requests_total"]))
    return table


def _status_table(results: dict[str, Any]) -> Table | str:
    if not results["status_codes"]:
        return "Status codes: no responses"
    table = Table(title="Status codes", title_justify="left")
    table.add_column("code")
    table.add_column("count", justify="right")
    for code, n in results["status_codes"].items():
        table.add_row(code, f"{n:,}")
    return table


def _latency_table(results: dict[str, Any]) -> Table:
    columns = (
        ("min", "min"),
        ("p50", "p50"),
        ("p90", "p90"),
        ("p99", "p99"),
        ("p99.9", "p999"),
        ("p99.99", "p9999"),
        ("max", "max"),
    )
    table = Table(title="Latency", title_justify="left")
    for label, _ in columns:
        table.add_column(label, justify="right")
    table.add_row(*(_latency_cell(results["latency_ms"], key) for _, key in columns))
    return table


def _steps_table(steps: dict[str, Any]) -> Table:
    table = Table(title="Steps", title_justify="left")
    table.add_column("step")
    for label in ("requests", "req/s", "errors", "p50", "p99"):
        table.add_column(label, justify="right")
    for name, step in steps.items():
        table.add_row(
            name,
            f"{step['requests_total']:,}",
            f"{step['rps']:,.2f}",
            f"{step['errors_total']:,} ({_pct(step['error_rate'])})",
            _latency_cell(step["latency_ms"], "p50"),
            _latency_cell(step["latency_ms"], "p99"),
        )
    return table


def _thresholds_table(thresholds: list[dict[str, Any]]) -> Table:
    table = Table(title="Thresholds", title_justify="left")
    table.add_column("threshold")
    table.add_column("actual", justify="right")
    table.add_column("result")
    for t in thresholds:
        verdict = "[green]PASS[/]" if t["passed"] else "[red]FAIL[/]"
        table.add_row(t["threshold"], f"{t['actual']:,.3f}", verdict)
    return table


def print_summary(console: Console, results: dict[str, Any]) -> None:
    """Print the end-of-run summary of a results document (see ``build_results``)."""
    console.print()
    console.print(_headline(results))
    notes = []
    if results.get("interrupted"):
        notes.append("[yellow]interrupted before the planned end[/]")
    if results.get("dropped_iterations"):
        notes.append(
            f"{results['dropped_iterations']:,} iterations dropped (load generator behind)"
        )
    if results.get("worker_restarts"):
        notes.append(f"{results['worker_restarts']:,} worker restarts")
    for note in notes:
        console.print(f"  {note}")
    console.print(_errors_table(results))
    console.print(_status_table(results))
    console.print(_latency_table(results))
    # Steps exist only for scenario runs; a plain single-URL run leaves them empty.
    if results.get("steps"):
        console.print(_steps_table(results["steps"]))
    if results.get("thresholds"):
        console.print(_thresholds_table(results["thresholds"]))
    if "passed" in results:
        for reason in results.get("failures", []):
            console.print(f"  [red]failed:[/] {reason}")
        console.print("[bold green]PASSED[/]" if results["passed"] else "[bold red]FAILED[/]")
