"""Standalone mode: one machine runs the test plan and prints exact results.

Nothing here imports a cluster module: no Raft, no gRPC, no Consul. The only
port opened is the HTTP API's (/metrics, /health/cluster, /results), and only
when it is enabled. ``/results`` serves the live results document during the run and
the final one after it, for ``linger`` seconds more before the API closes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
from time import monotonic, time
from typing import Any

from rich.console import Console

from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.config.loading import Settings
from loadtest_supervisor.engine.runner import LoadRun
from loadtest_supervisor.engine.scenario import SetupError
from loadtest_supervisor.engine.worker import SNAPSHOT_INTERVAL
from loadtest_supervisor.event_loop import run_loop
from loadtest_supervisor.exit_codes import ExitCode, verdict
from loadtest_supervisor.http_api import HttpApiServer, StandaloneNode, build_app, serve_http_api
from loadtest_supervisor.http_limits import HttpLimits
from loadtest_supervisor.live.progress import LiveFigures, ProgressLine
from loadtest_supervisor.logs import bind_context, configure_logging, log_event
from loadtest_supervisor.results.document import build_results
from loadtest_supervisor.results.outputs import write_outputs
from loadtest_supervisor.results.summary import print_summary

log = logging.getLogger("loadtest.standalone")


def run_standalone(
    settings: Settings,
    out_path: str | None = None,
    log_level: str = "INFO",
    linger: float = 0.0,
    csv_prefix: str | None = None,
    report_path: str | None = None,
) -> int:
    """Run the plan to completion (or Ctrl-C/SIGTERM) and return the exit code; the HTTP
    API stays up ``linger`` seconds after the run, serving its final results. The results
    go to ``out_path`` (JSON), ``csv_prefix`` (Locust's CSV files) and ``report_path``
    (the HTML report) too, when given."""
    configure_logging(log_level)
    bind_context(node_id=settings.node.node_id, state="standalone")
    return run_loop(_run(settings, out_path, linger, csv_prefix, report_path))


async def _start_api(settings: Settings, node: StandaloneNode) -> HttpApiServer | None:
    if not settings.node.http_api:
        return None
    host, port = split_host_port(settings.node.health_addr)
    try:
        server = await serve_http_api(build_app(node), host, port, HttpLimits.of(settings.node))
    except OSError as exc:
        # The test is the job; a busy metrics port must not stop it.
        log_event(log, "http_api_unavailable", error=str(exc), level=logging.WARNING)
        return None
    node.address = f"{host}:{server.port}"
    log_event(log, "http_api_listening", addr=node.address)
    return server


def _plan_config(config_path: str | None) -> dict[str, Any]:
    """The plan's source and, from a file, its SHA-256 (as a cluster's file source has it)."""
    if config_path is None:
        return {"sha256": None, "source": "environment", "version": None}
    try:
        with open(config_path, "rb") as plan_file:
            sha = hashlib.sha256(plan_file.read()).hexdigest()
    except OSError:  # it was read moments ago; only the dashboard would miss the hash
        sha = None
    return {"sha256": sha, "source": f"file {config_path}", "version": None}


async def _show_progress(progress: ProgressLine, run: LoadRun) -> None:
    while True:
        await asyncio.sleep(1.0)
        if run.run_start:
            progress.update(run.elapsed, LiveFigures.of(run.totals.total(), run.saturation.note()))


async def _linger(seconds: float) -> None:
    """Wait ``seconds`` so that the final results can be read, or less on Ctrl-C/SIGTERM:
    the run is over, so a signal now only ends the wait."""
    log_event(log, "http_api_lingering", seconds=seconds)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    try:
        await asyncio.wait_for(done.wait(), seconds)
    except TimeoutError:
        pass
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _run(
    settings: Settings,
    out_path: str | None,
    linger: float,
    csv_prefix: str | None,
    report_path: str | None,
) -> int:
    plan = settings.plan
    console = Console()
    try:
        run = LoadRun(plan, plan.load.workers or os.cpu_count() or 1)
    except SetupError as exc:
        console.print(f"loadtest-supervisor: cannot run: {exc}", style="red", highlight=False)
        return ExitCode.CANNOT_RUN
    node = StandaloneNode(settings.node.node_id, _plan_config(settings.config_path))
    node.workers = run.worker_count
    node.set_totals(run.totals)

    wall_offset = time() - monotonic()  # read once, so the window reads the same each time

    def window() -> tuple[float, float] | None:
        if not run.run_start:
            return None
        return run.run_start + wall_offset, run.run_end + wall_offset

    def live_results() -> dict[str, Any] | None:
        outcome = run.outcome_so_far()
        return None if outcome is None else build_results(plan, outcome)

    node.set_live(live_results, refresh_s=SNAPSHOT_INTERVAL)
    node.set_window(window)
    api = await _start_api(settings, node)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    progress = ProgressLine(console, plan.load.duration)
    progress.start()
    ticker = asyncio.ensure_future(_show_progress(progress, run))
    try:
        outcome = await run.run(stop)
    except SetupError as exc:
        console.print(f"loadtest-supervisor: cannot run: {exc}", style="red", highlight=False)
        return ExitCode.CANNOT_RUN
    finally:
        ticker.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    final = LiveFigures.of(outcome.totals.total(), run.saturation.note(final=True))
    progress.update(outcome.duration_s, final)
    progress.stop()

    results = build_results(plan, outcome)
    node.set_results(results)
    print_summary(console, results)
    code = verdict(results)
    if not write_outputs(
        console, "loadtest-supervisor", results, out_path, csv_prefix, report_path
    ):
        code = code or ExitCode.CANNOT_RUN
    if api is not None:
        if linger > 0:
            await _linger(linger)
        await api.stop()
    return code
