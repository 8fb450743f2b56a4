"""A fake for tests and benchmarks only: a node's part of a run that sends no request and
replays the snapshots of a recorded run instead (``LOADTEST_TEST_REPLAY_METRICS=<file>``).

Why: a fleet of a hundred nodes on a 2-core test machine cannot also generate a hundred
nodes' load. A replaying node takes part in runs as any node does (its share, workers
"prepared", ``start_at``, its cumulative reports pushed to the leader every interval,
its results), so the coordination plane is exercised at full size, but it starts no
worker process and sends nothing to the target. Never meant for a real fleet: the node
logs ``event=replaying_metrics level=warning`` at start, and the switch is no setting
(``--print-config`` does not list it).

The recording (JSON lines) holds one real run's worker snapshots as the workers sent
them (``engine/worker.py``), at each whole second of the run and each worker's final
one, histograms as their base64 text; ``tests/cluster/fleet_recording.py`` records it.
A replaying node feeds them to its totals and timeline on the run's own clock, as its
workers' snapshots would come: second ``at`` of the recording at second ``at`` of the
run (a node joining late starts the recording at its join). Its counts are the
recording's whatever its share; past the recording's end it holds its final figures, and
a run that ends (or stops) first ends on the last snapshot due.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.runner import LoadRun
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.engine")

REPLAY_ENV = "LOADTEST_TEST_REPLAY_METRICS"
FORMAT = "loadtest-replayed-run/1"
_SLACK_S = 1e-6  # a snapshot due at the run's end is due when the run ends


class RecordingError(Exception):
    """The recording cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class Recording:
    """One recorded run: its workers' snapshots by ``at`` (s since its start), and the
    final snapshot of each worker."""

    snapshots: tuple[dict[str, Any], ...]
    finals: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, messages: Iterable[dict[str, Any]]) -> Recording:
        """Keep what a replay needs of a run's worker messages: the whole seconds' and
        the finals (a node pushes its figures once a second at most)."""
        kept = [m for m in messages if m["type"] in ("snapshot", "final")]
        snapshots = [m for m in kept if m["at"] is not None and float(m["at"]).is_integer()]
        finals = [m for m in kept if m["type"] == "final"]
        if not snapshots or not finals:
            raise RecordingError("a recording needs a run's snapshots and its final ones")
        return cls(tuple(sorted(snapshots, key=lambda m: m["at"])), tuple(finals))

    def write(self, path: Path) -> None:
        lines = [json.dumps({"format": FORMAT})]
        lines += [json.dumps(_to_json(m)) for m in (*self.snapshots, *self.finals)]
        path.write_text("\n".join(lines) + "\n")

    @classmethod
    def read(cls, path: Path) -> Recording:
        """Raises RecordingError naming the file and what is wrong with it."""
        try:
            lines = path.read_text().splitlines()
            if not lines or json.loads(lines[0]) != {"format": FORMAT}:
                raise ValueError(f"its first line is not {{'format': {FORMAT!r}}}")
            return cls.of(_from_json(json.loads(line)) for line in lines[1:])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecordingError) as exc:
            raise RecordingError(
                f"{REPLAY_ENV}={str(path)!r}: not a recorded run ({exc}); write one with "
                "`python -m tests.cluster.fleet_recording FILE` (a switch for tests and "
                "benchmarks only)"
            ) from None

    @property
    def requests_until(self) -> dict[float, int]:
        """The recording's requests at each whole second (every worker's latest)."""
        latest: dict[Hashable, int] = {}
        until = {}
        for message in self.snapshots:
            latest[_key(message)] = message["total"]["requests"]
            until[message["at"]] = sum(latest.values())
        return until

    @property
    def requests_total(self) -> int:
        return sum(m["total"]["requests"] for m in self.finals)


def load_maker(environ: Mapping[str, str]) -> Callable[[TestPlan, int], LoadRun]:
    """How this node runs its part of a run: ``LoadRun``, or with REPLAY_ENV set, a
    ``ReplayedLoad`` of that recording. Raises RecordingError."""
    path = environ.get(REPLAY_ENV, "").strip()
    if not path:
        return LoadRun
    recording = Recording.read(Path(path))
    log_event(
        log,
        "replaying_metrics",
        level=logging.WARNING,
        file=path,
        requests=recording.requests_total,
        why="test-only: this node sends no request, it replays a recorded run",
    )
    return functools.partial(ReplayedLoad, recording=recording)


class ReplayedLoad(LoadRun):
    """A ``LoadRun`` whose workers are a recording: no process, no request."""

    def __init__(self, plan: TestPlan, workers: int, *, recording: Recording) -> None:
        super().__init__(plan, workers)
        self._recording = recording
        self._fed = 0  # the recording's snapshots taken so far
        self._shift = 0  # s of the run before the recording's second 0 (a late join)
        self._latest: dict[Hashable, dict[str, Any]] = {}
        self._feed: asyncio.Task[None] | None = None

    async def _spawn_all(self) -> None:
        """Nothing to spawn: the recording stands for the workers."""

    def _start_all(self, join_at: float) -> None:
        self._shift = math.ceil(max(join_at - self.run_start, 0.0))
        self._feed = asyncio.ensure_future(self._replay())

    async def _replay(self) -> None:
        snapshots = self._recording.snapshots
        while self._fed < len(snapshots):
            at = snapshots[self._fed]["at"] + self._shift
            await asyncio.sleep(max(0.0, self.run_start + at - monotonic()))
            self._take_due(at)

    def _take_due(self, until: float) -> None:
        """Take every snapshot due by second ``until`` of the run."""
        snapshots, due = self._recording.snapshots, []
        while self._fed < len(snapshots):
            at = snapshots[self._fed]["at"] + self._shift
            if at > until + _SLACK_S:
                break
            due.append({**snapshots[self._fed], "at": at})
            self._fed += 1
        self._take(due)

    def _take(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._latest[_key(message)] = message
            self.totals.update(message)
            if self.seconds is not None:
                self.seconds.observe(_key(message), message)
        if messages and self.seconds is not None:
            # Every worker of the recording has reported as of these: no one to wait for.
            self.seconds.close_ready((), monotonic() - self.run_start)

    async def _finish_all(self) -> None:
        feed, self._feed = self._feed, None
        if feed is None:
            return  # never started (a prepared run closed), or finished already
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        self._take_due(self.elapsed)
        if self._fed == len(self._recording.snapshots):
            self._take(list(self._recording.finals))
        else:
            self._take([{**m, "type": "final", "at": None} for m in self._latest.values()])


def _key(message: dict[str, Any]) -> Hashable:
    return (message["slot"], message["incarnation"])


def _to_json(message: dict[str, Any]) -> dict[str, Any]:
    return _each_stats(message, lambda s: {**s, "latency": s["latency"].decode("ascii")})


def _from_json(message: dict[str, Any]) -> dict[str, Any]:
    def stats(s: dict[str, Any]) -> dict[str, Any]:
        status = {int(code): n for code, n in s["status"].items()}  # JSON keys are text
        return {**s, "status": status, "latency": s["latency"].encode("ascii")}

    return _each_stats(message, stats)


def _each_stats(
    message: dict[str, Any], convert: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """The message with its total's and each step's stats converted."""
    steps = {key: convert(stats) for key, stats in message["steps"].items()}
    return {**message, "total": convert(message["total"]), "steps": steps}
