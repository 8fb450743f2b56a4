"""The HTML report of a results document: one self-contained page.

Everything is inside the file: the style sheet is inlined and the charts are inline SVG
drawn in Python, with no script at all. Its Content-Security-Policy forbids every fetch,
so the page shows the same from an artifact store, an e-mail or a machine offline, and
can never call home.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from importlib.resources import files
from typing import Any

from loadtest_supervisor import __version__
from loadtest_supervisor.report import tables
from loadtest_supervisor.report.distribution_charts import distribution_charts
from loadtest_supervisor.report.timeline_charts import timeline_charts

# Inline styles only; no image, font, script, frame or connection of any kind.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{body}</section>'


def render_report(results: dict[str, Any], generated_at: datetime | None = None) -> str:
    """The report of ``results`` (a standalone or a cluster results document) as HTML."""
    generated = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    target = str(results.get("target") or "")
    title = f"Load test report: {target}" if target else "Load test report"
    sections = [
        _section("summary", "Summary", tables.summary(results)),
        _section("thresholds", "Thresholds", tables.thresholds(results)),
        _section("over-time", "Over time", "".join(timeline_charts(results))),
        _section(
            "distribution-section", "Latency distribution", "".join(distribution_charts(results))
        ),
        _section("steps", "Steps", tables.steps(results)),
    ]
    if results.get("nodes"):
        sections.append(_section("nodes", "Nodes", tables.nodes(results)))
        sections.append(_section("events", "Cluster events", tables.events(results)))
    style = files("loadtest_supervisor.report").joinpath("report.css").read_text("utf-8")
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{style}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="sub">generated {generated} by loadtest-supervisor {escape(__version__)}</p>'
        + "".join(sections)
        + "<footer>Charts are drawn from the results document's timeline and latency "
        "histograms; every figure is also in its JSON (--out).</footer>"
        "</body></html>\n"
    )
