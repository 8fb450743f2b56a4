"""The HTML report rendered from results documents, read as text: its size for a long run,
what it says without a timeline, and that its charts draw what the document holds.

The documents here are synthetic (tests/report/documents.py): a 1-hour timeline cannot
wait for a 1-hour run. The browser tests beside this one render real runs."""

from __future__ import annotations

import re

import pytest

from loadtest_supervisor.report.latency_distribution import (
    decode,
    nines,
    nines_label,
    percentile_curve,
)
from loadtest_supervisor.report.page import render_report
from loadtest_supervisor.report.svg_chart import PLOT_WIDTH, thin
from tests.report.documents import synthetic_results
from tests.report.report_page import CLUSTER_CHARTS

# HdrHistogram keeps 3 significant digits.
HDR = 1e-3


def series_points(html: str) -> dict[str, list[int]]:
    """Per chart id, the number of points each of its series draws."""
    found: dict[str, list[int]] = {}
    for chart_id, body in re.findall(
        r'<figure class="chart-box" id="([^"]+)">(.*?)</figure>', html
    ):
        found[chart_id] = [int(n) for n in re.findall(r'data-points="(\d+)"', body)]
    return found


def test_a_one_hour_cluster_report_stays_under_2_mb_and_draws_every_chart() -> None:
    # Synthetic: 3,600 timeline points, three nodes, four events (see documents.py).
    results = synthetic_results(3600, cluster=True)
    assert len(results["timeline"]["points"]) == 3600
    html = render_report(results)
    size = len(html.encode())
    assert size < 2_000_000, f"{size:,} bytes"
    drawn = series_points(html)
    assert set(drawn) == CLUSTER_CHARTS
    for chart_id, points in drawn.items():
        assert points and all(n > 0 for n in points), (chart_id, points)
        # Thinned to the plot's width: two points per pixel column, two more per gap
        # (the latency lines break 12 times).
        assert all(n <= 2 * PLOT_WIDTH + 2 * 13 for n in points), (chart_id, points)
    assert "no timeline" not in html
    # Each event is marked on every time chart (six of them).
    assert html.count('class="marker node_lost"') == 6
    assert html.count('class="marker leader_changed"') == 12
    assert "node-c lost" in html and "leader node-b (term 3)" in html


def test_a_document_without_a_timeline_still_renders_and_says_so() -> None:
    results = synthetic_results(20)
    del results["timeline"]
    html = render_report(results)
    assert html.count("no timeline") == 3  # throughput, errors, latency over time
    assert 'id="verdict">PASSED<' in html
    (points,) = series_points(html)["distribution"]  # all requests: steps carry no histogram
    assert points > 10
    assert "p99 &lt; 500ms" in html  # the thresholds table


def test_a_report_has_no_script_and_allows_no_fetch() -> None:
    results = synthetic_results(20, cluster=True)
    results["target"] = "http://x/<script>alert(1)</script>"
    results["nodes"]["<b>odd</b>"] = results["nodes"]["node-a"]
    html = render_report(results)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;odd" in html
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_the_percentile_curve_reads_the_documents_histogram() -> None:
    results = synthetic_results(20)
    hist = decode(results["latency_hdr"])
    assert hist is not None
    curve = dict(percentile_curve(hist, 4.0))
    latency = results["latency_ms"]
    for key, x in (("p90", 1.0), ("p99", 2.0), ("p999", 3.0)):
        assert curve[x] == pytest.approx(latency[key], rel=HDR), key
    ys = [y for _, y in sorted(curve.items())]
    assert ys == sorted(ys)
    assert curve[4.0] == pytest.approx(latency["max"], rel=HDR)
    assert curve[0.0] == pytest.approx(latency["min"], rel=HDR)


def test_percentile_axis_labels() -> None:
    assert [nines_label(n) for n in range(5)] == ["0%", "90%", "99%", "99.9%", "99.99%"]
    assert nines(99.9) == pytest.approx(3)


def test_unreadable_or_empty_histograms_draw_nothing() -> None:
    assert decode(None) is None and decode("") is None and decode("not base64!") is None


def test_thinning_keeps_a_one_second_spike_and_the_gaps() -> None:
    points: list[tuple[float, float | None]] = [(float(t), 5.0) for t in range(3600)]
    points[1234] = (1234.0, 500.0)
    points[2000] = (2000.0, None)
    kept = thin(points, 100)
    assert len(kept) <= 2 * 100 + 3
    assert max(y for _, y in kept if y is not None) == 500.0
    assert sum(1 for _, y in kept if y is None) == 1
    assert [x for x, _ in kept] == sorted(x for x, _ in kept)


def test_a_second_without_samples_breaks_the_latency_line() -> None:
    results = synthetic_results(20)
    results["timeline"]["points"][9]["latency_ms"] = None
    html = render_report(results)
    latency = re.search(r'id="latency-over-time">(.*?)</figure>', html).group(1)
    p99 = re.search(r'data-series="p99" data-points="(\d+)"[^>]*d="([^"]+)"', latency)
    assert int(p99.group(1)) == 19
    assert p99.group(2).count("M") == 2


def test_a_run_that_recorded_no_latency_still_renders() -> None:
    # A target that was down: no histogram, and no second with a sample.
    results = synthetic_results(3)
    results["latency_hdr"] = None
    for point in results["timeline"]["points"]:
        point["latency_ms"] = None
    html = render_report(results)
    assert "no latency was recorded in this run" in html
    assert series_points(html)["latency-over-time"] == [0, 0, 0, 0]
