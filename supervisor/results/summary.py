"""The summary printed at the end of a run: a results document (``build_results``, or a
cluster's, which adds its nodes) as tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtest_supervisor.engine.saturation import SATURATED_HINT


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


def _nodes_table(nodes: dict[str, Any]) -> Table:
    table = Table(title="Nodes", title_justify="left")
    table.add_column("node")
    table.add_column("state")
    for label in ("share", "requests", "req/s", "errors", "p50", "p99", "late"):
        table.add_column(label, justify="right")
    for node_id, node in nodes.items():
        table.add_row(
            node_id,
            node["state"],
            _pct(node["share"]),
            f"{node['requests_total']:,}",
            f"{node['rps']:,.2f}",
            f"{node['errors_total']:,} ({_pct(node['error_rate'])})",
            _latency_cell(node["latency_ms"], "p50"),
            _latency_cell(node["latency_ms"], "p99"),
            f"{node['late_s']:,.1f} s" if node["late_s"] else "–",
        )
    return table


def _thresholds_table(thresholds: list[dict[str, Any]]) -> Table:
    table = Table(title="Thresholds", title_justify="left")
    table.add_column("threshold")
    table.add_column("actual", justify="right")
    table.add_column("result")
    for t in thresholds:
        verdict = "[green]PASS[/]" if t["passed"] else "[red]FAIL[/]"
        actual = "–" if t["actual"] is None else f"{t['actual']:,.3f}"
        table.add_row(t["threshold"], actual, verdict)
    return table


# Why arrivals were dropped, and what to do about it (``RunTotals.dropped_by_cause``).
_DROP_CAUSES = {
    "connections_busy": "connections busy: the target is slow (raise concurrency or accept it)",
    "generator_saturated": f"generator saturated ({SATURATED_HINT})",
    "unknown": "cause not reported",
}


def _dropped_note(results: dict[str, Any]) -> str:
    causes = results.get("dropped_by_cause") or {"unknown": results["dropped_iterations"]}
    said = [f"{n:,} {_DROP_CAUSES.get(cause, cause)}" for cause, n in causes.items() if n]
    return f"{results['dropped_iterations']:,} iterations dropped: {'; '.join(said)}"


def print_summary(console: Console, results: dict[str, Any]) -> None:
    """Print the end-of-run summary of a results document (see ``build_results``)."""
    console.print()
    console.print(_headline(results))
    notes = []
    if results.get("interrupted"):
        notes.append("[yellow]interrupted before the planned end[/]")
    if results.get("dropped_iterations"):
        notes.append(_dropped_note(results))
    saturated = results.get("generator_saturated")
    if saturated:
        notes.append(
            f"[yellow]{SATURATED_HINT}[/]: {saturated['workers']:,} worker(s) for up to "
            f"{saturated['saturated_s']:,.1f} s from {saturated['first_at_s']:,.1f} s "
            f"(peak cpu {saturated['peak_cpu']:.0%} used, {saturated['peak_cpu_wait']:.0%} "
            f"waited for; loop lag {saturated['peak_loop_lag_ms']:,.0f} ms)"
        )
    if results.get("worker_restarts"):
        notes.append(f"{results['worker_restarts']:,} worker restarts")
    for lost in results.get("nodes_lost", ()):
        at = datetime.fromtimestamp(lost["at"], UTC).strftime("%H:%M:%S")
        notes.append(f"[yellow]node {lost['node_id']} lost at {at} UTC[/] (its last report kept)")
    for note in notes:
        console.print(f"  {note}")
    console.print(_errors_table(results))
    console.print(_status_table(results))
    console.print(_latency_table(results))
    # Steps exist only for scenario runs; a plain single-URL run leaves them empty.
    if results.get("steps"):
        console.print(_steps_table(results["steps"]))
    if results.get("nodes"):
        console.print(_nodes_table(results["nodes"]))
    if results.get("thresholds"):
        console.print(_thresholds_table(results["thresholds"]))
    for reason in results["failures"]:
        console.print(f"  [red]failed:[/] {reason}")
    console.print("[bold green]PASSED[/]" if results["passed"] else "[bold red]FAILED[/]")
