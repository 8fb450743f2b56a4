"""How a results document's figures read as text, the same in the terminal summary and
the HTML report: milliseconds, shares, and the notes that qualify a run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loadtest_supervisor.engine.saturation import SATURATED_HINT


def ms(value: float) -> str:
    return f"{value:,.3f} ms"


def pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def latency_cell(latency_ms: dict[str, float], key: str) -> str:
    """``latency_ms[key]`` in ms, or "–" when nothing was recorded."""
    # Connect, TLS and closed failures record no latency; a run of nothing else has an
    # empty histogram, whose zeros must not read as "0 ms fast". Any recorded request
    # took at least 1 µs, so max == 0 means no sample.
    return "–" if latency_ms["max"] == 0 else ms(latency_ms[key])


def threshold_actual(actual: float | None) -> str:
    return "–" if actual is None else f"{actual:,.3f}"


@dataclass(frozen=True)
class Note:
    """One remark on a run; ``warning`` ones deserve the reader's attention."""

    text: str
    warning: bool = False


# Why arrivals were dropped, and what to do about it (``RunTotals.dropped_by_cause``).
_DROP_CAUSES = {
    "connections_busy": "connections busy: the target is slow (raise concurrency or accept it)",
    "generator_saturated": f"generator saturated ({SATURATED_HINT})",
    "unknown": "cause not reported",
}


def _dropped(results: dict[str, Any]) -> str:
    causes = results.get("dropped_by_cause") or {"unknown": results["dropped_iterations"]}
    said = [f"{n:,} {_DROP_CAUSES.get(cause, cause)}" for cause, n in causes.items() if n]
    return f"{results['dropped_iterations']:,} iterations dropped: {'; '.join(said)}"


def run_notes(results: dict[str, Any]) -> list[Note]:
    """What qualifies the figures of ``results``: an interrupted run, drops, a saturated
    generator, worker restarts, lost nodes."""
    notes = []
    if results.get("interrupted"):
        notes.append(Note("interrupted before the planned end", warning=True))
    if results.get("dropped_iterations"):
        notes.append(Note(_dropped(results)))
    saturated = results.get("generator_saturated")
    if saturated:
        notes.append(
            Note(
                f"{SATURATED_HINT}: {saturated['workers']:,} worker(s) for up to "
                f"{saturated['saturated_s']:,.1f} s from {saturated['first_at_s']:,.1f} s "
                f"(peak cpu {saturated['peak_cpu']:.0%} used, "
                f"{saturated['peak_cpu_wait']:.0%} waited for; "
                f"loop lag {saturated['peak_loop_lag_ms']:,.0f} ms)",
                warning=True,
            )
        )
    if results.get("worker_restarts"):
        notes.append(Note(f"{results['worker_restarts']:,} worker restarts"))
    for lost in results.get("nodes_lost", ()):
        at = datetime.fromtimestamp(lost["at"], UTC).strftime("%H:%M:%S")
        notes.append(
            Note(f"node {lost['node_id']} lost at {at} UTC (its last report kept)", warning=True)
        )
    return notes
