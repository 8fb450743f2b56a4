"""The timeline's seconds: differences of cumulative snapshots, never averages."""

import pytest

from loadtest_supervisor.metrics.stats import Stats, histogram_since, new_histogram
from loadtest_supervisor.metrics.timeline import (
    SecondsRecorder,
    merge_seconds,
    point,
    wall_text,
)

HDR = 1e-3


def snap(stats, at, in_flight=0):
    return {"total": stats.snapshot(), "steps": {}, "at": at, "in_flight": in_flight}


def test_histogram_since_is_the_later_samples_alone():
    earlier, later = new_histogram(), new_histogram()
    for us in (1_000, 2_000, 3_000):
        earlier.record_value(us)
        later.record_value(us)
    for us in (50_000, 60_000):
        later.record_value(us)

    diff = histogram_since(later, earlier)

    assert diff is not None and diff.get_total_count() == 2
    assert diff.get_min_value() == pytest.approx(50_000, rel=HDR)
    assert diff.get_max_value() == pytest.approx(60_000, rel=HDR)
    same = histogram_since(later, later)
    assert same is not None and same.get_total_count() == 0


def test_a_slow_second_shows_alone_and_is_not_averaged_away():
    stats = Stats()
    rec = SecondsRecorder(end_s=3.0)
    # second 0: 100 fast requests; second 1: 100 more, 10 of them 500 ms; second 2: 100 fast
    for _ in range(100):
        stats.record(200, 1_000)
    rec.observe("w", snap(stats, 1.0, in_flight=3))
    for i in range(100):
        stats.record(200, 500_000 if i < 10 else 1_000, "timeout" if i < 10 else None)
    rec.observe("w", snap(stats, 2.0))
    closed = rec.close_ready(["w"], elapsed=2.01)
    for _ in range(100):
        stats.record(200, 1_000)
    rec.observe("w", {**snap(stats, None), "in_flight": 0})
    closed += rec.close_all(3.0)

    assert [s.t for s in closed] == [0, 1, 2]
    assert [s.requests for s in closed] == [100, 100, 100]
    assert closed[0].in_flight == 3
    assert closed[1].errors == {"timeout": 10}
    p = [point(s, 0.0)["latency_ms"] for s in closed]
    assert p[0]["p99"] == pytest.approx(1.0, rel=HDR)
    assert p[1]["p99"] == pytest.approx(500.0, rel=HDR)
    assert p[1]["p50"] == pytest.approx(1.0, rel=HDR)
    # The cumulative p99 after second 2 would still say 500 ms; the second's own is 1 ms.
    assert p[2]["p99"] == pytest.approx(1.0, rel=HDR)


def test_seconds_sum_to_the_run_including_answers_after_the_end():
    a, b = Stats(), Stats()
    rec = SecondsRecorder(end_s=2.5)
    for t in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25):
        for stats, key in ((a, "a"), (b, "b")):
            stats.record(200, 2_000)
            rec.observe(key, snap(stats, t))
        rec.close_ready(["a", "b"], elapsed=t)
    assert rec.closed_until == 2  # the last second waits for the end
    a.record(200, 2_000)  # answered in the stop grace
    rec.observe("a", snap(a, None))
    rec.observe("b", snap(b, None))
    rec.close_all(2.5)

    seconds = rec.seconds
    assert [s.t for s in seconds] == [0, 1, 2]
    assert sum(s.requests for s in seconds) == 19
    assert seconds[2].requests == 3
    last = point(seconds[2], 0.0)
    assert last["rps"] == 6.0  # 3 requests in the half second the run covered


def test_a_part_not_reporting_holds_seconds_back_only_so_long():
    stats = Stats()
    rec = SecondsRecorder(end_s=10.0)
    stats.record(200, 1_000)
    rec.observe("fast", snap(stats, 3.0))
    assert rec.close_ready(["fast", "silent"], elapsed=2.9) == []
    assert [s.t for s in rec.close_ready(["fast", "silent"], elapsed=4.5)] == [0, 1]


def test_a_run_stopped_on_a_seconds_end_recuts_that_second():
    stats = Stats()
    rec = SecondsRecorder(end_s=10.0)
    for t in (1.0, 2.0):
        stats.record(200, 1_000)
        rec.observe("w", snap(stats, t))
        rec.close_ready(["w"], elapsed=t)
    assert rec.closed_until == 2
    stats.record(200, 1_000)  # answered after the stop at 2.0
    rec.observe("w", snap(stats, None))
    rec.close_all(2.0)
    assert [s.requests for s in rec.seconds] == [1, 2]


def test_merged_seconds_add_histograms_exactly():
    fast, slow = Stats(), Stats()
    for _ in range(99):
        fast.record(200, 1_000)
    slow.record(200, 900_000)
    seconds = []
    for stats in (fast, slow):
        rec = SecondsRecorder(end_s=1.0)
        rec.observe("w", snap(stats, None))
        seconds += rec.close_all(1.0)

    merged = merge_seconds(seconds)

    p = point(merged, 1_795_000_000.0)
    assert p["requests"] == 100
    assert p["latency_ms"]["p50"] == pytest.approx(1.0, rel=HDR)
    assert p["latency_ms"]["max"] == pytest.approx(900.0, rel=HDR)
    assert p["time"] == wall_text(1_795_000_000.0) == "2026-11-18T11:06:40Z"


def test_a_second_without_samples_has_no_latency():
    rec = SecondsRecorder(end_s=1.0)
    rec.observe("w", snap(Stats(), None))
    (second,) = rec.close_all(1.0)
    assert point(second, 0.0)["latency_ms"] is None
    assert point(second, 0.0)["errors"] == {}
