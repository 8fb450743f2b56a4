"""Records the run that replaying nodes play (``LOADTEST_TEST_REPLAY_METRICS``, a fake for
tests and benchmarks only: loadtest_supervisor.engine.replayed_load).

One real run of the engine (its worker processes, real requests) against the built-in
demo target on loopback, its workers' snapshots kept as they came:

    .venv/bin/python -m tests.cluster.fleet_recording tests/cluster/fleet_recording.jsonl

``RECORDING`` is the committed one (Rps 100/s for 30 s, 1 worker: ~3,000 requests), what
the fleet tests and ``bench.fleet`` replay.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.engine.replayed_load import Recording
from loadtest_supervisor.engine.runner import LoadRun
from loadtest_supervisor.metrics.run_totals import RunTotals
from tests.services import HttpTarget

RECORDING = Path(__file__).with_name("fleet_recording.jsonl")


class _KeptTotals(RunTotals):
    """Run totals that also keep every worker message they are given."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    def update(self, message: dict[str, Any]) -> None:
        super().update(message)
        self.messages.append(message)


async def record(url: str, rate: int, seconds: int) -> Recording:
    plan = load_plan_text(
        f"target: {{url: '{url}/'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s, workers: 1}}\n",
        "fleet recording",
    )
    load = LoadRun(plan, 1)
    load.totals = kept = _KeptTotals()
    await load.run(asyncio.Event())
    return Recording.of(kept.messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rps", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fleet-recording-") as tmp:
        with HttpTarget(Path(tmp)) as target:
            recording = asyncio.run(record(target.url, args.rps, args.seconds))
    recording.write(args.out)
    print(f"{args.out}: {recording.requests_total} requests, {len(recording.snapshots)} snapshots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
