"""Cluster runs: the leader commits a run record for each new plan; every node runs its share.

The run record is ``{run_id, plan_sha256, start_at, end_at, shares, state}``. ``start_at``
is the leader's wall clock plus a lead, so every node's first arrival is due at the same
instant; ``shares`` maps each member's node id to ``{index, count, fraction}``. Open
models give each node ``fraction`` of the rate on the same curve in time (a ramp is the
cluster's ramp, not N ramps out of phase); the closed model gives it its part of the
users. A node that learns of a run late joins the curve where it is, owing nothing from
before. A new plan supersedes the run in progress.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from time import monotonic
from typing import Any

from loadtest_supervisor.cluster.contracts import Consensus, NodeStatus
from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.engine.runner import LoadRun, RunWindow, split
from loadtest_supervisor.engine.scenario import SetupError
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.results.document import build_results

log = logging.getLogger("loadtest.run")


def shares(members: list[str]) -> dict[str, dict[str, Any]]:
    """An equal part for each member, indexed in a stable order."""
    ordered = sorted(members)
    return {
        member: {"index": i, "count": len(ordered), "fraction": 1 / len(ordered)}
        for i, member in enumerate(ordered)
    }


def node_plan(plan: TestPlan, share: dict[str, Any]) -> TestPlan:
    """The plan one node runs: a closed model's users split among the nodes."""
    if plan.load.model != "Concurrent":
        return plan
    users = split(plan.load.concurrency, share["count"])[share["index"]]
    return plan.model_copy(update={"load": plan.load.model_copy(update={"concurrency": users})})


class RunKeeper:
    def __init__(
        self,
        consensus: Consensus,
        view: ClusterView,
        node_id: str,
        tell: Callable[..., None],
        start_lead: float,
    ) -> None:
        self._consensus = consensus
        self._start_lead = start_lead
        self._view = view
        self._node_id = node_id
        self._tell = tell
        self._local: tuple[str, asyncio.Task[None], asyncio.Event] | None = None
        self._proposing = False
        self._end_timer: asyncio.TimerHandle | None = None

    def on_committed(self, state: dict[str, Any]) -> None:
        """Every node: follow the committed run. The leader: start a run for a new plan."""
        run = state.get("run")
        self._follow(run, state.get("config"))
        if node_state(self._view.status) == "leader":
            asyncio.ensure_future(self._lead(state))

    def on_status(self, status: NodeStatus) -> None:
        if node_state(status) == "leader":
            asyncio.ensure_future(self._lead(self._consensus.committed()))

    async def stop(self) -> None:
        if self._end_timer is not None:
            self._end_timer.cancel()
        if self._local is not None:
            _, task, stop = self._local
            stop.set()
            await asyncio.gather(task, return_exceptions=True)

    # --- the leader ---

    async def _lead(self, state: dict[str, Any]) -> None:
        config, run = state.get("config"), state.get("run") or {}
        if config is None or self._proposing:
            return
        now = time.time()
        if run.get("plan_sha256") == config["sha256"]:
            if run.get("state") == "running" and now >= run["end_at"]:
                await self._propose({"run": {**run, "state": "finished"}})
            elif run.get("state") == "running":
                # Mark it finished at its end, unless leadership or the run changes first.
                if self._end_timer is not None:
                    self._end_timer.cancel()
                self._end_timer = asyncio.get_running_loop().call_later(
                    run["end_at"] - now + 0.1, self.on_status, self._consensus.status()
                )
            return
        plan = load_plan_text(config["yaml"], config["source"])
        status = self._consensus.status()
        members = [status.node_ids.get(address, address) for address in status.members]
        start_at = now + self._start_lead
        record = {
            "run_id": uuid.uuid4().hex[:12],
            "plan_sha256": config["sha256"],
            "start_at": start_at,
            "end_at": start_at + plan.load.duration,
            "shares": shares(members),
            "state": "running",
        }
        if run.get("state") == "running":
            log_event(log, "run_superseded", run_id=run["run_id"])
        await self._propose({"run": record})
        log_event(log, "run_committed", run_id=record["run_id"], nodes=len(members))

    async def _propose(self, command: dict[str, Any]) -> None:
        self._proposing = True
        try:
            await self._consensus.propose(command)
        except Exception as exc:  # no quorum now, or deposed: the next leader does it
            log_event(log, "run_commit_failed", level=logging.WARNING, error=repr(exc))
        finally:
            self._proposing = False

    # --- every node ---

    def _follow(self, run: dict[str, Any] | None, config: dict[str, Any] | None) -> None:
        running = run is not None and run["state"] == "running"
        local_id = self._local[0] if self._local is not None else None
        if self._local is not None and (not running or run["run_id"] != local_id):
            self._local[2].set()  # superseded, stopped or finished early
            self._local = None
        share = (run or {}).get("shares", {}).get(self._node_id)
        if not running or share is None or config is None or local_id == run["run_id"]:
            return
        if config["sha256"] != run["plan_sha256"]:
            return  # the leader is about to supersede it
        stop = asyncio.Event()
        task = asyncio.ensure_future(self._run_local(run, config, share, stop))
        self._local = (run["run_id"], task, stop)

    async def _run_local(
        self,
        run: dict[str, Any],
        config: dict[str, Any],
        share: dict[str, Any],
        stop: asyncio.Event,
    ) -> None:
        plan = load_plan_text(config["yaml"], config["source"])
        mine = node_plan(plan, share)
        # Wall-clock instants from the leader, as this node's monotonic clock reads them.
        to_monotonic = monotonic() - time.time()
        start, end = run["start_at"] + to_monotonic, run["end_at"] + to_monotonic
        window = RunWindow(start, end, max(start, monotonic()))
        workers = plan.load.workers or os.cpu_count() or 1
        try:
            load = LoadRun(mine, workers, share["fraction"])
        except SetupError as exc:
            log_event(log, "run_cannot_start", level=logging.ERROR, error=str(exc))
            return
        self._view.set_totals(load.totals)
        late = window.join_at - window.start
        log_event(
            log,
            "cluster_run_started",
            run_id=run["run_id"],
            share=round(share["fraction"], 4),
            late_s=round(late, 3),
        )
        self._tell("loadtest_run_started", run={**run, "share": share})
        outcome = await load.run(stop, window)
        results = build_results(mine, outcome)
        self._view.set_results(results)
        log_event(
            log, "cluster_run_finished", run_id=run["run_id"], requests=results["requests_total"]
        )
        self._tell("loadtest_run_finished", run=run, results=results)
