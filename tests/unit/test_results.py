import json
import os
import random

import pytest
from hdrh.histogram import HdrHistogram
from rich.console import Console

from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.runner import RunOutcome
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import ERROR_KINDS, MergedStats, Stats
from loadtest_supervisor.results.document import build_results
from loadtest_supervisor.results.json_file import write_results_json
from loadtest_supervisor.results.summary import print_summary

# HdrHistogram keeps 3 significant digits: a percentile is exact to within 0.1%.
HDR = 1e-3


def stats_of(latencies_ms, status=200, error=None):
    stats = Stats()
    for ms in latencies_ms:
        stats.record(status, ms * 1000, error)
    return stats


def message(slot, incarnation, total, steps=None, dropped=0):
    return {
        "slot": slot,
        "incarnation": incarnation,
        "total": total.snapshot(),
        "steps": {name: s.snapshot() for name, s in (steps or {}).items()},
        "dropped": dropped,
    }


def results_of(
    totals,
    duration_s=10.0,
    *,
    worker_restarts=0,
    interrupted=False,
    load_model="Rps",
    thresholds=(),
):
    load = (
        {"model": load_model, "target_rps": 100} if load_model == "Rps" else {"model": load_model}
    )
    plan = TestPlan.model_validate(
        {"target": {"url": "http://svc.test/"}, "load": load, "thresholds": list(thresholds)}
    )
    return build_results(plan, RunOutcome(totals, duration_s, worker_restarts, interrupted))


def summary_text(results):
    console = Console(record=True, width=120)
    print_summary(console, results)
    return console.export_text()


def test_one_worker_exact_counts_and_percentiles():
    stats = stats_of(range(1, 101))
    totals = RunTotals()
    totals.update(message(0, 0, stats, dropped=3))

    r = results_of(totals, duration_s=8.0)

    assert r["requests_total"] == 100
    assert r["errors_total"] == 0
    assert r["error_rate"] == 0.0
    assert r["rps"] == 12.5
    assert r["duration_s"] == 8.0
    assert r["status_codes"] == {"200": 100}
    assert r["dropped_iterations"] == 3
    lat = r["latency_ms"]
    assert lat["min"] == pytest.approx(1.0, rel=HDR)
    assert lat["p50"] == pytest.approx(50.0, rel=HDR)
    assert lat["p90"] == pytest.approx(90.0, rel=HDR)
    assert lat["p95"] == pytest.approx(95.0, rel=HDR)
    assert lat["p99"] == pytest.approx(99.0, rel=HDR)
    assert lat["p999"] == pytest.approx(100.0, rel=HDR)
    assert lat["p9999"] == pytest.approx(100.0, rel=HDR)
    assert lat["max"] == pytest.approx(100.0, rel=HDR)
    assert lat["mean"] == pytest.approx(50.5, rel=HDR)


def test_two_workers_merge_counts_and_histograms():
    fast = stats_of([1] * 900)
    slow = stats_of([100] * 90)
    for _ in range(10):
        slow.record(503, 200_000, "http_5xx")
    totals = RunTotals()
    totals.update(message(0, 0, fast))
    totals.update(message(1, 0, slow))

    r = results_of(totals, duration_s=4.0)

    assert r["requests_total"] == 1000
    assert r["errors_total"] == 10
    assert r["error_rate"] == 0.01
    assert r["rps"] == 250.0
    assert r["status_codes"] == {"200": 990, "503": 10}
    assert r["errors"]["http_5xx"] == 10
    # Percentiles of the merged histogram, not an average of each worker's percentiles.
    assert r["latency_ms"]["p50"] == pytest.approx(1.0, rel=HDR)
    assert r["latency_ms"]["p90"] == pytest.approx(1.0, rel=HDR)
    assert r["latency_ms"]["p95"] == pytest.approx(100.0, rel=HDR)
    assert r["latency_ms"]["p99"] == pytest.approx(100.0, rel=HDR)
    assert r["latency_ms"]["p999"] == pytest.approx(200.0, rel=HDR)
    assert r["latency_ms"]["max"] == pytest.approx(200.0, rel=HDR)


def test_dead_incarnation_counts_alongside_its_replacement():
    dead = stats_of([10] * 40)
    totals = RunTotals()
    totals.update(message(0, 0, dead))
    dead.record(200, 10_000)
    totals.update(message(0, 0, dead))  # a later cumulative snapshot replaces, never adds
    replacement = stats_of([20] * 59)
    totals.update(message(0, 1, replacement))

    r = results_of(totals, worker_restarts=1)

    assert r["requests_total"] == 100
    assert r["status_codes"] == {"200": 100}
    assert r["worker_restarts"] == 1
    assert r["latency_ms"]["min"] == pytest.approx(10.0, rel=HDR)
    assert r["latency_ms"]["p50"] == pytest.approx(20.0, rel=HDR)
    # The document carries the merged histogram itself: every recorded latency, exactly.
    merged = HdrHistogram.decode(r["latency_hdr"])
    assert merged.get_total_count() == 100
    assert merged.get_count_at_value(20_000) == 59


def test_results_document_shape():
    ok = stats_of([5] * 7)
    ok.record(404, 3000, "http_4xx")
    ok.record(0, 1000, "connect")
    step_a = stats_of([5] * 4)
    step_b = stats_of([5] * 3)
    step_b.record(404, 3000, "http_4xx")
    totals = RunTotals()
    totals.update(message(0, 0, ok, steps={"checkout / login": step_a, "checkout / pay": step_b}))

    r = results_of(totals, duration_s=2.0, interrupted=True, load_model="Concurrent")

    assert list(r) == [
        "requests_total",
        "errors_total",
        "error_rate",
        "rps",
        "duration_s",
        "latency_ms",
        "status_codes",
        "errors",
        "dropped_iterations",
        "dropped_by_cause",
        "generator_saturated",
        "worker_restarts",
        "interrupted",
        "target",
        "load_model",
        "steps",
        "latency_hdr",
        "timeline",
        "thresholds",
        "failures",
        "passed",
    ]
    assert list(r["latency_ms"]) == [
        "min",
        "mean",
        "p50",
        "p90",
        "p95",
        "p99",
        "p999",
        "p9999",
        "max",
    ]
    assert list(r["errors"]) == list(ERROR_KINDS)
    assert r["errors"] == {**dict.fromkeys(ERROR_KINDS, 0), "connect": 1, "http_4xx": 1}
    assert r["status_codes"] == {"200": 7, "404": 1}
    assert r["interrupted"] is True
    assert r["target"] == "http://svc.test/"
    assert r["load_model"] == "Concurrent"
    assert r["requests_total"] == 9
    assert r["error_rate"] == round(2 / 9, 6)
    # HTTP and connect errors alone fail no run: only thresholds and assertions do.
    assert (r["thresholds"], r["failures"], r["passed"]) == ([], [], True)

    assert list(r["steps"]) == ["checkout / login", "checkout / pay"]
    pay = r["steps"]["checkout / pay"]
    assert set(pay) == {
        "requests_total",
        "errors_total",
        "error_rate",
        "rps",
        "latency_ms",
        "status_codes",
        "errors",
    }
    assert pay["requests_total"] == 4
    assert pay["errors_total"] == 1
    assert pay["error_rate"] == 0.25
    assert pay["rps"] == 2.0
    assert pay["status_codes"] == {"200": 3, "404": 1}
    assert pay["errors"] == {"http_4xx": 1}
    assert r["steps"]["checkout / login"]["errors"] == {}
    # The document is what --out writes: it must survive JSON unchanged.
    assert json.loads(json.dumps(r)) == r


def test_status_codes_are_sorted_string_keys():
    stats = Stats()
    for status in (503, 200, 404, 200, 301):
        stats.record(status, 1000)
    totals = RunTotals()
    totals.update(message(0, 0, stats))

    assert list(results_of(totals)["status_codes"].items()) == [
        ("200", 2),
        ("301", 1),
        ("404", 1),
        ("503", 1),
    ]


def test_empty_run_and_zero_duration_give_zeros():
    r = results_of(RunTotals(), duration_s=0.0)

    assert r["requests_total"] == 0
    assert r["rps"] == 0.0
    assert r["error_rate"] == 0.0
    assert set(r["latency_ms"].values()) == {0.0}
    assert r["status_codes"] == {}
    assert r["steps"] == {}
    assert "no errors" in summary_text(r)


@pytest.mark.parametrize(
    ("requests", "thresholds", "failures"),
    [
        ([(200, None)] * 3, ["p99 < 1s"], []),
        ([], [], ["no request was sent"]),
        ([(0, "connect")] * 3, [], ["no request succeeded"]),
        ([(200, None), (200, "assertion")], [], ["1 requests failed an assertion"]),
        (
            [(200, None), (500, "http_5xx")],
            ["error_rate < 10%", "requests >= 2"],
            ["threshold error_rate < 10% not met (actual 0.500)"],
        ),
    ],
)
def test_the_verdict_names_every_reason_the_run_failed(requests, thresholds, failures):
    stats = Stats()
    for status, error in requests:
        stats.record(status, 2000, error)
    totals = RunTotals()
    totals.update(message(0, 0, stats))

    r = results_of(totals, thresholds=thresholds)

    assert r["failures"] == failures
    assert r["passed"] is (failures == [])
    assert [t["threshold"] for t in r["thresholds"]] == thresholds


def test_latency_of_requests_that_never_got_an_answer_shows_as_no_data():
    refused = Stats()
    for _ in range(5):
        refused.record(0, -1, "connect")
    totals = RunTotals()
    totals.update(message(0, 0, refused, steps={"s / get": refused}))
    results = results_of(totals)

    text = summary_text(results)

    assert results["errors"]["connect"] == 5
    assert "0.000 ms" not in text
    latency_rows = text.split("Latency", 1)[1].splitlines()
    assert latency_rows[4].count("–") == 7, text
    assert [line for line in text.splitlines() if "s / get" in line][0].count("–") == 2


def test_write_results_json_replaces_atomically(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    totals = RunTotals()
    totals.update(message(0, 0, stats_of([3, 4])))
    results = results_of(totals)

    write_results_json(str(path), results)

    assert json.loads(path.read_text()) == results
    assert os.listdir(tmp_path) == ["results.json"]


@pytest.mark.parametrize("make_path", [lambda d: d / "missing" / "r.json", lambda d: d])
def test_write_results_json_bad_path_raises_oserror_and_leaves_nothing(tmp_path, make_path):
    with pytest.raises(OSError):
        write_results_json(str(make_path(tmp_path)), {"requests_total": 1})
    assert os.listdir(tmp_path) == []


def test_summary_shows_headline_errors_statuses_and_latency():
    stats = stats_of([10] * 989)
    for _ in range(10):
        stats.record(503, 50_000, "http_5xx")
    stats.record(0, 5_000_000, "timeout")
    totals = RunTotals()
    totals.update(message(0, 0, stats, dropped=4))
    results = results_of(totals, duration_s=10.0, worker_restarts=2, interrupted=True)
    text = summary_text(results)

    assert "1,000 requests in 10.0 s" in text
    assert "100.00 req/s" in text
    assert "error rate 1.10%" in text
    assert "interrupted" in text
    assert "4 iterations dropped" in text
    assert "2 worker restarts" in text
    assert "http_5xx" in text and "timeout" in text
    assert "connect" not in text and "no errors" not in text
    assert "989" in text and "503" in text
    for label in ("min", "p50", "p90", "p99", "p99.9", "p99.99", "max"):
        assert label in text
    for key in ("min", "p50", "p90", "p99", "p999", "p9999", "max"):
        assert f"{results['latency_ms'][key]:,.3f} ms" in text
    assert results["latency_ms"]["max"] == pytest.approx(5000.0, rel=HDR)
    assert "Steps" not in text and "Thresholds" not in text
    assert "failed:" not in text
    assert text.rstrip().splitlines()[-1] == "PASSED"


def test_summary_step_table_and_thresholds():
    login = stats_of([2] * 50)
    pay = stats_of([30] * 48)
    pay.record(500, 30_000, "http_5xx")
    pay.record(500, 30_000, "http_5xx")
    total = stats_of([2] * 50 + [30] * 48)
    total.record(500, 30_000, "http_5xx")
    total.record(500, 30_000, "http_5xx")
    totals = RunTotals()
    totals.update(message(0, 0, total, steps={"shop / login": login, "shop / pay": pay}))
    results = results_of(totals, duration_s=5.0, thresholds=["p99 < 100ms", "error_rate < 0.01"])

    text = summary_text(results)

    assert "Steps" in text
    step_lines = [line for line in text.splitlines() if "shop / pay" in line]
    assert len(step_lines) == 1
    assert "50" in step_lines[0] and "10.00" in step_lines[0] and "2 (4.00%)" in step_lines[0]
    assert "p99 < 100ms" in text and "PASS" in text
    assert "error_rate < 0.01" in text and "FAIL" in text
    assert "failed: threshold error_rate < 0.01 not met (actual 0.020)" in text
    assert text.rstrip().splitlines()[-1] == "FAILED"

    results = results_of(totals, duration_s=5.0, thresholds=["p99 < 100ms"])
    assert summary_text(results).rstrip().splitlines()[-1] == "PASSED"


def test_error_kinds_keep_classification_order_and_unknown_kinds_still_count():
    step = Stats()
    step.record(0, 1000, "timeout")
    step.record(500, 1000, "http_5xx")
    step.record(0, 1000, "connect")
    step.record(200, 1000, "mystery")
    totals = RunTotals()
    totals.update(message(0, 0, step, steps={"s / a": step}))

    r = results_of(totals)

    assert list(r["errors"]) == [*ERROR_KINDS, "mystery"]
    assert sum(r["errors"].values()) == r["errors_total"] == 4
    assert list(r["steps"]["s / a"]["errors"]) == ["connect", "timeout", "http_5xx", "mystery"]


@pytest.mark.parametrize("samples", [1, 2, 7, 1000, 20_000])
def test_latency_figures_are_hdrhistograms_own_to_the_value(samples: int) -> None:
    """latency_ms reads the histogram in one pass of its own; the figures must be exactly
    what HdrHistogram's percentile and mean functions return."""
    rng = random.Random(samples)
    stats = Stats()
    for _ in range(samples):
        stats.record(200, int(rng.lognormvariate(7, 2)) + 1)
    merged = MergedStats.of([stats.snapshot()])
    hist = merged.histogram
    figures = merged.latency_ms()
    expected = hist.get_percentile_to_value_dict([50, 90, 95, 99, 99.9, 99.99])
    for key, percentile in [("p50", 50), ("p90", 90), ("p99", 99), ("p9999", 99.99)]:
        assert figures[key] == expected[percentile] / 1000
    assert figures["mean"] == hist.get_mean_value() / 1000


def _generator(saturated_s=0.0, first=None, cpu=0.5, wait=0.0, lag=1.0, now=False):
    return {
        "cpu": cpu,
        "cpu_wait": wait,
        "loop_lag_ms": lag,
        "saturated": now,
        "saturated_s": saturated_s,
        "first_saturated_s": first,
        "peak_cpu": cpu,
        "peak_cpu_wait": wait,
        "peak_loop_lag_ms": lag,
    }


def test_dropped_iterations_say_their_cause_and_saturation_when_and_how_much():
    totals = RunTotals()
    calm = message(0, 0, stats_of([1] * 10), dropped=40)
    calm.update(dropped_saturated=0, generator=_generator())
    busy = message(1, 0, stats_of([1] * 10), dropped=100)
    busy.update(
        dropped_saturated=70,
        generator=_generator(1.5, first=0.75, cpu=0.6, wait=0.38, lag=30.0, now=True),
    )
    totals.update(calm)
    totals.update(busy)

    r = results_of(totals)

    assert r["dropped_iterations"] == 140
    assert r["dropped_by_cause"] == {"connections_busy": 70, "generator_saturated": 70}
    assert r["generator_saturated"] == {
        "first_at_s": 0.75,
        "saturated_s": 1.5,
        "workers": 1,
        "peak_cpu": 0.6,
        "peak_cpu_wait": 0.38,
        "peak_loop_lag_ms": 30.0,
    }
    text = " ".join(summary_text(r).split())  # as one line, whatever the wrapping
    assert "140 iterations dropped: 70 connections busy: the target is slow" in text
    assert "70 generator saturated" in text
    assert "load generator saturated: add workers or nodes: 1 worker(s) for up to 1.5 s" in text


def test_a_run_never_saturated_says_null_and_parts_without_a_cause_are_unknown():
    totals = RunTotals()
    calm = message(0, 0, stats_of([1] * 10), dropped=5)
    calm.update(dropped_saturated=0, generator=_generator())
    totals.update(calm)
    totals.update(message(1, 0, stats_of([1]), dropped=3))  # says no cause

    r = results_of(totals)

    assert r["generator_saturated"] is None
    assert r["dropped_by_cause"] == {
        "connections_busy": 5,
        "generator_saturated": 0,
        "unknown": 3,
    }
    text = " ".join(summary_text(r).split())
    assert "saturated" not in text.replace("0 generator saturated", "")
    assert "8 iterations dropped: 5 connections busy" in text
