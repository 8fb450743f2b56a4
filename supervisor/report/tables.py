"""The report's tables, as HTML: the summary, thresholds, steps, nodes and events, in the
words of the terminal summary (``results.wording``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from loadtest_supervisor.results.wording import latency_cell, pct, run_notes, threshold_actual

_LATENCY_COLUMNS = (
    ("min", "min"),
    ("mean", "mean"),
    ("p50", "p50"),
    ("p90", "p90"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("p99.9", "p999"),
    ("p99.99", "p9999"),
    ("max", "max"),
)


def table(
    table_id: str, headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1
) -> str:
    """An HTML table; cells are escaped here. Columns from ``numeric_from`` on are
    right-aligned figures."""

    def cells(tag: str, row: Sequence[str]) -> str:
        return "".join(
            f"<{tag}{' class=num' if i >= numeric_from else ''}>{escape(str(c))}</{tag}>"
            for i, c in enumerate(row)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (
        f'<table id="{escape(table_id)}"><thead><tr>{cells("th", headers)}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "–"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def summary(results: dict[str, Any]) -> str:
    """The verdict, the headline figures, what qualifies them, latency, errors and status
    codes."""
    verdict = "PASSED" if results["passed"] else "FAILED"
    facts = [
        ("requests", f"{results['requests_total']:,}"),
        ("duration", f"{results['duration_s']:,.1f} s"),
        ("throughput", f"{results['rps']:,.2f} req/s"),
        ("error rate", pct(results["error_rate"])),
        ("target", str(results.get("target", "–"))),
        ("load model", str(results.get("load_model", "–"))),
    ]
    run = results.get("run")
    if run:
        facts += [
            ("run", f"{run['run_id']} ({run['state']})"),
            ("started", _when(run.get("start_at"))),
            ("nodes", f"{run.get('nodes_live', '–')} live of {run.get('nodes_total', '–')}"),
        ]
    parts = [
        f'<p class="verdict {verdict.lower()}" id="verdict">{verdict}</p>',
        '<dl class="facts">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
        + "</dl>",
    ]
    notes = run_notes(results)
    if notes:
        parts.append(
            '<ul class="notes">'
            + "".join(
                f"<li{' class=warning' if n.warning else ''}>{escape(n.text)}</li>" for n in notes
            )
            + "</ul>"
        )
    parts.append("<h3>Latency</h3>")
    latency = results["latency_ms"]
    parts.append(
        table(
            "latency",
            [label for label, _ in _LATENCY_COLUMNS],
            [[latency_cell(latency, key) for _, key in _LATENCY_COLUMNS]],
            numeric_from=0,
        )
    )
    errors = {kind: n for kind, n in results["errors"].items() if n}
    parts.append("<h3>Errors</h3>")
    parts.append(
        table(
            "errors-table",
            ["kind", "count", "share"],
            [[kind, f"{n:,}", pct(n / results["requests_total"])] for kind, n in errors.items()],
        )
        if errors
        else "<p>no errors</p>"
    )
    parts.append("<h3>Status codes</h3>")
    codes = results["status_codes"]
    parts.append(
        table("status-codes", ["code", "count"], [[c, f"{n:,}"] for c, n in codes.items()])
        if codes
        else "<p>no responses</p>"
    )
    return "".join(parts)


def thresholds(results: dict[str, Any]) -> str:
    checked = results.get("thresholds") or []
    parts = []
    if checked:
        rows = [
            [t["threshold"], threshold_actual(t["actual"]), "PASS" if t["passed"] else "FAIL"]
            for t in checked
        ]
        parts.append(table("thresholds-table", ["threshold", "actual", "result"], rows))
    else:
        parts.append("<p>the plan sets no thresholds</p>")
    if results["failures"]:
        parts.append(
            '<ul class="failures">'
            + "".join(f"<li>failed: {escape(reason)}</li>" for reason in results["failures"])
            + "</ul>"
        )
    return "".join(parts)


def steps(results: dict[str, Any]) -> str:
    named = results.get("steps") or {}
    if not named:
        return "<p>one request per iteration: no scenario steps</p>"
    rows = [
        [
            name,
            f"{step['requests_total']:,}",
            f"{step['rps']:,.2f}",
            f"{step['errors_total']:,}",
            pct(step["error_rate"]),
            *(latency_cell(step["latency_ms"], key) for key in ("p50", "p90", "p99", "max")),
        ]
        for name, step in named.items()
    ]
    headers = ["step", "requests", "req/s", "errors", "error rate", "p50", "p90", "p99", "max"]
    return table("steps-table", headers, rows)


def nodes(results: dict[str, Any]) -> str:
    rows = [
        [
            node_id,
            node.get("state", "–"),
            pct(node["share"]) if "share" in node else "–",
            f"{node['requests_total']:,}",
            f"{node['rps']:,.2f}",
            f"{node['errors_total']:,}",
            pct(node["error_rate"]),
            *(latency_cell(node["latency_ms"], key) for key in ("p50", "p90", "p99", "max")),
            f"{node['late_s']:,.1f} s" if node.get("late_s") else "–",
        ]
        for node_id, node in (results.get("nodes") or {}).items()
    ]
    headers = [
        "node",
        "state",
        "share",
        "requests",
        "req/s",
        "errors",
        "error rate",
        "p50",
        "p90",
        "p99",
        "max",
        "late",
    ]
    return table("nodes-table", headers, rows, numeric_from=2)


def events(results: dict[str, Any]) -> str:
    listed = (results.get("timeline") or {}).get("events") or []
    if not listed:
        return "<p>no node joined, was lost or took the lead during the run</p>"
    rows = [
        [
            f"{event.get('t', 0):,.1f} s",
            event.get("time", "–"),
            event.get("kind", "–"),
            event.get("node", "–"),
            "–" if event.get("term") is None else str(event["term"]),
        ]
        for event in listed
    ]
    return table("events-table", ["at", "time", "event", "node", "term"], rows, numeric_from=5)
