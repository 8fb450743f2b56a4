"""The cluster node runtime: wires discovery, consensus, the gRPC server and the HTTP API.

    start   peer auth -> gRPC server (servicers from loadtest_supervisor.plugins) -> HTTP API
            -> discovery -> consensus with the discovered peers
    run     poll discovery every ~2 s and hand changes to consensus; turn each
            NodeStatus into the node state (forming/follower/leader), told to the
            hook bus and logged once per transition
    stop    on SIGINT/SIGTERM, in reverse order; exit 0

The supervisor process generates no load, so nothing here competes with heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pluggy

from loadtest_supervisor import __version__
from loadtest_supervisor.cluster.clock_offset import ClockOffset
from loadtest_supervisor.cluster.cluster_timeline import with_committed_points
from loadtest_supervisor.cluster.contracts import (
    ConfigSource,
    Consensus,
    Discovery,
    NodeStatus,
    Peer,
)
from loadtest_supervisor.cluster.coordination import CoordinationServicer, LeaderCalls
from loadtest_supervisor.cluster.grpc_server import GrpcServer, start_grpc_server
from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.identity import node_context
from loadtest_supervisor.cluster.metrics_push import MetricsPusher
from loadtest_supervisor.cluster.peer_auth import ClusterSetupError, PeerAuth
from loadtest_supervisor.cluster.plan_keeper import PlanKeeper
from loadtest_supervisor.cluster.readiness import PeerReadiness
from loadtest_supervisor.cluster.results_keeper import ResultsKeeper
from loadtest_supervisor.cluster.run_keeper import RunKeeper
from loadtest_supervisor.cluster.run_routes import run_routes
from loadtest_supervisor.cluster.wire import loadtest_pb2_grpc
from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.config.loading import Settings
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.engine.replayed_load import RecordingError, load_maker
from loadtest_supervisor.exit_codes import ExitCode
from loadtest_supervisor.http_api import HttpApiServer, build_app, serve_http_api
from loadtest_supervisor.http_limits import HttpLimits
from loadtest_supervisor.logs import bind_context, configure_logging, log_event
from loadtest_supervisor.plugin_manager import PluginError, build_plugin_manager

log = logging.getLogger("loadtest.node")

DISCOVERY_POLL_S = 2.0
GRPC_GRACE_S = 1.0


class NodeStartError(Exception):
    """The node cannot start; ``code`` is the CLI exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def run_cluster_node(settings: Settings, log_level: str = "INFO") -> int:
    """Run this machine as a cluster node until SIGINT/SIGTERM; returns the exit code.

    ``settings`` is the loaded Settings (its ``node`` part is used; a node given no
    test plan waits, healthy, for the one the leader commits).
    """
    configure_logging(log_level)
    node_settings: NodeSettings = settings.node
    bind_context(node_id=node_settings.node_id, state="forming", term=0)
    try:
        pm = build_plugin_manager(node_settings)
    except PluginError as exc:
        print(f"loadtest-supervisor: {exc}", file=sys.stderr)
        return ExitCode.CONFIG

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    node = ClusterNode(node_settings, pm, config_path=settings.config_path)
    try:
        await node.start(stop)
        await node.run(stop)
    except NodeStartError as exc:
        print(f"loadtest-supervisor: {exc}", file=sys.stderr)
        return exc.code
    finally:
        await node.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return ExitCode.OK


class ClusterNode:
    """One node: its identity, its parts, and the state it derives from consensus."""

    def __init__(
        self, settings: NodeSettings, pm: pluggy.PluginManager, config_path: str | None = None
    ) -> None:
        self.pm = pm
        self.context = node_context(settings, pm.hook, config_path=config_path)
        self.view = ClusterView(settings.node_id, self.context.advertise_addr)
        self._state = "forming"
        self._leader_id: str | None = None
        self._role: str | None = None  # None until consensus has started and said
        self._peers: list[Peer] = []
        self._grpc: GrpcServer | None = None
        self._api: HttpApiServer | None = None
        self._discovery: Discovery | None = None
        self._consensus: Consensus | None = None
        self._keeper: PlanKeeper | None = None
        self._runs: RunKeeper | None = None
        self._results: ResultsKeeper | None = None
        self._pusher: MetricsPusher | None = None
        self._clock: ClockOffset | None = None
        self._coordination: CoordinationServicer | None = None
        self._committed_sha: str | None = None
        self._finished_run_id: str | None = None
        self._started = False

    async def start(self, stop: asyncio.Event) -> None:
        """Start every part; raises NodeStartError (``stop()`` undoes what started).

        The HTTP API opens before discovery: a discovery backend may only count
        nodes whose health check passes (Consul does), so /health/cluster must
        answer ``forming`` while the node is still looking for its peers. It
        starts from consensus's status before start, which carries a restarted
        node's persisted term, so the reported term never goes backwards.
        """
        settings: NodeSettings = self.context.settings
        os.makedirs(settings.data_dir, exist_ok=True)
        try:
            auth = PeerAuth.from_settings(settings, settings.node_id)
        except ClusterSetupError as exc:
            raise NodeStartError(str(exc), ExitCode.CONFIG) from exc
        discovery: Discovery = self._make("discovery", self.pm.hook.loadtest_make_discovery)
        consensus: Consensus = self._make("consensus", self.pm.hook.loadtest_make_consensus)
        source: ConfigSource | None = None
        if settings.config_source is not None:
            source = self._make("config source", self.pm.hook.loadtest_make_config_source)
        try:
            new_load = load_maker(os.environ)
        except RecordingError as exc:
            raise NodeStartError(str(exc), ExitCode.CONFIG) from exc
        self._keeper = PlanKeeper(source, consensus, settings.max_plan_bytes)
        self._clock = ClockOffset(self.view, auth, settings.max_clock_skew)
        node_dir = Path(settings.data_dir) / settings.node_id
        node_dir.mkdir(parents=True, exist_ok=True)
        self._runs = RunKeeper(
            consensus,
            self.view,
            settings.node_id,
            self._tell,
            settings.start_lead,
            settings.reshare_after,
            settings.orphan_grace,
            self.context.workers,
            self._clock.leader_time,
            results_dir=node_dir,
            peers_prepared=PeerReadiness(self.view, auth, self.context.advertise_addr).wait,
            new_load=new_load,
        )
        self._results = ResultsKeeper(
            consensus,
            self.view,
            settings.node_id,
            self._tell,
            self._runs.plan_of,
            settings.metrics_interval,
            settings.checkpoint_interval,
            self._clock.leader_time,
        )
        self._pusher = MetricsPusher(
            self.view,
            auth,
            self.context.advertise_addr,
            self._runs.reports,
            self._results,
            settings.metrics_interval,
        )
        calls = LeaderCalls(self._keeper, self._runs, self._results, self.view, auth)
        self.view.cluster_source = calls.cluster_results
        self.view.overview_source = calls.overview
        self._coordination = CoordinationServicer(calls, self.view, self._runs.prepared_within)
        try:
            self._grpc = await start_grpc_server(
                settings.bind_addr,
                auth,
                self._register,
                max_message_bytes=settings.grpc_max_message_bytes,
                max_streams=settings.grpc_max_streams,
                node_id=self.context.node_id,
                advertise_addr=self.context.advertise_addr,
                version=__version__,
                workers=self.context.workers,
            )
        except ClusterSetupError as exc:  # the port is taken or not bindable here
            raise NodeStartError(str(exc), ExitCode.CANNOT_RUN) from exc
        self.on_status(consensus.status())
        self.view.discovery = discovery
        if settings.http_api:
            host, port = split_host_port(settings.health_addr)
            try:
                routes = run_routes(calls, settings.api_token)
                app = build_app(self.view, routes, api_writes=settings.api_token is not None)
                self._api = await serve_http_api(app, host, port, HttpLimits.of(settings))
            except OSError as exc:
                raise NodeStartError(str(exc), ExitCode.CANNOT_RUN) from exc

        self._discovery = discovery
        try:
            # Discovery may wait for peers (or for its backend) for as long as it
            # takes; a SIGTERM meanwhile must still stop the node.
            if not await _unless_stopped(discovery.start(), stop):
                return
            self._peers = await discovery.peers()
            consensus.on_committed(self.on_committed)
            self.on_committed(consensus.committed())  # what a restart loaded from its dump
            await consensus.start(self._peers, self.on_status)
            self._consensus = consensus
            self.view.consensus = consensus
            self.on_status(consensus.status())  # with its role, known now
            self._clock.start()
            self._pusher.start()
        except Exception as exc:  # a plugin's failure, told plainly rather than as a traceback
            raise NodeStartError(f"cannot start: {exc!r}", ExitCode.CANNOT_RUN) from exc
        self._started = True
        log_event(
            log,
            "node_started",
            advertise_addr=self.context.advertise_addr,
            grpc_port=self._grpc.port,
            health_url=self.context.health_url if self._api else None,
            discovery=settings.discovery_mode,
            peers=",".join(p.address for p in self._peers),
        )
        self._tell("loadtest_node_started")

    async def run(self, stop: asyncio.Event) -> None:
        """Keep consensus's peer list current until ``stop`` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), DISCOVERY_POLL_S)
            except TimeoutError:
                await self._poll()

    async def stop(self) -> None:
        """Leave cleanly, in the reverse order of start; safe after a partial start."""
        if self._started:
            self._tell("loadtest_node_stopping")
            log_event(log, "node_stopping")
        if self._pusher is not None:
            await self._quietly("metrics_push", self._pusher.stop())
        if self._results is not None:
            await self._quietly("results", self._results.stop())
        if self._runs is not None:
            await self._quietly("run", self._runs.stop())
        if self._clock is not None:
            await self._quietly("clock", self._clock.stop())
        if self._keeper is not None:
            await self._quietly("plan_keeper", self._keeper.stop())
        if self._consensus is not None:
            await self._quietly("consensus", self._consensus.stop())
        if self._discovery is not None:
            await self._quietly("discovery", self._discovery.stop())
        if self._api is not None:
            await self._quietly("http_api", self._api.stop())
        if self._grpc is not None:
            await self._quietly("grpc", self._grpc.stop(GRPC_GRACE_S))
        self._started = False
        self._consensus = self._discovery = self._api = self._grpc = self._keeper = None
        self._runs = self._clock = self._results = self._pusher = None

    def on_status(self, status: NodeStatus) -> None:
        """Consensus's callback (on the loop): cache it for /health and publish changes."""
        old = self.view.status
        self.view.update(status)
        new_state = node_state(status)
        leader_id = self.view.leader_id() if new_state != "forming" else None
        bind_context(state=new_state, term=status.term)
        if set(status.members) != set(old.members):
            self._tell("loadtest_peers_changed", status=status)
        if self._keeper is not None:
            self._keeper.lead(new_state == "leader")
        if self._results is not None and self._consensus is not None:
            self._results.lead(new_state == "leader")
        if self._runs is not None and self._consensus is not None:
            self._runs.on_status(status)
        role = status.role if self._consensus is not None else None
        # A follower whose leader changed has changed too: the health document did.
        if (new_state, leader_id, role) == (self._state, self._leader_id, self._role):
            return
        old_state, self._state, self._leader_id = self._state, new_state, leader_id
        self._role = role
        if self._clock is not None:
            self._clock.leader_changed()
        log_event(
            log,
            "state_changed",
            old=old_state,
            new=new_state,
            term=status.term,
            leader_id=leader_id,
            role=role,
        )
        self._tell(
            "loadtest_state_changed",
            old=old_state,
            new=new_state,
            term=status.term,
            leader_id=leader_id,
            role=role,
        )
        if new_state == "leader" and old_state != "leader":
            self._tell("loadtest_elected_leader", term=status.term)

    def on_committed(self, state: dict[str, Any]) -> None:
        """Consensus applied a command (on the loop): show it, and tell of a new plan."""
        self.view.committed = state
        if self._runs is not None:
            self._runs.on_committed(state)
        final = state.get("results")
        if final is not None and final["run"]["run_id"] != self._finished_run_id:
            self._finished_run_id = final["run"]["run_id"]
            if self._started:  # not the last run's, replayed from the log at start
                run = state.get("run") or {}
                if run.get("run_id") != self._finished_run_id:
                    run = run.get("superseded") or {}
                results = with_committed_points(final, state)
                self._tell("loadtest_run_finished", run=run, results=results)
        config = state.get("config") or {}
        sha = config.get("sha256")
        if sha is not None and sha != self._committed_sha:
            self._committed_sha = sha
            log_event(log, "config_committed", sha256=sha[:12], source=config.get("source"))
            self._tell("loadtest_config_committed", config=config)

    def _make(self, kind: str, hook: Any) -> Any:
        try:
            part = hook(context=self.context)
        except Exception as exc:  # e.g. a plugin missing its own setting
            raise NodeStartError(f"the {kind} plugin failed: {exc}", ExitCode.CONFIG) from exc
        if part is None:
            raise NodeStartError(f"the {kind} plugin returned no {kind}", ExitCode.CONFIG)
        return part

    def _register(self, server: Any) -> None:
        if self._coordination is not None:
            loadtest_pb2_grpc.add_CoordinationServicer_to_server(self._coordination, server)
        self.pm.hook.loadtest_register_grpc_services(server=server, context=self.context)

    async def _poll(self) -> None:
        assert self._discovery is not None and self._consensus is not None
        # status() is cheap; re-reading it covers a status change with no callback.
        self.on_status(self._consensus.status())
        try:
            peers = await self._discovery.peers()
            if set(peers) != set(self._peers):
                log_event(log, "peers_discovered", peers=",".join(p.address for p in peers))
                self._peers = peers
            # Every poll, not only on change: consensus decides when a member that
            # stays missing has been gone long enough to remove.
            await self._consensus.update_peers(peers)
        except Exception as exc:  # a flaky discovery backend must not stop the node
            log_event(log, "discovery_failed", level=logging.WARNING, error=repr(exc))

    def _tell(self, hook_name: str, **kwargs: Any) -> None:
        """Call an event hook on every plugin; a failing plugin is logged, not fatal."""
        try:
            getattr(self.pm.hook, hook_name)(context=self.context, **kwargs)
        except Exception as exc:
            log_event(log, "hook_failed", level=logging.ERROR, hook=hook_name, error=repr(exc))

    async def _quietly(self, part: str, stopping: Awaitable[Any]) -> None:
        try:
            await stopping
        except Exception as exc:  # shutdown continues with the other parts
            log_event(log, "stop_failed", level=logging.WARNING, part=part, error=repr(exc))


async def _unless_stopped(work: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Await ``work`` unless ``stop`` is set first (then cancel it); True if it finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    return False
