"""The replicated state machine: small, JSON-only, and fenced by term.

A command is a dict updating any of ``config`` (``{"yaml", "sha256", "source",
"version", "committed_at"}``, and ``"data"`` when the plan names a data file),
``config_error`` (why the leader could not commit a plan,
or None), ``run_request`` (the latest ``POST /runs``: ``{"id", "plan_sha256"}``),
``run`` (the run record), ``metrics_checkpoint`` (every node's latest snapshot of the
run), ``leader_metrics`` (the leader's own, more often) and ``results`` (the final
document of the last run that ended),
plus the ``term`` of the leader that proposed it. ``timeline`` (each recent run's
timeline points and events, by run id) only grows: a command's ``timeline_append``
``{"run_id", "points", "events"}`` adds the points after the last one held and the events
not held yet, so a timeline is never committed whole, and a point never twice. It
travels through pysyncobj as one JSON string, so the only things pysyncobj pickles are a
string and its own internals.

Fencing: a command from a term older than the newest term already applied is
rejected, so a deposed leader's late command can never overwrite a newer leader's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pysyncobj import SyncObjConsumer, replicated

from loadtest_supervisor.plugins.raft.applied_log import AppliedLog

PARTS = (
    "config",
    "config_error",
    "run_request",
    "run",
    "metrics_checkpoint",
    "leader_metrics",
    "results",
    "timeline",
)
# Command keys that add to a part instead of replacing it.
APPENDS = {"timeline_append": "timeline"}
# Runs whose timeline the state keeps: the one going on, and the last that ended.
TIMELINE_RUNS = 2


class StaleTermError(Exception):
    """The command's term is older than one already applied."""


def validate_command(command: dict[str, Any]) -> None:
    """Refuse what apply would refuse, before it goes through Raft."""
    allowed = [*(p for p in PARTS if p not in APPENDS.values()), *APPENDS]
    unknown = sorted(set(command) - set(allowed))
    if unknown or not command:
        raise ValueError(f"a command updates some of {', '.join(allowed)}; got {unknown or '{}'}")


def apply_command(state: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    """The state after ``command`` (a new dict: readers on other threads keep theirs)."""
    term = command.get("term")
    if not isinstance(term, int):
        raise ValueError("command without a term")
    if term < state["term"]:
        raise StaleTermError(f"command from term {term}, already applied term {state['term']}")
    updates = {k: v for k, v in command.items() if k != "term"}
    if updates:  # an empty update is the new leader's fence: it only raises the term
        validate_command(updates)
    appended = updates.pop("timeline_append", None)
    if appended is not None:
        updates["timeline"] = timeline_appended(state.get("timeline") or {}, appended)
    return {**state, **updates, "term": term}


def timeline_appended(held: dict[str, Any], append: dict[str, Any]) -> dict[str, Any]:
    run_id = append["run_id"]
    timeline = held.get(run_id) or {"points": [], "events": []}
    points = timeline["points"]
    after = points[-1]["t"] if points else -1
    new_points = [p for p in append.get("points", []) if p["t"] > after]
    new_events = [e for e in append.get("events", []) if e not in timeline["events"]]
    runs = {k: v for k, v in held.items() if k != run_id}
    kept = dict(list(runs.items())[-(TIMELINE_RUNS - 1) :])
    kept[run_id] = {
        "points": [*points, *new_points],
        "events": [*timeline["events"], *new_events],
    }
    return kept


class ReplicatedState(SyncObjConsumer):
    """Holds the state; pysyncobj calls ``apply_json`` on every node, in log order, on
    its tick thread, and snapshots the attributes set below into its dump file. With
    ``applied_log``, each applied command is also written there with its Raft index."""

    def __init__(
        self,
        on_applied: Callable[[dict[str, Any]], None] | None = None,
        applied_log: AppliedLog | None = None,
    ) -> None:
        # Set before the base class records its own attributes: those are not
        # snapshotted, and a callback or a file cannot be.
        self.on_applied = on_applied
        self.applied_log = applied_log
        super().__init__()
        self.state: dict[str, Any] = {"term": 0, **dict.fromkeys(PARTS)}

    @replicated
    def apply_json(self, command_json: str) -> dict[str, Any]:
        command: Any = None
        try:
            command = json.loads(command_json)
            self.state = apply_command(self.state, command)
        except (StaleTermError, ValueError) as e:
            self._log_applied(command_json, command, ok=False)
            return {"ok": False, "error": str(e)}
        self._log_applied(command_json, command, ok=True)
        self._applied()
        return {"ok": True}

    def _deserialize(self, data: dict[str, Any]) -> None:
        super()._deserialize(data)  # a snapshot, loaded at start or sent by the leader
        if self.applied_log is not None:
            self.applied_log.snapshot()
        self._applied()

    def _log_applied(self, command_json: str, command: Any, ok: bool) -> None:
        if self.applied_log is not None and self._syncObj is not None:
            # pysyncobj counts an entry as applied after this call returns.
            index = self._syncObj.raftLastApplied + 1
            self.applied_log.applied(index, command_json, command, ok)

    def _applied(self) -> None:
        if self.on_applied is not None:
            self.on_applied(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        return dict(self.state)
