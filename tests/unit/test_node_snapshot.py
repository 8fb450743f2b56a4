"""A node's report survives the wire and the checkpoint text exactly: counters, every
histogram bucket, the generator's load and the drop causes."""

from __future__ import annotations

from loadtest_supervisor.cluster.node_snapshot import NodeReport, from_text, to_text, to_wire
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.stats import MergedStats, Stats

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
