"""A load worker process: generates its share of the load and reports cumulative stats.

The supervisor talks to a worker over a pipe:

    supervisor -> worker
      ("start", run_start, run_end, resume_at, connections, rate_share, place)
          monotonic instants, then this worker's connections (a closed model's users),
          its part of an open model's rate and its FeedPlace (its node's place in the
          run, and so its data rows); a replacement worker owes the schedule's arrivals
          from resume_at (its predecessor's death) on
      ("share", rate_share)   its part of the rate from now on (a re-split), in place
      ("users", n)            a closed model's users from now on, in place: new users
                              start, removed ones finish the request in flight and stop
      ("stop",)               finish now
    worker -> supervisor
      {"type": "ready"}              compiled, connected to nothing yet
      {"type": "snapshot", ...}      every SNAPSHOT_INTERVAL on the run's grid: cumulative
                                     stats and counters, "at" (the grid instant, s since
                                     the run's start; None at the end), "in_flight"
                                     (requests written, not answered), and "generator":
                                     the worker's own CPU and loop lag
                                     (engine.saturation.LoadGauge)
      {"type": "final", ...}         last snapshot, then exit
      {"type": "error", "message"}   could not start

A worker is spawned before its run is known (a cluster node prepares its workers when a
plan is committed), so what it runs with arrives in "start". Until then it waits on its
pipe, using no CPU. A worker whose pipe closes (its supervisor died, kill -9 included)
stops at once, started or not, so no orphan keeps loading a target or lingers idle.
"""

from __future__ import annotations

import asyncio
import math
import random
import signal
from collections import deque
from multiprocessing.connection import Connection as Pipe
from time import monotonic
from typing import Any

from loadtest_supervisor.config.load_models import RateCurve, rate_curve
from loadtest_supervisor.config.models import DataSettings, TestPlan
from loadtest_supervisor.engine.arrivals import Arrivals
from loadtest_supervisor.engine.checks import CheckFailed, decode_json_if
from loadtest_supervisor.engine.feeder import Feed
from loadtest_supervisor.engine.http_client import Connection, TransportError, sweep_timeouts
from loadtest_supervisor.engine.saturation import LoadGauge
from loadtest_supervisor.engine.scenario import (
    CompiledPlan,
    Scenario,
    SetupError,
    Step,
    compile_plan,
)
from loadtest_supervisor.event_loop import run_loop
from loadtest_supervisor.metrics.stats import Stats

# A cluster node forwards its workers' snapshots to the leader: a short interval here
# keeps what a dying node loses near one CLUSTER_METRICS_INTERVAL, at ~1 ms of CPU a go.
SNAPSHOT_INTERVAL = 0.25
# Requests still in flight when the run ends get this long to finish and count.
STOP_GRACE = 2.0
TICK = 0.001
# A run stopped within this of its end counts as run to its end (its last arrivals go
# out up to this early rather than not at all).
END_SLACK = 0.01


class LoadWorker:
    def __init__(
        self,
        pipe: Pipe,
        slot: int,
        incarnation: int,
        plan: CompiledPlan,
        curve: RateCurve | None,
        data: DataSettings | None,
    ) -> None:
        self.pipe = pipe
        self.slot = slot
        self.incarnation = incarnation
        self.plan = plan
        self.curve = curve
        # Both arrive with "start" (and may change during the run).
        self.rate_share = 0.0
        self.users_wanted = 0
        # The plan's data rows; which of them are this worker's arrives with "start"
        # too (its node's place in the run).
        self._data = data
        self.feed: Feed | None = None
        self.running = False
        self.total = Stats()
        steps = [step for s in plan.scenarios for step in s.steps]
        # With one step the step's numbers are the total's: record them once.
        self.step_stats = (
            {steps[0].key: self.total} if len(steps) == 1 else {step.key: Stats() for step in steps}
        )
        self.arrivals: Arrivals | None = None  # an open model's, from "start"
        self.gauge = LoadGauge()
        self._connection_options = (
            plan.needs_headers,
            any(step.needs_body for step in steps),
            any(step.is_head for step in steps),
            all(step.request.keep_alive for step in steps),
        )
        self.connections: list[Connection] = []
        # Closed model: the users looping now, and the tasks of every user still going
        # (removed ones finish their request in flight, and it counts).
        self._users: list[_User | _ClosedLoop] = []
        self._user_tasks: set[asyncio.Task[None]] = set()
        self._closed_step: Step | None = None
        self._idle: deque[asyncio.Future[float | None]] = deque()
        self._control: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    # control pipe
    def _on_pipe_readable(self) -> None:
        try:
            message = self.pipe.recv()
        except (EOFError, OSError):
            message = ("stop",)
            asyncio.get_running_loop().remove_reader(self.pipe.fileno())
        kind = message[0]
        # What to run with is taken here, in pipe order, not when run() gets to the
        # start: a re-split sent just after the start must not be undone by it.
        if kind == "start":
            self.users_wanted, self.rate_share = message[4], message[5]
            self.feed = Feed(self._data, message[6])
        elif kind == "share":
            self.rate_share = message[1]  # the ticker reads it at its next tick
            return
        elif kind == "users":
            self.users_wanted = message[1]
            if self.running:
                self._resize_users()
            return
        self._control.put_nowait(message)

    @property
    def dropped(self) -> int:
        return self.arrivals.dropped if self.arrivals is not None else 0

    def _send(self, kind: str, at: float | None = None) -> None:
        """Send the cumulative figures; ``at``: the instant on the run's snapshot grid
        (seconds since its start) they are as of, None for the end's."""
        dropped = self.dropped
        gauge = self.gauge
        # The final one follows the stop grace, whose idling says nothing of the run:
        # it repeats the run's last interval (sampled by the snapshot at the run's end).
        generator = gauge.report() if kind == "final" else gauge.sample(dropped)
        snapshot = self.total.snapshot()
        steps = {
            key: snapshot if stats is self.total else stats.snapshot()
            for key, stats in self.step_stats.items()
        }
        try:
            self.pipe.send(
                {
                    "type": kind,
                    "slot": self.slot,
                    "incarnation": self.incarnation,
                    "total": snapshot,
                    "steps": steps,
                    "dropped": dropped,
                    "dropped_saturated": gauge.dropped_saturated,
                    "generator": generator,
                    "at": at,
                    "in_flight": sum(conn.busy for conn in self.connections),
                }
            )
        except (BrokenPipeError, OSError):
            self.running = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.pipe.fileno(), self._on_pipe_readable)
        self.pipe.send({"type": "ready"})
        message = await self._control.get()
        if message[0] != "start":
            self._send("final")
            return
        _, run_start, run_end, resume_at, *_ = message
        await asyncio.sleep(max(0.0, run_start - monotonic()))
        self.running = True
        sweeper_interval = min(0.1, max(0.005, self.plan.endpoint.request_timeout / 20))
        background = [
            asyncio.ensure_future(sweep_timeouts(self.connections, sweeper_interval)),
            asyncio.ensure_future(self._report(run_start)),
            self.gauge.start(run_start),
        ]
        loads: list[asyncio.Task[None]] | set[asyncio.Task[None]]
        if self.sits_out:
            loads = []  # no row of its own: any row it sent would be another worker's
        elif self.curve is None:
            self._closed_step = self._callback_driven_step()
            self._resize_users()
            loads = self._user_tasks
        else:
            # Only a worker that sends owes arrivals: one sitting out drops none.
            self.arrivals = Arrivals(self.curve, run_start, run_end, resume_at)
            # Into the list the sweeper already holds.
            self.connections.extend(self._connection() for _ in range(self.users_wanted))
            loads = [asyncio.ensure_future(self._open_runner(c)) for c in self.connections]
            background.append(asyncio.ensure_future(self._ticker()))
        stop_wait = asyncio.ensure_future(self._control.get())
        await asyncio.wait([stop_wait], timeout=max(0.0, run_end - monotonic()))
        # The supervisor's stop at the end and our own timer fire about together: a
        # stop that close to the end is the end.
        now = monotonic()
        end = run_end if now > run_end - END_SLACK else now
        if self.arrivals is not None:
            # The last tick, at the end itself: arrivals due since the previous tick go
            # to the connections waiting, as any others, and their answers count.
            self._tick(end)
        self.running = False
        if self.arrivals is not None:
            # Owed and not sent by the end (still queued): dropped.
            self.arrivals.close(end)
        # The run's last interval, measured now: the stop grace that follows idles,
        # and must not decide whether the drops just counted were the generator's.
        self._send("snapshot")
        stop_wait.cancel()
        for user in self._users:
            user.running = False
        while self._idle:
            self._idle.popleft().set_result(None)
        if loads:
            _, pending = await asyncio.wait(loads, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
        for task in background:
            task.cancel()
        for conn in list(self.connections):
            conn.close()
        self._send("final")

    def _connection(self) -> Connection:
        return Connection(self.plan.endpoint, *self._connection_options)

    # closed model: each user loops on a connection of its own, as fast as it is answered
    @property
    def sits_out(self) -> bool:
        return self.feed is not None and self.feed.sits_out

    def _resize_users(self) -> None:
        """Start or remove users until ``users_wanted`` loop; the worker keeps running."""
        if self.sits_out:
            return
        while len(self._users) < self.users_wanted:
            conn = self._connection()
            self.connections.append(conn)
            step = self._closed_step
            user = _ClosedLoop(self, conn, step) if step is not None else _User(self, conn)
            task = asyncio.ensure_future(user.run())
            self._user_tasks.add(task)
            task.add_done_callback(lambda done, conn=conn: self._user_gone(done, conn))
            self._users.append(user)
        while len(self._users) > self.users_wanted:
            # It stops once its request in flight is answered (and counted), so
            # removing a user never turns a request into an error.
            self._users.pop().running = False

    def _user_gone(self, task: asyncio.Task[None], conn: Connection) -> None:
        self._user_tasks.discard(task)
        conn.close()
        self.connections.remove(conn)

    async def _report(self, run_start: float) -> None:
        """Snapshot on the run's grid (every SNAPSHOT_INTERVAL from its start), so that
        every worker, of every node, has a snapshot at each whole second of the run: the
        timeline's seconds are the differences of those (metrics.timeline)."""
        tick = max(math.ceil((monotonic() - run_start) / SNAPSHOT_INTERVAL), 1)
        while self.running:
            await asyncio.sleep(max(0.0, run_start + tick * SNAPSHOT_INTERVAL - monotonic()))
            if not self.running:
                return
            self._send("snapshot", at=tick * SNAPSHOT_INTERVAL)
            # A loop late past a whole tick skips it rather than sending a burst.
            tick = max(tick + 1, math.ceil((monotonic() - run_start) / SNAPSHOT_INTERVAL))

    def _callback_driven_step(self) -> Step | None:
        """The plan's only step, if the closed loop can run it from connection callbacks.

        That is a closed model whose plan is one static request whose body is never
        read and that has no think time: the common "hammer one URL" run, where a
        task wake-up per request would be most of the engine's CPU (see _ClosedLoop).
        """
        scenarios = self.plan.scenarios
        if self.curve is not None or len(scenarios) != 1 or len(scenarios[0].steps) != 1:
            return None
        step = scenarios[0].steps[0]
        if step.request.static is None or step.needs_body or step.extractions or step.think_time:
            return None
        return step

    # open model: a ticker owes arrivals by the rate curve; connections serve them
    async def _ticker(self) -> None:
        while self.running:
            await asyncio.sleep(TICK)
            self._tick(monotonic())

    def _tick(self, now: float) -> None:
        arrivals = self.arrivals
        assert arrivals is not None  # set with the start, before the ticker
        arrivals.set_share(self.rate_share)  # a re-split applies from this tick
        due, first, step = arrivals.advance(now, TICK)
        # Waiting connections take the oldest arrivals, the queue what fits after
        # them, and the rest is dropped in one count: the cost of a tick does not
        # grow with the rate (engine.arrivals).
        idle = self._idle
        handed = min(due, len(idle))
        for i in range(handed):
            idle.popleft().set_result(first + i * step)
        if due > handed:
            arrivals.enqueue(due - handed, first + handed * step, step)

    async def _open_runner(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        arrivals = self.arrivals
        assert arrivals is not None
        while self.running:
            if arrivals.queued:
                intended = arrivals.take()
            else:
                waiter: asyncio.Future[float | None] = loop.create_future()
                self._idle.append(waiter)
                intended = await waiter
                if intended is None:
                    return
            await self._iteration(conn, self._pick(), intended, self)

    def _pick(self) -> Scenario:
        scenarios = self.plan.scenarios
        if len(scenarios) == 1:
            return scenarios[0]
        return random.choices(scenarios, cum_weights=self.plan.cumulative_weights)[0]

    async def _iteration(
        self, conn: Connection, scenario: Scenario, intended: float, owner: LoadWorker | _User
    ) -> None:
        """One pass through a scenario; a failed step ends the pass, and so does ``owner``
        (the worker, or a closed-model user) no longer running once a step is answered.

        In open models the first step's latency counts from ``intended``, the
        instant the schedule wanted it sent, so a slow server cannot hide the
        queueing it causes (coordinated omission).
        """
        assert self.feed is not None  # set by "start", before any pass
        variables = self.feed.next_variables()
        for step in scenario.steps:
            stats = self.step_stats[step.key]
            start = intended or monotonic()
            intended = 0.0
            needs_body = step.needs_body
            try:
                status = await conn.request(
                    step.request.render(variables), needs_body, step.is_head
                )
            except TransportError as exc:
                waited = int((monotonic() - start) * 1e6) if exc.kind == "timeout" else -1
                self._record(stats, 0, waited, exc.kind)
                return
            latency = int((monotonic() - start) * 1e6)
            checks = step.assertions
            error = status_error(status, checks.statuses if checks is not None else None)
            if error is None and (needs_body or step.extractions):
                try:
                    body = bytes(conn.body)
                    doc = decode_json_if(step.needs_json, body)
                    if checks is not None:
                        checks.check(status, body, doc)
                    for extraction in step.extractions:
                        variables[extraction.var] = extraction.extract(conn.headers, body, doc)
                except CheckFailed:
                    error = "assertion"
            self._record(stats, status, latency, error)
            if error is not None or not owner.running:
                return
            if step.think_time:
                await asyncio.sleep(step.think_time)
                if not owner.running:
                    return

    def _record(self, stats: Stats, status: int, latency_us: int, error: str | None) -> None:
        if stats is not self.total:
            stats.record(status, latency_us, error)
        self.total.record(status, latency_us, error)


def status_error(status: int, expected: frozenset[int] | None) -> str | None:
    """The error kind a response's status makes: off the step's expected list, or 4xx/5xx."""
    if expected is not None:
        return None if status in expected else "assertion"
    if status >= 400:
        return "http_5xx" if status >= 500 else "http_4xx"
    return None


class _User:
    """A closed-model virtual user looping its scenario on a connection of its own.

    Removed (``running`` False), it finishes the step in flight, which counts as any
    other, and stops: a re-split never cuts a request off.
    """

    def __init__(self, worker: LoadWorker, conn: Connection) -> None:
        self.worker = worker
        self.conn = conn
        self.running = True

    async def run(self) -> None:
        worker = self.worker
        while self.running:
            await worker._iteration(self.conn, worker._pick(), 0.0, self)


class _ClosedLoop:
    """A closed-model virtual user for a one-step static plan, run from callbacks.

    Each response's callback records it and writes the next request right there,
    on the connection that just answered. Awaiting ``Connection.request()`` instead
    costs a Future, a coroutine and a task wake-up through the event loop per
    request, which measured as most of the engine's Python time per request.
    Connecting, reconnecting after a failure and stopping go through ``run()``,
    a task that sleeps while the callbacks keep the connection busy. Removed
    (``running`` False), the user records the answer in flight and stops.
    """

    def __init__(self, worker: LoadWorker, conn: Connection, step: Step) -> None:
        self.worker = worker
        self.conn = conn
        self.payload = step.request.render({})
        self.head = step.is_head
        self.expected = step.assertions.statuses if step.assertions is not None else None
        # One step: its stats are the worker's total (see LoadWorker.step_stats).
        self.record = worker.total.record
        self.start = 0.0
        self.running = True
        self._stopped: asyncio.Future[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        conn = self.conn
        while self.running:
            # As in _iteration, a request's latency includes opening its connection.
            self.start = monotonic()
            if not conn.ready:
                try:
                    await conn.connect()
                except TransportError as exc:
                    self.record(0, -1, exc.kind)
                    continue
            self._stopped = loop.create_future()
            conn.send(self.payload, self._on_done, False, self.head)
            await self._stopped

    def _on_done(self, status: int, error: TransportError | None) -> None:
        now = monotonic()
        if error is None:
            expected = self.expected
            kind = None if expected is None and status < 400 else status_error(status, expected)
            self.record(status, int((now - self.start) * 1e6), kind)
            conn = self.conn
            # conn.ready, without a property call per request
            if self.running and conn.transport is not None:
                # The next request starts the moment this answer is in.
                self.start = now
                conn.send(self.payload, self._on_done, False, self.head)
                return
        else:
            waited = int((now - self.start) * 1e6) if error.kind == "timeout" else -1
            self.record(0, waited, error.kind)
        # A failure, a closed connection or the end of the run: back to run(),
        # unless run() was cancelled at the end of the stop grace.
        stopped = self._stopped
        if stopped is not None and not stopped.done():
            stopped.set_result(None)


def worker_main(
    pipe: Pipe,
    slot: int,
    incarnation: int,
    plan: TestPlan,
) -> None:
    """Entry point of a spawned worker process."""
    # Ctrl-C reaches the whole process group; the supervisor decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        compiled = compile_plan(plan)
    except SetupError as exc:
        pipe.send({"type": "error", "message": str(exc)})
        return
    worker = LoadWorker(pipe, slot, incarnation, compiled, rate_curve(plan.load), plan.data)
    run_loop(worker.run())
