"""``loadtest-supervisor submit``: send a plan to a cluster, and with ``--wait`` follow its
run to one cluster-wide verdict, with the exit code a standalone run of it would give."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from loadtest_supervisor.client.cluster_api import ApiError, ClusterApi
from loadtest_supervisor.client.follow import follow_run
from loadtest_supervisor.exit_codes import ExitCode, verdict
from loadtest_supervisor.results.outputs import write_outputs
from loadtest_supervisor.results.summary import print_summary

# A plan is accepted within a few heartbeats of a leader; this covers an election or two.
ACCEPT_WITHIN_S = 30.0
# From accepted to its run record: the leader commits it at once (or, for a plan that
# starts on a schedule or by API, never: then say so).
RUN_WITHIN_S = 15.0


def submit(
    api: ClusterApi,
    plan_path: str,
    wait: bool,
    out: str | None,
    console: Console,
    csv: str | None = None,
    report: str | None = None,
) -> int:
    """Submit the plan at ``plan_path``; with ``wait``, follow its run, print its summary,
    write its results to ``out`` (JSON), ``csv`` (Locust's CSV files, by prefix) and
    ``report`` (HTML) when given, and return its exit code."""
    try:
        text = Path(plan_path).read_bytes()
    except OSError as exc:
        console.print(f"loadtest-supervisor submit: cannot read {plan_path}: {exc.strerror}")
        return ExitCode.CONFIG
    try:
        before = api.call("GET", "/health/cluster")[1].get("run") or {}
        status, answer = api.call_until("POST", "/runs", text, ACCEPT_WITHIN_S)
        if status != 200:
            console.print(f"loadtest-supervisor submit: not accepted ({status}): {answer['error']}")
            return ExitCode.CANNOT_RUN if status == 503 else ExitCode.CONFIG
        run = _new_run(api, answer["sha256"], before.get("run_id"))
        if run is None:
            console.print(
                f"plan {answer['sha256'][:12]} committed; no run started within "
                f"{RUN_WITHIN_S:.0f} s (its run: section may start it later)"
            )
            return ExitCode.OK if not wait else ExitCode.CANNOT_RUN
        console.print(
            f"run {run['run_id']} of plan {answer['sha256'][:12]} "
            f"(leader {answer['leader_id']}), {run['end_at'] - run['start_at']:,.0f} s"
        )
        if not wait:
            return ExitCode.OK
        results = follow_run(api, run, console)
    except ApiError as exc:
        console.print(f"loadtest-supervisor submit: {exc}")
        return ExitCode.CANNOT_RUN
    print_summary(console, results)
    code = verdict(results)
    if not write_outputs(console, "loadtest-supervisor submit", results, out, csv, report):
        code = code or ExitCode.CANNOT_RUN
    return code


def _new_run(api: ClusterApi, sha256: str, before: str | None) -> dict[str, Any] | None:
    """The run record of the submitted plan once it is committed (not the run before)."""
    deadline = time.monotonic() + RUN_WITHIN_S
    while time.monotonic() < deadline:
        run = api.call("GET", "/health/cluster")[1].get("run") or {}
        if run.get("plan_sha256") == sha256 and run.get("run_id") != before:
            return run
        time.sleep(0.2)
    return None
