"""Every hook a plugin can implement: this file is the plugin author's documentation.

Plugins are Python packages that expose a module of ``@hookimpl`` functions through
one of the entry-point groups below, and are chosen by name:

    loadtest_supervisor.discovery       DISCOVERY_MODE=<name> picks one (static, consul, ...)
    loadtest_supervisor.consensus       one is used; "raft" is the built-in
    loadtest_supervisor.config_sources  CLUSTER_CONFIG_SOURCE=<name> picks one
    loadtest_supervisor.hooks           all installed are loaded (observers, sinks)

    # pyproject.toml of a third-party plugin
    [project.entry-points."loadtest_supervisor.discovery"]
    k8s = "loadtest_k8s.discovery"

An entry point names a module of ``@hookimpl`` functions, or a class whose methods
are the hook implementations: the core then registers one instance of it per node,
so per-node state lives on ``self`` (a process may run several nodes in tests).

Hooks run on the supervisor's event loop and must not block it: do slow work in a
task (``asyncio.create_task``) or a thread. ``firstresult`` hooks are answered by
the one chosen plugin of their group; the others are told to every plugin.
Set ``LOADTEST_TRACE_HOOKS=1`` to log every hook call with its arguments and results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from loadtest_supervisor.cluster.contracts import (
        ConfigSource,
        Consensus,
        Discovery,
        NodeContext,
        NodeStatus,
    )
    from loadtest_supervisor.config.plugin_settings import PluginSettings

PROJECT = "loadtest_supervisor"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- settings: asked of every installed plugin, before the node starts ---


@hookspec
def loadtest_declare_settings() -> PluginSettings | None:
    """Declare this plugin's settings (``PluginSettings``): a section under ``cluster:``,
    a pydantic model of it and the environment variable of each field. The core loads,
    validates and prints them like its own; read them with ``context.settings.plugin()``."""


# --- building the node's parts: answered by the chosen plugin of each group ---


@hookspec(firstresult=True)
def loadtest_make_discovery(context: NodeContext) -> Discovery | None:
    """Return the Discovery that finds this node's peers (the chosen discovery plugin)."""


@hookspec(firstresult=True)
def loadtest_make_consensus(context: NodeContext) -> Consensus | None:
    """Return the Consensus that elects the coordinator (the chosen consensus plugin)."""


@hookspec(firstresult=True)
def loadtest_make_config_source(context: NodeContext) -> ConfigSource | None:
    """Return the ConfigSource the leader reads the plan from (the chosen config source)."""


@hookspec
def loadtest_register_grpc_services(server: Any, context: NodeContext) -> None:
    """Add gRPC servicers to the node's one gRPC server (``grpc.aio.Server``) before it starts."""


# --- events: told to every plugin ---


@hookspec
def loadtest_node_started(context: NodeContext) -> None:
    """The node is up: its gRPC server and HTTP API listen, discovery and consensus run."""


@hookspec
def loadtest_node_stopping(context: NodeContext) -> None:
    """The node is shutting down cleanly (deregister, flush, say goodbye)."""


@hookspec
def loadtest_state_changed(
    context: NodeContext, old: str, new: str, term: int, leader_id: str | None, role: str | None
) -> None:
    """The node's state changed (``forming``, ``follower``, ``leader``) or its role did
    (``voter``, ``member``: DESIGN §12.1; None before consensus has started), with the
    Raft term and the leader's node id (None when no leader is known)."""


@hookspec
def loadtest_elected_leader(context: NodeContext, term: int) -> None:
    """This node became the leader of ``term`` (fetch and commit the test config here)."""


@hookspec
def loadtest_peers_changed(context: NodeContext, status: NodeStatus) -> None:
    """The set of voting members or their reachability changed."""


@hookspec
def loadtest_config_committed(context: NodeContext, config: dict[str, Any]) -> None:
    """A new test plan was committed through consensus, told on every node:
    ``{"yaml", "sha256", "source", "version"}`` (the source's own version of it), and
    ``"data": {"text", "source", "version"}`` when the plan names a data file."""


@hookspec
def loadtest_run_started(context: NodeContext, run: dict[str, Any]) -> None:
    """A run started on this node: ``{"run_id", "start_at", "share"}``."""


@hookspec
def loadtest_run_finished(context: NodeContext, run: dict[str, Any], results: dict) -> None:
    """A run ended (ran to its end, stopped or superseded) and its final cluster results
    were committed; told on every node once: the run record, and the cluster's final
    results document (this node's own figures are in ``results["nodes"][node_id]``)."""


@hookspec
def loadtest_metrics_aggregated(context: NodeContext, results: dict[str, Any]) -> None:
    """The leader merged the cluster's metrics (about once a second during a run, and
    the final results); ``results`` is the cluster results document (docs/design.md §9)."""
