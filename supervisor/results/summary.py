"""The summary printed at the end of a run: a results document (``build_results``, or a
cluster's, which adds its nodes) as tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loadtest_supervisor.results.wording import latency_cell, pct, run_notes, threshold_actual


def _headline(results: dict[str, Any]) -> str:
    return (
        f"[bold]{results['requests_total']:,}[/] requests in {results['duration_s']:,.1f} s"
        f"  ·  [bold]{results['rps']:,.2f}[/] req/s"
        f"  ·  error rate [bold]{pct(results['error_rate'])}[/]"
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
        table.add_row(kind, f"{n:,}", pct(n / results["requests_total"]))
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
    table.add_row(*(latency_cell(results["latency_ms"], key) for _, key in columns))
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
            f"{step['errors_total']:,} ({pct(step['error_rate'])})",
            latency_cell(step["latency_ms"], "p50"),
            latency_cell(step["latency_ms"], "p99"),
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
            pct(node["share"]),
            f"{node['requests_total']:,}",
            f"{node['rps']:,.2f}",
            f"{node['errors_total']:,} ({pct(node['error_rate'])})",
            latency_cell(node["latency_ms"], "p50"),
            latency_cell(node["latency_ms"], "p99"),
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
        table.add_row(t["threshold"], threshold_actual(t["actual"]), verdict)
    return table


def print_summary(console: Console, results: dict[str, Any]) -> None:
    """Print the end-of-run summary of a results document (see ``build_results``)."""
    console.print()
    console.print(_headline(results))
    for note in run_notes(results):
        text = escape(note.text)
        console.print(f"  [yellow]{text}[/]" if note.warning else f"  {text}")
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
