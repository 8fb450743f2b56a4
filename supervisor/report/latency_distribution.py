"""The latency distribution of a results document's ``latency_hdr`` as HdrHistogram plots
it: latency against percentile, the percentile on a log scale of 1/(1-p), so that 90 %,
99 %, 99.9 % ... are equally spaced and the tail is as wide as the body."""

from __future__ import annotations

import binascii
import math
import zlib

from hdrh.histogram import HdrHistogram

from loadtest_supervisor.metrics.stats import values_at_percentiles

# Points per factor of ten of 1/(1-p): enough for a smooth curve at the chart's width.
POINTS_PER_NINE = 24
# The deepest percentile drawn: 99.9999 %. Beyond a histogram's own count (1/(1-p) >
# samples) every percentile is its maximum, so the curve stops there.
MOST_NINES = 6


def nines(percentile: float) -> float:
    """Where ``percentile`` (0-100) falls on the x axis: log10(1/(1-p))."""
    return math.log10(100 / (100 - percentile))


def nines_label(position: int) -> str:
    """The percentile at ``position`` nines: 0 → "0%", 1 → "90%", 3 → "99.9%"."""
    return "0%" if position == 0 else f"{100 - 100 / 10**position:.{max(position - 2, 0)}f}%"


def decode(encoded: str | None) -> HdrHistogram | None:
    """The histogram of a document's ``latency_hdr``, or None when it holds no sample or
    cannot be read."""
    if not encoded:
        return None
    try:
        hist = HdrHistogram.decode(encoded)
    except (ValueError, TypeError, binascii.Error, zlib.error):
        return None
    return hist if hist.get_total_count() else None


def depth(hist: HdrHistogram) -> float:
    """How many nines the histogram's samples can tell apart: log10 of its count, at least
    two (99 %) so a short run's plot keeps its scale, at most ``MOST_NINES``."""
    return min(max(math.log10(hist.get_total_count()), 2.0), MOST_NINES)


def percentile_curve(hist: HdrHistogram, nines_deep: float) -> list[tuple[float, float]]:
    """(x in nines, latency in ms) from the 0th percentile to ``nines_deep`` nines, the
    maximum drawn at the end."""
    # On whole nines (90 %, 99 % ...) exactly, where the axis is labelled.
    positions = [i / POINTS_PER_NINE for i in range(math.ceil(nines_deep * POINTS_PER_NINE))]
    percentiles = [100 - 100 / 10**x for x in positions]
    at = values_at_percentiles(hist, percentiles)
    curve = [(x, at[p] / 1000) for x, p in zip(positions, percentiles, strict=True)]
    curve.append((nines_deep, hist.get_max_value() / 1000))
    return curve
