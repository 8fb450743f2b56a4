"""What the browser tests read from an HTML report opened in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.browser import Browser

# Per chart: its id, whether it says it has nothing to draw, and each series' name and
# the number of points its path draws (M and L commands).
_CHARTS_JS = """
return [...document.querySelectorAll('figure.chart-box')].map(f => ({
  id: f.id,
  empty: f.classList.contains('empty'),
  reason: (f.querySelector('.no-data') || {}).textContent || null,
  series: [...f.querySelectorAll('path.series')].map(p => ({
    name: p.dataset.series,
    points: (p.getAttribute('d').match(/[ML]/g) || []).length,
  })),
}));
"""


def charts(browser: Browser) -> list[dict[str, Any]]:
    return browser.evaluate(_CHARTS_JS)


def open_offline(browser: Browser, report: Path) -> list[dict[str, Any]]:
    """Open ``report`` from disk and check it shows offline: no console error, no request
    but the file itself, every chart with points drawn. Returns its charts."""
    browser.open(report.as_uri())
    assert browser.evaluate("return document.readyState") == "complete"
    assert browser.console_errors() == []
    assert browser.requests() == [report.as_uri()]
    found = charts(browser)
    assert found, "the report has no chart"
    for chart in found:
        assert not chart["empty"], f"chart {chart['id']} has nothing to draw: {chart['reason']}"
        assert chart["series"], f"chart {chart['id']} has no series"
        for series in chart["series"]:
            assert series["points"] >= 1, f"{chart['id']}: series {series['name']} is empty"
    return found


def table_rows(browser: Browser, table_id: str) -> list[list[str]]:
    return browser.evaluate(
        "return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')]"
        ".map(r => [...r.cells].map(c => c.textContent))",
        table_id,
    )


# Every chart a cluster run's report draws (a standalone one has no node charts).
CLUSTER_CHARTS = {
    "throughput",
    "errors",
    "latency-over-time",
    "in-flight",
    "node-throughput",
    "nodes-live",
    "distribution",
    "node-distribution",
}
