"""Where metrics.stats does HdrHistogram's arithmetic itself, it gets hdrh's results.

``Stats._flush`` works out each latency's bucket itself (hdrh's ``record_value`` costs
about 2 µs a value in Python: 5 to 7 % of a busy worker's CPU), and ``bucket_values``
each bucket's equivalent values (hdrh's calls per bucket cost a run a fixed ~0.05 s), so
these tests hold both to hdrh's own, value for value, over the whole trackable range.
"""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from loadtest_supervisor.metrics.stats import (
    LATENCY_DIGITS,
    LATENCY_HIGHEST_US,
    LATENCY_LOWEST_US,
    Stats,
    bucket_values,
    counts_of,
    new_histogram,
)


def _recorded_by_hdrh(latencies: list[int]):
    """What one ``record_value`` per request, clamped to the trackable range, gives."""
    hist = new_histogram()
    for latency in latencies:
        if latency >= 0:
            hist.record_value(min(max(latency, LATENCY_LOWEST_US), LATENCY_HIGHEST_US))
    return hist


def _latencies(rng: random.Random, n: int) -> list[int]:
    edges = [-1, 0, 1, 2, 2047, 2048, 2049, 4095, 4096, 65_535, 65_536]
    edges += [LATENCY_HIGHEST_US - 1, LATENCY_HIGHEST_US, LATENCY_HIGHEST_US + 1, 10**12]
    spread = [int(rng.lognormvariate(7, 2.5)) for _ in range(n)]
    return edges + spread


def test_the_histogram_is_hdrhs_to_the_count_min_and_max() -> None:
    rng = random.Random(15)
    latencies = _latencies(rng, 20_000)
    stats = Stats()
    # Several flushes, as a worker's snapshots make, each adding to the last.
    for chunk in range(0, len(latencies), 3_000):
        for latency in latencies[chunk : chunk + 3_000]:
            stats.record(200, latency)
        stats.snapshot()
    expected = _recorded_by_hdrh(latencies)
    hist = stats.histogram
    assert counts_of(hist) == counts_of(expected)
    assert hist.get_total_count() == expected.get_total_count() == len(latencies) - 1
    assert (hist.min_value, hist.max_value) == (expected.min_value, expected.max_value)
    assert (hist.get_min_value(), hist.get_max_value()) == (
        expected.get_min_value(),
        expected.get_max_value(),
    )
    assert hist.encode() == expected.encode()


def test_requests_statuses_and_errors_count_every_record() -> None:
    stats = Stats()
    stats.record(200, 500)
    stats.record(200, 500)
    stats.record(503, 700, "http_5xx")
    stats.record(0, -1, "connect")
    stats.record(0, 2_000_000, "timeout")
    assert stats.requests == 5
    assert dict(stats.status) == {200: 2, 503: 1}
    assert dict(stats.errors) == {"http_5xx": 1, "connect": 1, "timeout": 1}
    # The connect failure has no latency; every other request has one.
    assert stats.histogram.get_total_count() == 4
    assert stats.histogram.get_max_value() == _recorded_by_hdrh([2_000_000]).get_max_value()


@pytest.mark.parametrize(
    "layout",
    [
        (LATENCY_LOWEST_US, LATENCY_HIGHEST_US, LATENCY_DIGITS),  # the engine's
        (1000, 10**9, 2),
        (1, 100_000, 5),
        (7, 10**6, 1),
    ],
)
def test_bucket_values_are_hdrhs_for_every_index(layout: tuple[int, int, int]) -> None:
    hist = HdrHistogram(*layout)
    highest = [
        hist.get_highest_equivalent_value(hist.get_value_from_index(i))
        for i in range(hist.counts_len)
    ]
    median = [hist._hdr_median_equiv_value(value) for value in highest]
    assert bucket_values(hist) == (highest, median)
