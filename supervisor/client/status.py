"""``loadtest-supervisor status``: the cluster, its committed plan and its run, as one node
sees them; ``--watch`` follows the run in progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from loadtest_supervisor.client.cluster_api import ApiError, ClusterApi
from loadtest_supervisor.client.follow import follow_run
from loadtest_supervisor.exit_codes import ExitCode
from loadtest_supervisor.live.progress import LiveFigures


def status(api: ClusterApi, watch: bool, console: Console) -> int:
    try:
        _, health = api.call("GET", "/health/cluster")
        run = health.get("run")
        results = None
        if run is not None:
            code, results = api.call("GET", f"/results?run_id={run['run_id']}")
            results = results if code == 200 else None
    except ApiError as exc:
        console.print(f"loadtest-supervisor status: {exc}")
        return ExitCode.CANNOT_RUN
    for line in _describe(api.url, health, results):
        console.print(line, markup=False, highlight=False)
    if watch and run is not None and run["state"] == "running":
        try:
            follow_run(api, run, console)
        except ApiError as exc:
            console.print(f"loadtest-supervisor status: {exc}")
            return ExitCode.CANNOT_RUN
    return ExitCode.OK


def _describe(url: str, health: dict[str, Any], results: dict[str, Any] | None) -> list[str]:
    lines = [
        f"cluster   {health['state']} at {health['node_id']} ({url}), leader "
        f"{health['leader_id'] or 'none'}, term {health['term']}, {health['peers']} voters",
    ]
    if problem := health.get("discovery_error"):
        lines.append(f"discovery {problem}")
    config = health.get("config")
    if config:
        lines.append(
            f"plan      {config['sha256'][:12]} from {config['source']} "
            f"(version {config['version']})"
        )
    else:
        lines.append("plan      none committed")
    if error := health.get("config_error"):
        lines.append(f"refused   {error}")
    run = health.get("run")
    if run:
        lines.append(
            f"run       {run['run_id']} {run['state']}, {_at(run['start_at'])} to "
            f"{_at(run['end_at'])} UTC"
        )
    if results:
        figures = LiveFigures.of_results(results)
        lines.append(
            f"results   {figures.requests:,} requests, {results['rps']:,.1f} req/s, "
            f"{figures.errors:,} errors, p50 {figures.p50_ms:,.2f} ms, p99 "
            f"{figures.p99_ms:,.2f} ms, {figures.note}"
            + (", final" if results["run"]["final"] else "")
        )
    return lines


def _at(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
