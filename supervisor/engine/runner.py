"""The supervisor side of a run: starts the workers, gathers their snapshots, restarts the dead.

Load is generated only in worker processes, so the supervisor's event loop stays
free for the HTTP API and, in cluster mode, for heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from time import monotonic, time
from typing import Any

from loadtest_supervisor.config.load_models import rate_bound_warning, rate_curve
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.feeder import (
    IDLE_WHY,
    STANDALONE,
    FeedPlace,
    NodePlace,
    idle_workers,
)
from loadtest_supervisor.engine.saturation import SaturationWatch
from loadtest_supervisor.engine.scenario import SetupError, compile_plan
from loadtest_supervisor.engine.worker import STOP_GRACE, worker_main
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.metrics.timeline import Second, SecondsRecorder

log = logging.getLogger("loadtest.engine")

START_LEAD = 0.2  # s between "everyone is ready" and the first request
READY_TIMEOUT = 60.0
# A slot that keeps dying is not restarted forever: a worker that cannot live
# would otherwise burn the machine's CPU respawning.
MAX_RESTARTS_PER_SLOT = 5


@dataclass(frozen=True)
class RunWindow:
    """When a run's curve starts and ends, and when this node joins it (monotonic s).

    A cluster node gets its window from the committed run record; one that learns of a
    run late joins at ``join_at`` on the same curve and owes nothing from before.
    """

    start: float
    end: float
    join_at: float


@dataclass
class RunOutcome:
    totals: RunTotals
    duration_s: float
    worker_restarts: int
    interrupted: bool
    # The run's seconds so far (metrics.timeline), and its start on the wall clock.
    seconds: list[Second] = field(default_factory=list)
    start_wall: float = 0.0


@dataclass
class _Worker:
    slot: int
    incarnation: int
    process: BaseProcess
    pipe: Pipe
    ready: asyncio.Future[None]
    done: asyncio.Future[None]
    started: bool = field(default=False)


class LoadRun:
    """One run of a test plan on this machine's workers, in two steps.

    ``prepare()`` spawns the workers and waits until each is ready; idle, they block on
    their pipe. ``run()`` (which prepares first if that was not done) sends them the
    start. A cluster node prepares when a plan is committed, so that its workers are up
    when the run's ``start_at`` comes; standalone just runs.

    ``share`` is this machine's part of an open model's rate (a cluster node's share;
    1 alone). ``users`` is a closed model's users on this machine (the plan's
    concurrency alone; a cluster node's part, 0 included). Both can change during the
    run, in place. The number of workers is fixed at ``min(workers, concurrency)`` of
    the plan as given (a cluster node is given the whole plan, so it never has more
    workers than the cluster has users); a closed model's users are spread over them
    as evenly as integers allow.
    """

    def __init__(
        self, plan: TestPlan, workers: int, share: float = 1.0, node: NodePlace = STANDALONE
    ) -> None:
        # Compile once here so bad TLS material fails before any process starts.
        compile_plan(plan)
        self.plan = plan
        self.closed = rate_curve(plan.load) is None
        self.worker_count = max(1, min(workers, plan.load.concurrency))
        self.share = share
        # This machine's place in a cluster run (its ``${node_index}``, its slice of the
        # plan's data): set before run() by a node that prepared the workers earlier.
        self.node = node
        self.users = plan.load.concurrency if self.closed else 0
        self.totals = RunTotals()
        self.saturation = SaturationWatch()
        self.run_start = 0.0
        self.run_end = 0.0
        self.start_wall = 0.0  # run_start on the wall clock
        self.seconds: SecondsRecorder | None = None  # from the start
        self.restarts = 0
        self._workers: dict[int, _Worker] = {}
        self._restarts_by_slot: dict[int, int] = {}
        self._stopping = False
        self._prepared: asyncio.Future[None] | None = None
        self._ctx = multiprocessing.get_context("spawn")

    def outcome_so_far(self) -> RunOutcome | None:
        """The run as it stands, for a live results document; None before it starts."""
        if not self.run_start:
            return None
        seconds = list(self.seconds.seconds) if self.seconds else []
        return RunOutcome(
            self.totals, max(self.elapsed, 1e-9), self.restarts, False, seconds, self.start_wall
        )

    @property
    def elapsed(self) -> float:
        return max(0.0, min(monotonic(), self.run_end) - self.run_start) if self.run_start else 0.0

    def prepare(self) -> Awaitable[None]:
        """Spawn the workers (once, however often called); done when each is ready.

        The spawn is scheduled when this returns, so a ``close()`` right after it
        cancels the spawn (or stops the workers) instead of missing it.
        """
        if self._prepared is None:
            self._prepared = asyncio.ensure_future(self._spawn_all())
        # Shielded: a caller that stops waiting must not abort the spawn for the others.
        return asyncio.shield(self._prepared)

    async def _spawn_all(self) -> None:
        for slot in range(self.worker_count):
            self._spawn(slot, 0)
        await self._wait_ready(list(self._workers.values()))

    async def run(self, stop: asyncio.Event, window: RunWindow | None = None) -> RunOutcome:
        """Run to the plan's duration (or ``window``) or until ``stop`` is set; always
        collects final stats."""
        try:
            await self.prepare()
            # A worker that died while idle has a replacement, perhaps not ready yet.
            await self._wait_ready(list(self._workers.values()))
            if window is None:
                start = monotonic() + START_LEAD
                window = RunWindow(start, start + self.plan.load.duration, start)
            elif window.join_at > window.start:
                # A node joining a run in progress owes nothing from before it could send:
                # its part begins when its workers are ready, not when it heard of the run
                # (a burst of catch-up would push the cluster over its rate).
                window = replace(window, join_at=max(window.join_at, monotonic()))
            self.run_start, self.run_end = window.start, window.end
            # The run's first instant on the wall clock: what a target's access log is
            # lined up with, and the timeline's time.
            self.start_wall = time() + window.start - monotonic()
            self.seconds = SecondsRecorder(
                window.end - window.start, int(max(window.join_at - window.start, 0.0))
            )
            self._start_all(window.join_at)
            connections = self.users if self.closed else self.plan.load.concurrency
            log_event(
                log,
                "run_started",
                workers=self.worker_count,
                connections=connections,
                start_at=round(self.start_wall, 6),
            )
            self._log_rate_bound()
            self._log_idle_workers()
            stop_wait = asyncio.ensure_future(stop.wait())
            await asyncio.wait([stop_wait], timeout=self.run_end - monotonic())
            stop_wait.cancel()
            interrupted = stop.is_set()
            stopped_at = min(monotonic(), self.run_end)
            self._stopping = True
            await self._finish_all()
        finally:
            self._stopping = True
            self._reap()
        duration = max(stopped_at - max(self.run_start, window.join_at), 1e-9)
        log_event(log, "run_finished", duration_s=round(duration, 3), interrupted=interrupted)
        self.seconds.close_all(stopped_at - self.run_start)
        return RunOutcome(
            self.totals,
            duration,
            self.restarts,
            interrupted,
            self.seconds.seconds,
            self.start_wall,
        )

    async def close(self) -> None:
        """Stop workers prepared for a run that is not going to happen (the plan changed)."""
        self._stopping = True
        await self._finish_all()
        self._reap()
        if self._prepared is not None:
            self._prepared.cancel()  # its workers are gone: it would wait for nothing
            await asyncio.gather(self._prepared, return_exceptions=True)

    def set_share(self, share: float) -> None:
        """Change this machine's part of an open model's rate, in place: the workers keep
        running and their connections stay open."""
        self.share = share
        if self.closed:
            return
        for worker in self._workers.values():
            if worker.started:
                _send(worker, ("share", self._rate_share(worker.slot)))

    def set_users(self, users: int) -> None:
        """Change a closed model's users on this machine, in place: each worker starts or
        removes users; a removed user's request in flight is answered and counted."""
        before = split(self.users, self.worker_count)
        self.users = users
        after = split(users, self.worker_count)
        for worker in self._workers.values():
            if worker.started and after[worker.slot] != before[worker.slot]:
                _send(worker, ("users", after[worker.slot]))

    def _connections(self, slot: int) -> int:
        """A worker's connections: its part of a closed model's users, or of an open
        model's connection pool (the plan's concurrency)."""
        total = self.users if self.closed else self.plan.load.concurrency
        return split(total, self.worker_count)[slot]

    def _rate_share(self, slot: int) -> float:
        concurrency = self.plan.load.concurrency
        return self.share * split(concurrency, self.worker_count)[slot] / concurrency

    def _start_all(self, join_at: float) -> None:
        """Send every worker the run's start (the run's window is set)."""
        for worker in list(self._workers.values()):
            self._start(worker, join_at)

    def _start(self, worker: _Worker, resume_at: float) -> None:
        """Send ``worker`` (ready) the run's start with its current part, once."""
        if worker.started or worker.done.done():
            return
        worker.started = True
        slot = worker.slot
        start = ("start", self.run_start, self.run_end, resume_at)
        part = (self._connections(slot), self._rate_share(slot), self._place(slot))
        _send(worker, (*start, *part))

    def _place(self, slot: int) -> FeedPlace:
        return FeedPlace(self.node, slot, self.worker_count)

    def _log_rate_bound(self) -> None:
        if self.closed or not self.share:
            return
        # A worker caps its own part of the rate (a cluster node's share of it included).
        busiest = max(self._rate_share(slot) for slot in range(self.worker_count))
        warning = rate_bound_warning(self.plan.load, busiest)
        if warning:
            log_event(log, "rate_above_bound", level=logging.WARNING, msg=warning)

    def _log_idle_workers(self) -> None:
        idle = idle_workers(self.plan.data, self.node, self.worker_count)
        if idle:
            log_event(log, "data_workers_idle", level=logging.WARNING, idle=idle, why=IDLE_WHY)

    def _spawn(self, slot: int, incarnation: int) -> _Worker:
        loop = asyncio.get_running_loop()
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main,
            args=(child, slot, incarnation, self.plan),
            name=f"loadtest-worker-{slot}",
            daemon=True,
        )
        process.start()
        # Our copy of the child's end must go, or our death would never read as EOF
        # there, nor the child's here.
        child.close()
        worker = _Worker(
            slot, incarnation, process, parent, loop.create_future(), loop.create_future()
        )
        self._workers[slot] = worker
        loop.add_reader(parent.fileno(), self._on_readable, worker)
        return worker

    async def _wait_ready(self, workers: list[_Worker]) -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in workers)), READY_TIMEOUT)
        except TimeoutError:
            raise SetupError(f"workers not ready after {READY_TIMEOUT:.0f}s") from None

    def _on_readable(self, worker: _Worker) -> None:
        try:
            message = worker.pipe.recv()
        except (EOFError, OSError):
            self._on_worker_gone(worker)
            return
        kind = message["type"]
        if kind == "ready":
            _settle(worker.ready)
        elif kind == "error":
            _settle(worker.ready, SetupError(message["message"]))
            _settle(worker.done)
        else:
            self.totals.update(message)
            self._cut_seconds(worker, message)
            if self._workers.get(worker.slot) is worker:
                self.saturation.observe(worker.slot, message.get("generator"))
            if kind == "final":
                _settle(worker.done)

    def _cut_seconds(self, worker: _Worker, message: dict[str, Any]) -> None:
        """Close the timeline's seconds every worker still sending has reported past."""
        seconds = self.seconds
        if seconds is None:
            return
        seconds.observe((worker.slot, worker.incarnation), message)
        live = [(w.slot, w.incarnation) for w in self._workers.values() if not w.done.done()]
        seconds.close_ready(live, monotonic() - self.run_start)

    def _on_worker_gone(self, worker: _Worker) -> None:
        asyncio.get_running_loop().remove_reader(worker.pipe.fileno())
        worker.pipe.close()
        worker.process.join(timeout=1)
        exitcode = worker.process.exitcode
        if worker.done.done():
            return
        _settle(worker.done)
        if self._workers.get(worker.slot) is worker:
            self.saturation.forget(worker.slot)
        if not worker.ready.done():
            _settle(worker.ready, SetupError(f"worker {worker.slot} exited with code {exitcode}"))
            return
        log_event(
            log,
            "worker_died",
            slot=worker.slot,
            incarnation=worker.incarnation,
            exitcode=exitcode,
            level=logging.WARNING,
        )
        if self._stopping or self._workers.get(worker.slot) is not worker:
            return
        count = self._restarts_by_slot.get(worker.slot, 0)
        if count >= MAX_RESTARTS_PER_SLOT:
            log_event(
                log, "worker_abandoned", slot=worker.slot, restarts=count, level=logging.ERROR
            )
            return
        self._restarts_by_slot[worker.slot] = count + 1
        self.restarts += 1
        replacement = self._spawn(worker.slot, worker.incarnation + 1)
        asyncio.ensure_future(self._start_replacement(replacement, died_at=monotonic()))

    async def _start_replacement(self, worker: _Worker, died_at: float) -> None:
        """Start a replacement on the run's own clock.

        In open models it owes the arrivals its predecessor missed since dying:
        they go out late, and their latency shows the outage.
        """
        try:
            await self._wait_ready([worker])
        except SetupError as exc:
            log_event(log, "worker_restart_failed", slot=worker.slot, error=str(exc))
            return
        log_event(log, "worker_restarted", slot=worker.slot, incarnation=worker.incarnation)
        if self.run_start and not self._stopping:
            self._start(worker, died_at)  # before the run, run() starts it

    async def _finish_all(self) -> None:
        live = [w for w in self._workers.values() if not w.done.done()]
        for worker in live:
            _send(worker, ("stop",))
        if live:
            await asyncio.wait([w.done for w in live], timeout=STOP_GRACE + 3)

    def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        for worker in self._workers.values():
            if not worker.pipe.closed:
                loop.remove_reader(worker.pipe.fileno())
                worker.pipe.close()
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


def _send(worker: _Worker, message: tuple[object, ...]) -> None:
    try:
        worker.pipe.send(message)
    except OSError:
        pass  # dead: its EOF is being handled, and a replacement starts with the news


def _settle(future: asyncio.Future[None], error: Exception | None = None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as integers allow."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
