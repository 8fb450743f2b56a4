"""Cluster runs: the leader commits a run record for each new plan; every node runs its share.

The run record is ``{run_id, plan_sha256, start_at, end_at, shares, state}``. ``start_at``
is the leader's wall clock plus a lead, so every node's first arrival is due at the same
instant; ``shares`` maps each member's node id to ``{index, count, fraction}``. Open
models give each node ``fraction`` of the rate on the same curve in time (a ramp is the
cluster's ramp, not N ramps out of phase); the closed model gives it its part of the
users. A node that learns of a run late joins the curve where it is, owing nothing from
before. A new plan supersedes the run in progress.

Every node spawns its workers for a plan when the plan is committed, so they are up at
the run's ``start_at``; a re-split changes a running node's rate or users in place.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from time import monotonic
from typing import Any

from loadtest_supervisor.cluster.cluster_timeline import committed_horizon
from loadtest_supervisor.cluster.contracts import Consensus, NodeStatus
from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.node_snapshot import NodeReport
from loadtest_supervisor.cluster.plan_keeper import CommitFailed
from loadtest_supervisor.cluster.run_triggers import due_slot, next_slot, starts_on_commit
from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.feeder import NodePlace
from loadtest_supervisor.engine.runner import LoadRun, RunOutcome, RunWindow
from loadtest_supervisor.engine.scenario import SetupError
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.metrics.run_totals import RunTotals
from loadtest_supervisor.results.document import build_results
from loadtest_supervisor.results.json_file import write_results_json

log = logging.getLogger("loadtest.run")

PREPARED_POLL_S = 0.01  # the leader waits on this, before the run's start_at lead


def shares(workers: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Each member's part, in proportion to its workers, indexed in a stable order."""
    ordered = sorted(workers)
    total = sum(workers.values())
    return {
        member: {
            "index": i,
            "count": len(ordered),
            "workers": workers[member],
            "fraction": workers[member] / total,
        }
        for i, member in enumerate(ordered)
    }


def node_users(users: int, node: str, all_shares: dict[str, dict[str, Any]]) -> int:
    """``node``'s part of a closed model's ``users``, split by the shares so that the parts
    add up to ``users`` exactly; it may be 0 (the node sits out until a re-split)."""
    before = sum(
        s["fraction"] for s in all_shares.values() if s["index"] < all_shares[node]["index"]
    )
    upto = before + all_shares[node]["fraction"]
    # Half up, not Python's half-to-even, so the larger shares get the odd users.
    return int(users * upto + 0.5) - int(users * before + 0.5)


# A node back from a partition looks at the run again after this: its log has caught up.
REJOIN_AFTER_S = 1.0
# A part starts on the committed state this long after an entry asks for it, so that the
# entries applied with it are applied too (well inside CLUSTER_START_LEAD).
START_SETTLE_S = 0.1
# A node stops resending the final report of a run whose final document is not
# committed after this long (the leader gave up on it, or none was elected).
REPORT_FINAL_FOR_S = 30.0


# The most timeline seconds one report carries (each ~1 KB with its histogram).
MAX_SECONDS_SENT = 30


@dataclass
class _LocalRun:
    """This node's part of a run."""

    run_id: str
    plan_sha256: str
    plan: TestPlan
    shares: dict[str, dict[str, Any]]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    load: LoadRun | None = None
    window: RunWindow | None = None
    joined_at: float = 0.0  # leader's clock
    seq: int = 0
    final: NodeReport | None = None
    ended: float = 0.0  # monotonic
    over: bool = False
    # This part of the run here: a node that runs a run again (back from a partition,
    # after a restart) runs a new part, counted besides the earlier ones.
    part_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def share(self, node_id: str) -> float:
        """The node's fraction of the run now (0 once it has none)."""
        return float(self.shares.get(node_id, {}).get("fraction", 0.0))


@dataclass
class _Prepared:
    """Workers spawned for the committed plan's next run, idle until it starts."""

    plan_sha256: str
    load: LoadRun
    task: asyncio.Task[None]  # load.prepare(), which says when it fails


class RunKeeper:
    def __init__(
        self,
        consensus: Consensus,
        view: ClusterView,
        node_id: str,
        tell: Callable[..., None],
        start_lead: float,
        reshare_after: float,
        orphan_grace: float,
        workers: int,
        leader_time: Callable[[], float],
        results_dir: Path,
        peers_prepared: Callable[[str], Awaitable[None]],
        new_load: Callable[[TestPlan, int], LoadRun] = LoadRun,
    ) -> None:
        self._consensus = consensus
        # What runs this node's part: LoadRun, or a test-only replay (engine.replayed_load).
        self._new_load = new_load
        self._view = view
        self._node_id = node_id
        self._tell = tell
        self._start_lead = start_lead
        self._workers = workers
        self._leader_time = leader_time
        self._plans: dict[str, TestPlan] = {}  # by sha256: committed plans, validated once
        # A member unreachable this long loses its share, so the new shares are
        # committed and applied within CLUSTER_RESHARE_AFTER of its death.
        self._give_up_after = reshare_after * 2 / 3
        self._orphan_grace = orphan_grace
        self._orphaned: asyncio.TimerHandle | None = None
        self._local: _LocalRun | None = None
        # The runs this node reports to the leader: its part now, and parts that ended
        # until their final report is in the committed results.
        self._reporting: dict[str, _LocalRun] = {}  # by part_id
        self._results_dir = results_dir
        self._prepared: _Prepared | None = None
        self._peers_prepared = peers_prepared
        # The wait for every node's workers, once per set of this node's prepared workers.
        self._ready: tuple[_Prepared, asyncio.Future[None]] | None = None
        self._starting: asyncio.TimerHandle | None = None
        self._proposing = False
        self._unreachable_since: dict[str, float] = {}
        # Non-voting members seen following this leader (address -> node id, workers):
        # one whose stream ends is in no status any more, yet gets a dead voter's grace.
        self._nonvoters: dict[str, tuple[str, int]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def on_committed(self, state: dict[str, Any]) -> None:
        """Every node: follow the committed run, and have workers ready for the committed
        plan's next run. The leader: start a run for a new plan."""
        self._follow(state.get("run"), state.get("config"))
        self._prepare(state.get("config"))
        if node_state(self._view.status) == "leader":
            asyncio.ensure_future(self._lead(state))

    def on_status(self, status: NodeStatus) -> None:
        state = node_state(status)
        if state == "leader":
            asyncio.ensure_future(self._lead(self._consensus.committed()))
        else:
            self._unreachable_since.clear()
            self._nonvoters.clear()
        if state == "forming":
            self._orphan_watch()
        elif self._orphaned is not None:
            self._orphaned.cancel()
            self._orphaned = None
            # Back: follow the run as it is once the log has caught up. Following the
            # state from before the cut would start a part on a share that the entries
            # it missed have moved (each entry applied also calls on_committed).
            asyncio.get_running_loop().call_later(REJOIN_AFTER_S, self._follow_committed)

    def _follow_committed(self) -> None:
        committed = self._consensus.committed()
        self._follow(committed.get("run"), committed.get("config"))

    def _orphan_watch(self) -> None:
        """Cut off from the quorum, a node keeps its share for CLUSTER_ORPHAN_GRACE, then
        stops: the cluster has re-split its share by then, and would overshoot."""
        if self._orphaned is not None or self._local is None:
            return

        def give_up() -> None:
            if self._local is not None and node_state(self._consensus.status()) == "forming":
                log_event(
                    log,
                    "run_orphaned",
                    level=logging.WARNING,
                    run_id=self._local.run_id,
                    why=f"no leader with quorum for {self._orphan_grace:g}s",
                )
                self._local.stop.set()
                self._local = None

        self._orphaned = asyncio.get_running_loop().call_later(self._orphan_grace, give_up)

    async def stop_run(self, run_id: str = "") -> str:
        """The leader: stop the run in progress (only ``run_id``, when given); its id.

        Raises NoRunInProgress, or CommitFailed when it could not be committed.
        """
        run = self._consensus.committed().get("run") or {}
        if run.get("state") != "running" or run_id not in ("", run["run_id"]):
            raise NoRunInProgress(
                f"run {run_id} is not in progress" if run_id else "no run is in progress"
            )
        record = {**run, "state": "stopped", "stopped_at": time.time()}
        try:
            await self._consensus.propose({"run": record})
        except Exception as exc:  # no quorum now, or deposed
            raise CommitFailed(str(exc)) from exc
        log_event(log, "run_stopped", run_id=run["run_id"], why="asked through the API")
        return str(run["run_id"])

    async def stop(self) -> None:
        for timer in (*self._timers.values(), self._orphaned, self._starting):
            if timer is not None:
                timer.cancel()
        if self._local is not None and self._local.task is not None:
            self._local.stop.set()
            await asyncio.gather(self._local.task, return_exceptions=True)
        if self._prepared is not None:
            await self._prepared.load.close()

    # --- the leader ---

    async def _lead(self, state: dict[str, Any]) -> None:
        config, run = state.get("config"), state.get("run") or {}
        if config is None or self._proposing:
            return
        plan = self._plan(config)
        same_plan = run.get("plan_sha256") == config["sha256"]
        if same_plan and run.get("state") == "running":
            await self._keep_running(run, plan)
        if plan.run.schedule is not None:
            upcoming = next_slot(plan.run.schedule, time.time())
            if upcoming is not None:
                self._at(upcoming - time.time() + 0.05, "slot")
        trigger = self._trigger(state, plan, run if same_plan else {})
        if trigger is None or self._proposing:
            return
        prepared = self._prepared
        if prepared is not None and prepared.plan_sha256 == config["sha256"]:
            ready = self._ready
            if ready is None or ready[0] is not prepared or not ready[1].done():
                # Every node started this plan's workers when it was committed; a start_at
                # before they are all up would open the run with late nodes.
                if ready is None or ready[0] is not prepared:
                    ready = (prepared, asyncio.ensure_future(self._all_prepared(prepared)))
                    self._ready = ready
                await ready[1]
                await self._lead(self._consensus.committed())
                return
        start_at = time.time() + self._start_lead
        record = {
            "run_id": uuid.uuid4().hex[:12],
            "plan_sha256": config["sha256"],
            "start_at": start_at,
            "end_at": start_at + plan.load.duration,
            "shares": shares(self._live_members(plan)),
            "state": "running",
            # What this plan's runs have answered so far: never a request or slot twice.
            "request_id": run.get("request_id") if same_plan else None,
            "slot": run.get("slot") if same_plan else None,
            # The run it ends, as it was: whoever leads next still merges its results.
            "superseded": _superseded(run) if run.get("state") == "running" else None,
            **trigger,
        }
        if run.get("state") == "running":
            log_event(log, "run_superseded", run_id=run["run_id"])
        if await self._propose({"run": record}):
            log_event(
                log,
                "run_committed",
                run_id=record["run_id"],
                nodes=len(record["shares"]),
                why=next(iter(trigger), "plan"),
            )

    async def _all_prepared(self, prepared: _Prepared) -> None:
        await asyncio.wait([prepared.task])
        await self._peers_prepared(prepared.plan_sha256)

    async def prepared_within(self, plan_sha256: str, wait_s: float) -> bool:
        """Whether this node's workers for the plan are up, waiting up to ``wait_s`` for
        them (the plan's commit may not even have reached this node yet)."""
        deadline = monotonic() + wait_s
        while True:
            prepared, local = self._prepared, self._local
            if prepared is not None and prepared.plan_sha256 == plan_sha256:
                if prepared.task.done():
                    return True
            elif local is not None and local.plan_sha256 == plan_sha256 and not local.over:
                return True  # its run has them
            if monotonic() >= deadline:
                return False
            await asyncio.sleep(PREPARED_POLL_S)

    def _trigger(
        self, state: dict[str, Any], plan: TestPlan, run: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Why a new run of the committed plan starts now (the fields that say so), or None.

        ``run`` is the latest run of this same plan, or empty.
        """
        config = state["config"]
        request = state.get("run_request") or {}
        if request.get("plan_sha256") == config["sha256"] and request["id"] != run.get(
            "request_id"
        ):
            return {"request_id": request["id"]}
        if not run and starts_on_commit(plan):
            return {}
        if plan.run.schedule is not None:
            since = max(run.get("slot") or 0.0, config.get("committed_at", 0.0))
            slot = due_slot(plan.run.schedule, time.time(), since)
            if slot is not None:
                return {"slot": slot}
        return None

    async def _keep_running(self, run: dict[str, Any], plan: TestPlan) -> None:
        """Finish the run at its end; until then, keep its shares on the live members."""
        remaining = run["end_at"] - time.time()
        if remaining <= 0:
            await self._propose({"run": {**run, "state": "finished"}})
            return
        self._at(remaining + 0.1, "end")
        live = self._live_members(plan)
        if shares(live) != run["shares"]:
            now = time.time()
            lost = {member: now for member in set(run["shares"]) - set(live)}
            record = {
                **run,
                "shares": shares(live),
                "reshared_at": now,
                "lost": {**run.get("lost", {}), **lost},
            }
            if await self._propose({"run": record}):
                log_event(
                    log,
                    "run_reshared",
                    run_id=run["run_id"],
                    nodes=len(live),
                    lost=",".join(sorted(set(run["shares"]) - set(live))),
                    joined=",".join(sorted(set(live) - set(run["shares"]))),
                )

    def _live_members(self, plan: TestPlan) -> dict[str, int]:
        """The workers of each member reachable now, or not yet unreachable long enough to
        give up on; the plan's ``load.workers``, when it sets them, for every member."""
        status = self._consensus.status()
        reachable = set(status.reachable)
        for address in status.nonvoters:
            self._nonvoters[address] = (
                status.node_ids.get(address, address),
                status.workers.get(address, 1),
            )
        nodes = {a: (status.node_ids.get(a, a), status.workers.get(a, 1)) for a in status.members}
        nodes.update(self._nonvoters)
        now = monotonic()
        live = {}
        for address, (node_id, own_workers) in nodes.items():
            if address not in reachable:
                since = self._unreachable_since.setdefault(address, now)
                if now - since >= self._give_up_after:
                    if self._nonvoters.pop(address, None) is not None:
                        del self._unreachable_since[address]
                    continue
                self._at(since + self._give_up_after - now + 0.05, address)
            else:
                self._unreachable_since.pop(address, None)
            live[node_id] = plan.load.workers or own_workers
        return live

    def plan_of(self, run: dict[str, Any]) -> TestPlan | None:
        """The plan of ``run``: the committed one, or one still remembered."""
        config = self._consensus.committed().get("config") or {}
        if config.get("sha256") == run["plan_sha256"]:
            return self._plan(config)
        return self._plans.get(run["plan_sha256"])

    def reports(self, term: int) -> list[NodeReport]:
        """This node's cumulative reports to send the leader now."""
        final_id = ((self._consensus.committed().get("results") or {}).get("run") or {}).get(
            "run_id"
        )
        found = []
        for part_id, local in list(self._reporting.items()):
            done = local.final is not None
            stale = done and monotonic() - local.ended > REPORT_FINAL_FOR_S
            if local.run_id == final_id or stale:
                del self._reporting[part_id]
            elif done:
                found.append(replace(local.final, term=term))
            elif local.load is not None and local.window is not None:
                local.seq += 1
                found.append(self._report(local, local.load.totals, term))
        return found

    def _report(
        self,
        local: _LocalRun,
        totals: RunTotals,
        term: int,
        final: RunOutcome | None = None,
    ) -> NodeReport:
        assert local.load is not None and local.window is not None
        now = min(monotonic(), local.window.end)
        duration = max(now - local.window.join_at, 0.0) if final is None else final.duration_s
        recorder = local.load.seconds
        # The seconds the committed timeline lacks (a new leader, too, gets them all), the
        # newest MAX_SECONDS_SENT: with no leader committing for a long time, older ones
        # are made without this node rather than making every report grow.
        horizon = committed_horizon(self._consensus.committed(), local.run_id)
        unsent = [s for s in recorder.seconds if s.t >= horizon] if recorder else []
        seconds = tuple(unsent[-MAX_SECONDS_SENT:])
        return NodeReport(
            node_id=self._node_id,
            part_id=local.part_id,
            run_id=local.run_id,
            seq=local.seq,
            term=term,
            message=totals.message(worker_restarts=local.load.restarts),
            joined_at=local.joined_at,
            duration_s=duration,
            final=final is not None,
            interrupted=final is not None and final.interrupted,
            share=local.share(self._node_id),
            seconds=seconds,
            seconds_closed=recorder.closed_until if recorder else 0,
        )

    def _plan(self, config: dict[str, Any]) -> TestPlan:
        plan = self._plans.get(config["sha256"])
        if plan is None:
            if len(self._plans) >= 4:
                self._plans.clear()  # only the run's plan and a new one are ever asked for
            data = (config.get("data") or {}).get("text")
            plan = load_plan_text(config["yaml"], config["source"], data=data)
            self._plans[config["sha256"]] = plan
        return plan

    def _at(self, delay: float, key: str) -> None:
        """Look at the run again after ``delay`` (one pending look per reason)."""
        if key in self._timers:
            self._timers[key].cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(
            delay, lambda: self.on_status(self._consensus.status())
        )

    async def _propose(self, command: dict[str, Any]) -> bool:
        self._proposing = True
        try:
            await self._consensus.propose(command)
        except Exception as exc:  # no quorum now, or deposed: the next leader does it
            log_event(log, "run_commit_failed", level=logging.WARNING, error=repr(exc))
            return False
        finally:
            self._proposing = False
        return True

    # --- every node ---

    def _follow(self, run: dict[str, Any] | None, config: dict[str, Any] | None) -> None:
        running = run is not None and run["state"] == "running"
        share = (run or {}).get("shares", {}).get(self._node_id) if running else None
        local = self._local
        if local is not None and (not running or run["run_id"] != local.run_id or not share):
            why = "no share here" if running and run["run_id"] == local.run_id else "run ended"
            log_event(log, "part_stopped", run_id=local.run_id, why=why)
            local.stop.set()  # superseded, stopped, finished early, or no longer ours
            self._local = local = None
        if local is not None and share is not None and run["shares"] != local.shares:
            local.shares = run["shares"]
            users = self._apply_share(local)
            log_event(
                log,
                "share_changed",
                run_id=local.run_id,
                share=round(share["fraction"], 4),
                **({"users": users} if users is not None else {}),
            )
        if local is None and self._starting is None and self._may_start(run, config):
            # Start on the state as it is once the entries applied together are all
            # applied: a node catching up on its log replays states that its later
            # entries undo (a share from before a partition, then the re-split).
            self._starting = asyncio.get_running_loop().call_later(START_SETTLE_S, self._start)

    def _may_start(self, run: dict[str, Any] | None, config: dict[str, Any] | None) -> bool:
        if run is None or run["state"] != "running" or config is None:
            return False
        if self._node_id not in run["shares"]:
            return False
        if config["sha256"] != run["plan_sha256"]:
            return False  # the leader is about to supersede it
        # Over already (a restarted node replaying its log): nothing to join.
        return bool(run["end_at"] > self._leader_time())

    def _start(self) -> None:
        self._starting = None
        committed = self._consensus.committed()
        run, config = committed.get("run"), committed.get("config")
        if self._local is not None or not self._may_start(run, config):
            return
        assert run is not None and config is not None
        self._local = _LocalRun(
            run["run_id"], run["plan_sha256"], self._plan(config), run["shares"]
        )
        self._local.task = asyncio.ensure_future(self._run_local(self._local, run))

    def _apply_share(self, local: _LocalRun) -> int | None:
        """Give the local run this node's share as committed, in place; returns a closed
        model's users here (None in open models, whose share is a part of the rate)."""
        load = local.load
        share = local.shares[self._node_id]
        if load is None:
            return None  # _run_local applies it once the run has its workers
        load.set_share(share["fraction"])
        if not load.closed:
            return None
        users = node_users(local.plan.load.concurrency, self._node_id, local.shares)
        load.set_users(users)
        return users

    def _prepare(self, config: dict[str, Any] | None) -> None:
        """Have this node's workers for the committed plan's next run spawned and idle, so
        that they are up at its start_at; stop those of a plan no longer committed."""
        sha = config["sha256"] if config is not None else None
        prepared = self._prepared
        if prepared is not None and prepared.plan_sha256 != sha:
            self._prepared = None
            asyncio.ensure_future(prepared.load.close())
        local = self._local
        if self._prepared is not None or config is None:
            return
        if local is not None and local.plan_sha256 == sha and not local.over:
            return  # a run of it has them now; the next set is spawned when it is over
        plan = self._plan(config)
        try:
            load = self._new_load(plan, plan.load.workers or self._workers)
        except SetupError as exc:
            log_event(log, "workers_not_prepared", level=logging.WARNING, error=str(exc))
            return
        task = asyncio.ensure_future(self._prepare_workers(load.prepare(), load, config["sha256"]))
        self._prepared = _Prepared(config["sha256"], load, task)

    async def _prepare_workers(self, ready: Awaitable[None], load: LoadRun, sha256: str) -> None:
        try:
            await ready
        except SetupError as exc:
            log_event(log, "workers_not_prepared", level=logging.WARNING, error=str(exc))
            return
        log_event(log, "workers_prepared", plan=sha256[:12], workers=load.worker_count)

    def _take_prepared(self, local: _LocalRun) -> LoadRun:
        """The workers prepared for this run's plan (perhaps still starting), or new ones."""
        prepared = self._prepared
        if prepared is not None and prepared.plan_sha256 == local.plan_sha256:
            self._prepared = None
            return prepared.load
        plan = local.plan
        return self._new_load(plan, plan.load.workers or self._workers)

    async def _run_local(self, local: _LocalRun, run: dict[str, Any]) -> None:
        try:
            await self._run_part(local, run)
        finally:
            local.over = True
            # Fresh workers for the plan's next run (an API request, a schedule's slot):
            # spawned now, after the run, not during it, where they would take its CPU.
            self._prepare(self._consensus.committed().get("config"))

    async def _run_part(self, local: _LocalRun, run: dict[str, Any]) -> None:
        plan = local.plan
        # Wall-clock instants from the leader, as this node's monotonic clock reads them
        # (through the measured offset between the two wall clocks).
        to_monotonic = monotonic() - self._leader_time()
        start, end = run["start_at"] + to_monotonic, run["end_at"] + to_monotonic
        window = RunWindow(start, end, max(start, monotonic()))
        local.window = window
        local.joined_at = max(run["start_at"], self._leader_time())
        try:
            local.load = self._take_prepared(local)
        except SetupError as exc:
            log_event(log, "run_cannot_start", level=logging.ERROR, error=str(exc))
            return
        share = local.shares[self._node_id]
        # Its place decides its ${node_index} and data rows, sent with the start.
        local.load.node = NodePlace(share["index"], share["count"])
        users = self._apply_share(local)
        self._view.set_totals(local.load.totals)
        self._reporting[local.part_id] = local
        log_event(
            log,
            "cluster_run_started",
            run_id=run["run_id"],
            share=round(share["fraction"], 4),
            late_s=round(window.join_at - window.start, 3),
            **({"users": users} if users is not None else {}),
        )
        self._tell("loadtest_run_started", run={**run, "share": share})
        try:
            outcome = await local.load.run(local.stop, window)
        except SetupError as exc:
            log_event(log, "run_cannot_start", level=logging.ERROR, error=str(exc))
            return
        local.seq += 1
        local.final = self._report(local, outcome.totals, 0, final=outcome)
        local.ended = monotonic()
        results = build_results(plan, outcome)
        results["run"] = {
            "run_id": run["run_id"],
            "state": self._how_it_ended(run["run_id"], outcome.interrupted),
            "index": share["index"],
            "count": share["count"],
        }
        self._view.set_results(results)
        # One file per part: a node back from a partition runs a second part of the run.
        name = f"results-{run['run_id']}-{local.part_id}.json"
        write_results_json(str(self._results_dir / name), results)
        log_event(
            log, "cluster_run_finished", run_id=run["run_id"], requests=results["requests_total"]
        )

    def _how_it_ended(self, run_id: str, interrupted: bool) -> str:
        """finished, stopped, superseded, or interrupted (this node's part ended early:
        orphaned, its share taken away, or the node stopping)."""
        now = self._consensus.committed().get("run") or {}
        if now.get("run_id") != run_id:
            return "superseded"
        if now["state"] == "stopped":
            return "stopped"
        return "interrupted" if interrupted else "finished"


def _superseded(run: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in run.items() if k != "superseded"}, "state": "superseded"}


class NoRunInProgress(Exception):
    """There is no run (or not the one named) to stop."""
