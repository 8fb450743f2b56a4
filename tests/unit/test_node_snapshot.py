"""A node's report survives the wire and the checkpoint text exactly: counters, every
histogram bucket, the generator's load and the drop causes."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from loadtest_supervisor.cluster.node_snapshot import (
    NodeReport,
    from_text,
    from_wire,
    to_text,
    to_wire,
)
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import (
    LATENCY_HIGHEST_US,
    LATENCY_LOWEST_US,
    MergedStats,
    Stats,
    counts_of,
    histogram_since,
    new_histogram,
)

LOAD = {
    "cpu": 0.95,
    "cpu_wait": 0.1,
    "loop_lag_ms": 3.0,
    "saturated": True,
    "saturated_s": 2.0,
    "first_saturated_s": 0.5,
    "peak_cpu": 0.99,
    "peak_cpu_wait": 0.25,
    "peak_loop_lag_ms": 9.0,
    "parts_saturated": 1,
}


def report(generator: dict | None) -> NodeReport:
    total, step = Stats(), Stats()
    for latency_us in (900, 1_500, 80_000, 2_000_000):
        total.record(200, latency_us)
        step.record(200, latency_us)
    total.record(503, 1_200, "http_5xx")
    message = {
        "total": total.snapshot(),
        "latency_ms": MergedStats.of([total.snapshot()]).latency_ms(),
        "steps": {"flow / login": step.snapshot()},
        "dropped": 7,
        "dropped_saturated": 3,
        "generator": generator,
        "worker_restarts": 1,
    }
    return NodeReport("node-11", "part-1", "run-1", 4, 2, message, 10.5, 3.25, True, False, 0.5)


def test_a_report_comes_back_from_the_checkpoint_text_as_it_was_sent() -> None:
    sent = report(LOAD)
    back = from_text(to_text(sent))
    assert (back.key, back.seq, back.term, back.final, back.share) == (
        "node-11/part-1",
        4,
        2,
        True,
        0.5,
    )
    assert back.message["generator"] == LOAD
    # The sender's own reading of its histogram, in the document's key order.
    assert list(back.message["latency_ms"].items()) == list(sent.message["latency_ms"].items())
    assert (back.message["dropped"], back.message["dropped_saturated"]) == (7, 3)
    original, decoded = (
        MergedStats.of([sent.message["total"]]),
        MergedStats.of([back.message["total"]]),
    )
    assert list(decoded.histogram.counts) == list(original.histogram.counts)
    assert (decoded.requests, dict(decoded.status), dict(decoded.errors)) == (
        5,
        {200: 4, 503: 1},
        {"http_5xx": 1},
    )
    totals = RunTotals()
    totals.put(back.key, back.message)
    assert totals.dropped_by_cause() == {"connections_busy": 4, "generator_saturated": 3}
    assert set(totals.steps()) == {"flow / login"}


def test_a_report_without_load_or_a_first_saturation_says_none() -> None:
    assert from_text(to_text(report(None))).message["generator"] is None
    unsaturated = {**LOAD, "first_saturated_s": None}
    assert from_text(to_text(report(unsaturated))).message["generator"] == unsaturated
    assert to_wire(report(None)).ByteSize() < to_wire(report(LOAD)).ByteSize()


def _merged_hdr(message: dict) -> str:
    return MergedStats.of([message["total"]]).snapshot()["latency"]


def test_a_stream_sends_each_interval_s_histograms_and_the_receiver_adds_them_exactly() -> None:
    """Reports 1..4 of a part, each with more samples, on one stream: every report but the
    first carries only its interval's histograms, and what the receiver holds after each
    is bucket for bucket the sender's cumulative histogram."""
    stats, step = Stats(), Stats()
    sent: list[NodeReport] = []
    for seq, latencies in enumerate(([900, 1_500] * 50, [2_000, 80_000], [], [700] * 3), 1):
        for latency_us in latencies:
            stats.record(200, latency_us)
            step.record(200, latency_us)
        message = {
            "total": stats.snapshot(),
            "steps": {"s / a": step.snapshot()},
            "dropped": 0,
            "worker_restarts": 0,
        }
        sent.append(NodeReport("n", "p", "r", seq, 1, message, 0.0, 1.0, False, False, 1.0))
    held = None
    for seq, report_now in enumerate(sent):
        wire = to_wire(report_now, since=sent[seq - 1] if seq else None)
        assert wire.total.latency_since_previous == bool(seq)
        if seq:
            assert len(wire.total.latency) < len(to_wire(report_now).total.latency)
        held = from_wire(wire, held)
        assert _merged_hdr(held.message) == _merged_hdr(report_now.message)
        step_back = MergedStats.of([held.message["steps"]["s / a"]]).snapshot()["latency"]
        assert (
            step_back
            == MergedStats.of([report_now.message["steps"]["s / a"]]).snapshot()["latency"]
        )
    assert held is not None and held.requests == 105


def test_a_histogram_sent_since_a_report_the_receiver_does_not_hold_is_refused() -> None:
    first, second = report(None), report(None)
    wire = to_wire(second, since=first)
    with pytest.raises(ValueError, match="since a snapshot this stream did not carry"):
        from_wire(wire)
    wire.total.latency = b"not a histogram"
    with pytest.raises(ValueError, match="undecodable latency histogram"):
        from_wire(wire, from_wire(to_wire(first)))


def test_histogram_since_is_none_for_a_histogram_that_is_not_a_later_state() -> None:
    earlier, later = new_histogram(), new_histogram()
    earlier.record_value(1_000, 5)
    later.record_value(1_000, 2)
    later.record_value(5_000, 9)
    assert histogram_since(later, earlier) is None
    later.record_value(1_000, 3)
    since = histogram_since(later, earlier)
    assert since is not None and since.get_total_count() == 9
    assert since.get_min_value() >= 4_990  # only the 5 ms bucket grew


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_since_holds_every_bucket_of_the_difference(seed: int) -> None:
    """Only the recorded range of the two histograms is read: a difference at either
    end of the value range, and of decoded histograms, is still exact bucket by bucket."""
    rng = random.Random(seed)
    earlier = Stats()
    for _ in range(2_000):
        earlier.record(200, int(rng.lognormvariate(7, 2)) + 1)
    before = earlier.snapshot()["latency"]
    later = earlier
    extra = [1, LATENCY_HIGHEST_US, *(int(rng.lognormvariate(9, 3)) + 1 for _ in range(500))]
    for us in extra:
        later.record(200, us)
    expected = new_histogram()
    for us in extra:
        expected.record_value(min(max(us, LATENCY_LOWEST_US), LATENCY_HIGHEST_US))
    since = histogram_since(
        HdrHistogram.decode(later.snapshot()["latency"]), HdrHistogram.decode(before)
    )
    assert since is not None
    assert counts_of(since) == counts_of(expected)
    assert (since.get_total_count(), since.get_min_value(), since.get_max_value()) == (
        expected.get_total_count(),
        expected.get_min_value(),
        expected.get_max_value(),
    )
