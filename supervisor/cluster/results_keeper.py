"""The leader's side of cluster results: take every node's reports, merge, checkpoint, finish.

Each node sends its cumulative report of a run every ``CLUSTER_METRICS_INTERVAL``; the
newest report of each node incarnation wins, so a resend is harmless and a dead node's
last report stays counted. About once an interval the leader merges them into the
cluster results document. Nothing is lost when the leader dies: every
``CLUSTER_CHECKPOINT_INTERVAL`` it commits all the reports it holds
(``metrics_checkpoint``), and every interval its own (``leader_metrics``), so a new
leader starts from the committed reports and takes the nodes' newer ones as they resend.
When the run ends (its end, a stop, a new plan) the leader waits up to two intervals for
each live node's final report, then commits the final document as ``results``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from loadtest_supervisor.cluster.cluster_results import cluster_document
from loadtest_supervisor.cluster.cluster_timeline import (
    RunTimeline,
    timeline_events,
    with_committed_points,
)
from loadtest_supervisor.cluster.contracts import Consensus
from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.node_snapshot import NodeReport, from_text, to_text
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.metrics.timeline import timeline

log = logging.getLogger("loadtest.results")

# Runs the leader still merges at once: the current one and one it superseded.
MAX_RUNS = 2


@dataclass
class _RunReports:
    run: dict[str, Any]
    plan: TestPlan
    timeline: RunTimeline
    reports: dict[str, NodeReport] = field(default_factory=dict)  # by NodeReport.key
    ended_at: float | None = None  # monotonic, when the leader saw it end

    def offer(self, report: NodeReport) -> bool:
        # Seconds are by their own t: an older report's are as good as a newer one's.
        self.timeline.offer(report)
        held = self.reports.get(report.key)
        if held is not None and held.seq >= report.seq:
            return False
        self.reports[report.key] = report
        return True

    def finals_in(self) -> bool:
        """Every node with a share sent the final report of each of its parts."""
        final: dict[str, bool] = {}
        for report in self.reports.values():
            final[report.node_id] = final.get(report.node_id, True) and report.final
        return all(final.get(node_id, False) for node_id in self.run["shares"])

    def live_parts(self) -> list[str]:
        """The parts whose seconds the timeline waits for: those of nodes with a share
        that have not ended."""
        shares = self.run["shares"]
        return [r.key for r in self.reports.values() if r.node_id in shares and not r.final]


class ResultsKeeper:
    def __init__(
        self,
        consensus: Consensus,
        view: ClusterView,
        node_id: str,
        tell: Callable[..., None],
        plan_of: Callable[[dict[str, Any]], TestPlan | None],
        interval: float,
        checkpoint_interval: float,
        leader_time: Callable[[], float],
    ) -> None:
        self._consensus = consensus
        self._view = view
        self._node_id = node_id
        self._tell = tell
        self._plan_of = plan_of  # the plan of a run record, while it is known
        self._interval = interval
        self._checkpoint_interval = checkpoint_interval
        self._leader_time = leader_time
        self._runs: dict[str, _RunReports] = {}
        self._task: asyncio.Task[None] | None = None
        self._own_pending: asyncio.Future[bool] | None = None
        self._checkpointed_at = 0.0

    def lead(self, is_leader: bool) -> None:
        """Merge while leading; a new leader starts from what is committed."""
        if is_leader and self._task is None:
            self._runs.clear()
            self._task = asyncio.ensure_future(self._keep())
        elif not is_leader and self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        self.lead(False)

    def refusal(self, term: int) -> str | None:
        """Why a report sent in ``term`` would not be taken now, or None."""
        if node_state(self._view.status) != "leader" or self._task is None:
            return "not the leader"
        if term < self._view.status.term:
            return f"stale term {term}: the leader's is {self._view.status.term}"
        return None

    def offer(self, report: NodeReport) -> str | None:
        """Take a node's report; why not, or None when taken (or already held)."""
        refused = self.refusal(report.term)
        if refused is not None:
            return refused
        reports = self._runs.get(report.run_id) or self._start(report.run_id)
        if reports is not None and reports.offer(report) and report.node_id == self._node_id:
            self._commit_own(reports)
        # Otherwise its final document is committed already, or it is a run this leader
        # never knew (superseded before it was elected): nothing to add either way.
        return None

    def committed_document(self, run_id: str = "") -> dict[str, Any] | None:
        """The results as the committed state has them: the final document of the run
        that ended last, or the current run's from its last checkpoint (``run_id``: only
        that run's)."""
        committed = self._consensus.committed()
        run, final = committed.get("run"), committed.get("results")
        if final is not None:
            final = with_committed_points(final, committed)
        if run_id:
            if final is not None and final["run"]["run_id"] == run_id:
                return final
            if run is None or run["run_id"] != run_id:
                return None
        if run is None or (final is not None and final["run"]["run_id"] == run["run_id"]):
            return final
        plan = self._plan_of(run)
        if plan is None:
            return final
        return self._document(_committed_reports(committed, run, plan), final=False)

    # --- the leader's loop ---

    async def _keep(self) -> None:
        while True:
            try:
                await self._merge_once()
            except Exception as exc:  # a bad report must not stop the merging
                log_event(log, "merge_failed", level=logging.ERROR, error=repr(exc))
            await asyncio.sleep(self._interval)

    async def _merge_once(self) -> None:
        committed = self._consensus.committed()
        run = committed.get("run")
        for record in _runs_to_merge(committed):
            if record["run_id"] not in self._runs:
                self._start(record["run_id"])
        for run_id, reports in list(self._runs.items()):
            reports.timeline.adopt(committed)
            current = run is not None and run["run_id"] == run_id
            if current:
                reports.run = run
            elif reports.run["state"] == "running":
                reports.run = {**reports.run, "state": "superseded"}
            over = reports.run["state"] != "running" or self._leader_time() >= run_end(reports.run)
            if not over:
                reports.timeline.close(reports.live_parts(), self._leader_time(), final=False)
                document = self._document(reports, final=False)
                self._view.cluster_results = document
                self._tell("loadtest_metrics_aggregated", results=document)
                await self._append_timeline(reports)
                await self._checkpoint(reports)
                continue
            if reports.ended_at is None:
                reports.ended_at = time.monotonic()
            waited = time.monotonic() - reports.ended_at
            if reports.finals_in() or waited >= 2 * self._interval:
                await self._finish(reports, current)

    def _start(self, run_id: str) -> _RunReports | None:
        """Begin merging the committed run ``run_id``, from its checkpoint if any."""
        committed = self._consensus.committed()
        run = next((r for r in _runs_to_merge(committed) if r["run_id"] == run_id), None)
        if run is None:
            return None
        plan = self._plan_of(run)
        if plan is None:
            return None
        reports = _committed_reports(committed, run, plan)
        if len(self._runs) >= MAX_RUNS:
            self._runs.pop(next(iter(self._runs)))
        self._runs[run_id] = reports
        self._note_leader_change(reports, committed)
        log_event(log, "merging_run", run_id=run_id, from_checkpoint=len(reports.reports))
        return reports

    def _note_leader_change(self, reports: _RunReports, committed: dict[str, Any]) -> None:
        """A leader taking over a run another leader was merging (it committed reports of
        it) marks the change on the timeline, once per term."""
        run_id, term = reports.run["run_id"], self._view.status.term
        merged_before = any(
            (committed.get(part) or {}).get("run_id") == run_id
            for part in ("metrics_checkpoint", "leader_metrics")
        )
        noted = any(
            e["kind"] == "leader_changed" and e["term"] == term for e in reports.timeline.events
        )
        if merged_before and not noted:
            reports.timeline.note("leader_changed", self._node_id, self._leader_time(), term)

    def _document(self, reports: _RunReports, final: bool) -> dict[str, Any]:
        reports_now = reports.reports.values()
        events = timeline_events(reports.run, reports_now, reports.timeline.events)
        return cluster_document(
            reports.plan,
            reports.run,
            reports_now,
            self._leader_time(),
            final,
            # A copy: the document handed out must not grow with the next points.
            timeline(list(reports.timeline.points), events),
        )

    async def _append_timeline(self, reports: _RunReports) -> None:
        """Commit the points (and events) made since the last commit: a few at a time,
        never the whole timeline."""
        command = reports.timeline.append_command()
        if command is not None and await self._propose({"timeline_append": command}):
            reports.timeline.committed_now(command)

    async def _checkpoint(self, reports: _RunReports) -> None:
        now = time.monotonic()
        if now - self._checkpointed_at < self._checkpoint_interval:
            return
        held = _held(reports.run["run_id"], reports.reports.values())
        if await self._propose({"metrics_checkpoint": held}):
            self._checkpointed_at = now

    def _commit_own(self, reports: _RunReports) -> None:
        """Commit the leader's own latest report at once: it is the one report no other
        node holds, so its commit bounds what the leader's death loses."""
        if self._own_pending is not None and not self._own_pending.done():
            return  # one at a time; the next report goes next
        own = [r for r in reports.reports.values() if r.node_id == self._node_id]
        command = {"leader_metrics": _held(reports.run["run_id"], own)}
        self._own_pending = asyncio.ensure_future(self._propose(command))

    async def _finish(self, reports: _RunReports, current: bool) -> None:
        command: dict[str, Any] = {}
        if reports.run["state"] == "running":  # it reached its end: say so with its results
            reports.run = {**reports.run, "state": "finished"}
            command["run"] = reports.run
        reports.timeline.close((), self._leader_time(), final=True)
        document = self._document(reports, final=True)
        run_id = reports.run["run_id"]
        # The points are committed in the timeline part (the new ones with this): the
        # committed document refers to them rather than holding them twice.
        command["results"] = {**document, "timeline": {**document["timeline"], "points": None}}
        appended = reports.timeline.append_command()
        if appended is not None:
            command["timeline_append"] = appended
        if current:
            command["metrics_checkpoint"] = _held(run_id, reports.reports.values())
        if not await self._propose(command):
            return  # tried again next time round
        if appended is not None:
            reports.timeline.committed_now(appended)
        self._runs.pop(run_id, None)
        self._view.cluster_results = document
        finals = {r.node_id for r in reports.reports.values() if r.final}
        missing = sorted(set(reports.run["shares"]) - finals)
        log_event(
            log,
            "results_final",
            run_id=run_id,
            requests=document["requests_total"],
            passed=document["passed"],
            without_final_from=",".join(missing) or None,
        )
        self._tell("loadtest_metrics_aggregated", results=document)

    async def _propose(self, command: dict[str, Any]) -> bool:
        try:
            await self._consensus.propose(command)
        except Exception as exc:  # no quorum now, or deposed: the next leader does it
            log_event(log, "results_commit_failed", level=logging.WARNING, error=repr(exc))
            return False
        return True


def _runs_to_merge(committed: dict[str, Any]) -> list[dict[str, Any]]:
    """The committed run records whose final results are not committed yet: the run, and
    the one it superseded."""
    run = committed.get("run")
    if run is None:
        return []
    done = ((committed.get("results") or {}).get("run") or {}).get("run_id")
    return [r for r in (run.get("superseded"), run) if r is not None and r["run_id"] != done]


def _committed_reports(
    committed: dict[str, Any], run: dict[str, Any], plan: TestPlan
) -> _RunReports:
    """The reports of ``run`` in the committed checkpoint and the leader's own, newest,
    and its committed timeline."""
    reports = _RunReports(run, plan, RunTimeline.of(committed, run))
    for held in (committed.get("metrics_checkpoint"), committed.get("leader_metrics")):
        if held and held["run_id"] == run["run_id"]:
            for text in held["reports"]:
                reports.offer(from_text(text))
    return reports


def run_end(run: dict[str, Any]) -> float:
    """When a run's load ends, on the leader's clock."""
    return min(run["end_at"], run.get("stopped_at") or run["end_at"])


def _held(run_id: str, reports: Any) -> dict[str, Any]:
    # Seconds are committed as timeline points, not again inside the reports.
    return {"run_id": run_id, "reports": [to_text(replace(r, seconds=())) for r in reports]}
