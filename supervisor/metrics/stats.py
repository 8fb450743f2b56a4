"""Cumulative request statistics: what a worker records and the supervisor merges.

A worker keeps one ``Stats`` for the whole run and one per scenario step, and sends
``snapshot()`` to the supervisor about once a second. Snapshots are cumulative, so a
lost or late one costs nothing and the latest snapshot of each worker is the truth.
Percentiles come from merged HdrHistograms, never from averaged percentiles.
"""

from __future__ import annotations

import ctypes
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate, compress
from operator import mul, sub
from typing import Any

from hdrh.histogram import HdrHistogram

# Latencies are recorded in microseconds, from 1 µs up to one hour, to 3 significant
# digits: HdrHistogram needs a ceiling, and no sane request timeout exceeds an hour.
LATENCY_LOWEST_US = 1
LATENCY_HIGHEST_US = 3_600_000_000
LATENCY_DIGITS = 3

# Error kinds, in the order a request is classified: the first that applies wins,
# so each failed request counts exactly once.
ERROR_KINDS = ("connect", "tls", "timeout", "closed", "http_4xx", "http_5xx", "assertion")

# The latency figures of a run, in the order the results document lists them; thresholds
# may name any of them. The design promises percentiles up to p99.99.
LATENCY_KEYS = ("min", "mean", "p50", "p90", "p95", "p99", "p999", "p9999", "max")
_PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p999": 99.9, "p9999": 99.99}


# Stats.record packs a request's latency and status into one int key.
_STATUS_BITS = 10
_STATUS_MASK = (1 << _STATUS_BITS) - 1


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LATENCY_LOWEST_US, LATENCY_HIGHEST_US, LATENCY_DIGITS)


class Stats:
    """Counters and a latency histogram for one worker, or for one step in it.

    Recording is on the request hot path, so it bumps one dict counter keyed by
    the (latency, status) pair; the request count, the status counts and the
    histogram are brought up to date from those pairs when read. Latencies are
    exact integers in µs, and a worker sees far fewer distinct pairs than requests
    per second, so one histogram update per distinct pair (``_flush``) is cheap where
    one per request would cost a good part of the request budget.
    """

    __slots__ = ("_requests", "_status", "errors", "_pending", "_hist")

    def __init__(self) -> None:
        self._requests = 0
        self._status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self._pending: dict[int, int] = {}
        self._hist = new_histogram()

    def record(self, status: int, latency_us: int, error: str | None = None) -> None:
        """Count one finished request; ``status`` is 0 when no response arrived
        and ``latency_us`` is -1 when the request has no latency to report."""
        if error is not None:
            self.errors[error] += 1
        # One int key for the pair: a tuple would cost an allocation and a hash
        # per request. Status codes have three digits, so they fit in 10 bits.
        key = latency_us << _STATUS_BITS | status
        pending = self._pending
        pending[key] = pending.get(key, 0) + 1

    @property
    def requests(self) -> int:
        self._flush()
        return self._requests

    @property
    def status(self) -> Counter[int]:
        self._flush()
        return self._status

    @property
    def histogram(self) -> HdrHistogram:
        self._flush()
        return self._hist

    def _flush(self) -> None:
        """Bring the counts and the histogram up to date from the pending pairs.

        The histogram takes each distinct latency as ``record_value(v, count)`` would,
        to the count, min and max, but its bucket index is worked out here and the
        count added through the counts' buffer: hdrh's ``record_value`` is six Python
        calls (about 2 µs) a value, and a second of a busy worker holds thousands of
        distinct latencies: py-spy had this flush at 5 to 7 % of a busy worker's samples.
        """
        pending = self._pending
        if not pending:
            return
        hist, statuses = self._hist, self._status
        counts = _counts_view(hist)
        # record_value's index (hdrh's _counts_index_for), its constants read once.
        unit = hist.unit_magnitude
        mask = hist.sub_bucket_mask
        magnitude = unit + hist.sub_bucket_half_count_magnitude + 1
        half_magnitude = hist.sub_bucket_half_count_magnitude
        half = hist.sub_bucket_half_count
        low, high = hist.min_value, hist.max_value
        requests = recorded = 0
        for key, count in pending.items():
            requests += count
            status = key & _STATUS_MASK
            if status:
                statuses[status] += count
            value = key >> _STATUS_BITS
            if value < 0:
                continue  # no latency to report
            if value < LATENCY_LOWEST_US:
                value = LATENCY_LOWEST_US
            elif value > LATENCY_HIGHEST_US:
                value = LATENCY_HIGHEST_US
            bucket = (value | mask).bit_length() - magnitude
            counts[((bucket + 1) << half_magnitude) + (value >> (bucket + unit)) - half] += count
            recorded += count
            if value < low:
                low = value
            if value > high:
                high = value
        self._requests += requests
        hist.total_count += recorded
        hist.min_value, hist.max_value = low, high
        pending.clear()

    def snapshot(self) -> dict[str, Any]:
        """A cumulative, picklable copy of everything recorded so far."""
        return {
            "requests": self.requests,
            "status": dict(self.status),
            "errors": dict(self.errors),
            "latency": self.histogram.encode(),
        }


class MergedStats:
    """The sum of many cumulative snapshots: one node's total, or one step's."""

    def __init__(self) -> None:
        self.requests = 0
        self.status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.histogram = new_histogram()

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    def add_snapshot(self, snapshot: dict[str, Any], latency: bool = True) -> None:
        """Add one; its ``latency`` is encoded, or already an HdrHistogram (a leader holds
        the reports it receives decoded), which is read and never changed. Without
        ``latency``, only the counters."""
        self.requests += snapshot["requests"]
        self.status.update(snapshot["status"])
        self.errors.update(snapshot["errors"])
        if not latency:
            return
        latency = snapshot["latency"]
        if isinstance(latency, HdrHistogram):
            self.histogram.add(latency)
        elif latency:
            self.histogram.add(HdrHistogram.decode(latency))

    @classmethod
    def of(cls, snapshots: Iterable[dict[str, Any]], latency: bool = True) -> MergedStats:
        merged = cls()
        for snapshot in snapshots:
            merged.add_snapshot(snapshot, latency)
        return merged

    def snapshot(self) -> dict[str, Any]:
        """The sum as one cumulative snapshot, in ``Stats.snapshot``'s form."""
        return {
            "requests": self.requests,
            "status": dict(self.status),
            "errors": dict(self.errors),
            "latency": self.histogram.encode() if self.histogram.get_total_count() else b"",
        }

    def latency_ms(self) -> dict[str, float]:
        """Every ``LATENCY_KEYS`` figure in milliseconds; zeros when nothing was recorded."""
        if self.histogram.get_total_count() == 0:
            return dict.fromkeys(LATENCY_KEYS, 0.0)
        return percentiles_ms(self.histogram, LATENCY_KEYS)


def percentiles_ms(hist: HdrHistogram, keys: Iterable[str]) -> dict[str, float]:
    """The ``keys`` (among ``LATENCY_KEYS``) of a histogram holding samples, in ms."""
    at, mean = _percentiles_and_mean(hist, sorted(_PERCENTILES.values()))
    us = {
        "min": hist.get_min_value(),
        "mean": mean,
        **{key: at[percentile] for key, percentile in _PERCENTILES.items()},
        "max": hist.get_max_value(),
    }
    return {key: us[key] / 1000 for key in keys}


def recorded_buckets(hist: HdrHistogram) -> tuple[list[int], list[int]]:
    """The index and the count of every bucket that holds a sample, in order.

    Every loop here runs in C (``list``, ``itertools.compress``): one over the ~23k
    buckets in Python costs ~2 ms a histogram, and a cluster's leader reads dozens of
    them a second. Only the buckets between the first and last non-zero are read.
    """
    low, high = _recorded_range(hist)
    counts = _counts_view(hist)[low:high].tolist()
    return list(compress(range(low, high), counts)), list(compress(counts, counts))


def counts_of(hist: HdrHistogram) -> list[int]:
    """Every bucket's count, read in C."""
    return _counts_view(hist).tolist()


def _recorded_range(hist: HdrHistogram) -> tuple[int, int]:
    """The buckets ``[low, high)`` outside which every count is zero, from the minimum
    and maximum the histogram tracks (hdrh's own encoder stops at the maximum's bucket
    too). A latency histogram spans ~23k buckets, of which a run fills a few thousand."""
    if not hist.total_count:
        return 0, 0
    low = 0 if hist.min_value == sys.maxsize else hist.get_counts_array_index(hist.min_value)
    return low, hist.get_counts_array_index(hist.max_value) + 1


def _counts_view(hist: HdrHistogram) -> memoryview:
    """The histogram's counts as a writable view of their buffer: its element access
    costs a fraction of the ctypes array's (~100 ns each)."""
    raw = hist.counts
    return memoryview(raw).cast("B").cast(_WORD[ctypes.sizeof(raw._type_)])


_WORD = {4: "I", 8: "Q"}


def histogram_since(later: HdrHistogram, earlier: HdrHistogram) -> HdrHistogram | None:
    """What ``later`` recorded after ``earlier``, an earlier state of the same cumulative
    histogram, bucket by bucket with C loops over the recorded range of both (~1 ms a
    pair); None when it is not one (a bucket holds less now)."""
    (low_l, high_l), (low_e, high_e) = _recorded_range(later), _recorded_range(earlier)
    if high_e > low_e:
        low, high = min(low_l, low_e), max(high_l, high_e)
    else:
        low, high = low_l, high_l
    later_counts, earlier_counts = _counts_view(later), _counts_view(earlier)
    counts = list(map(sub, later_counts[low:high].tolist(), earlier_counts[low:high].tolist()))
    if min(counts, default=0) < 0:
        return None
    since = new_histogram()
    recorded = list(compress(range(low, high), counts))
    if recorded:
        target = _counts_view(since)
        target[low:high] = array(target.format, counts)
        since.set_internal_tacking_values(recorded[0], recorded[-1], sum(counts))
    return since


def bucket_values(hist: HdrHistogram) -> tuple[list[int], list[int]]:
    """Each bucket's highest and median equivalent values (µs), as HdrHistogram's
    percentile and mean functions read them; computed once per histogram layout, then
    looked up, instead of four calls into the histogram per bucket read."""
    layout = (hist.lowest_trackable_value, hist.highest_trackable_value, hist.significant_figures)
    values = _BUCKET_VALUES.get(layout)
    if values is None:
        values = _BUCKET_VALUES[layout] = _equivalent_values(hist)
    return values


def _equivalent_values(hist: HdrHistogram) -> tuple[list[int], list[int]]:
    """``get_highest_equivalent_value(get_value_from_index(i))`` and
    ``_hdr_median_equiv_value`` of that for every index ``i``, a block of buckets of one
    width at a time with ``range`` (hdrh's calls per index cost ~0.1 s of a run's CPU).

    The first block (the sub-buckets of bucket 0, both halves) starts at 0; block ``b``
    after it holds the upper half of bucket ``b``: values from ``half << (b + unit)`` on.
    Every value in a block is the lowest of a range ``1 << (b + unit)`` wide.
    """
    unit, half = hist.unit_magnitude, hist.sub_bucket_half_count
    blocks = [(0, 2 * half, 1 << unit)]
    blocks += [(half << (b + unit), half, 1 << (b + unit)) for b in range(1, hist.bucket_count)]
    highest: list[int] = []
    median: list[int] = []
    for first, count, width in blocks:
        end = first + count * width
        highest.extend(range(first + width - 1, end + width - 1, width))
        median.extend(range(first + (width >> 1), end + (width >> 1), width))
    return highest, median


_BUCKET_VALUES: dict[tuple[int, int, int], tuple[list[int], list[int]]] = {}


def _percentiles_and_mean(hist: HdrHistogram, percentiles: list[float]) -> tuple[dict, float]:
    """What ``get_percentile_to_value_dict`` and ``get_mean_value`` return, to the value,
    from the recorded buckets only and with C loops (accumulate, bisect, sum of map):
    HdrHistogram's own walk every bucket in Python and call back into the histogram per
    bucket, ~60 ms a histogram."""
    highest, median = bucket_values(hist)
    indexes, counts = recorded_buckets(hist)
    seen = list(accumulate(counts))
    at = {
        p: highest[indexes[bisect_left(seen, hist.get_target_count_at_percentile(p))]]
        for p in percentiles
    }
    weighted = sum(map(mul, counts, map(median.__getitem__, indexes)))
    return at, weighted / hist.get_total_count()


def values_at_percentiles(hist: HdrHistogram, percentiles: list[float]) -> dict[float, int]:
    """The value (µs) at each of ``percentiles`` (0-100) of a histogram with samples, as
    ``get_value_at_percentile`` gives it, read in one pass."""
    return _percentiles_and_mean(hist, percentiles)[0]
