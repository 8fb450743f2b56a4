"""One node's worth of the Consul discovery plugin, in the test process, with no Raft.

The plugin is loaded through the real plugin manager (its entry point), given a
NodeContext whose health URL is the real HTTP API (``/health/cluster``) served
on a free loopback port, and driven through the hook bus the way the node
runtime drives it. State transitions are told with ``tell_state``.

Run as a process, it is one such node to kill -9 (CONSUL_* settings from the
environment); it prints ``ready`` once its discovery has started:

    python -m tests.consul.plugin_node <consul url> <service> <node id> <data dir>
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pluggy

from loadtest_supervisor.cluster.contracts import NodeContext
from loadtest_supervisor.cluster.health import ClusterView
from loadtest_supervisor.cluster.identity import node_context
from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.http_api import HttpApiServer, build_app, serve_http_api
from loadtest_supervisor.plugin_manager import build_plugin_manager, declared_settings
from tests.support import LOOPBACK, free_port


def node_settings(
    consul_url: str, service: str, node_id: str, consul_token: str | None = None, **extra: Any
) -> NodeSettings:
    """Node settings loaded as the CLI loads them: the CONSUL_* timings from the environment."""
    env = {
        **os.environ,
        "CLUSTER_ENABLED": "true",
        "CLUSTER_INSECURE": "true",
        "CLUSTER_NODE_ID": node_id,
        "DISCOVERY_MODE": "consul",
        "CONSUL_ADDR": consul_url,
        "CONSUL_SERVICE_NAME": service,
    }
    if consul_token is not None:
        env["CONSUL_HTTP_TOKEN"] = consul_token
    return load_settings(None, env, None, declared_settings).node.model_copy(update=extra)


class PluginNode:
    def __init__(self, settings: NodeSettings, data_dir: Path, grpc_port: int = 7000) -> None:
        self.settings = settings
        self.node_id = settings.node_id
        self.grpc_port = grpc_port
        self.data_dir = data_dir
        self.pm: pluggy.PluginManager = build_plugin_manager(settings)
        self.api: HttpApiServer | None = None
        self.context: NodeContext | None = None
        self.discovery: Any = None
        self.state = "forming"
        self.term = 0

    async def open(self) -> PluginNode:
        """Serve /health/cluster and build the discovery (not started yet)."""
        port = free_port()
        self.api = await serve_http_api(
            build_app(ClusterView(self.node_id, f"{LOOPBACK}:{self.grpc_port}")), LOOPBACK, port
        )
        addresses = {
            "advertise_addr": f"{LOOPBACK}:{self.grpc_port}",
            "health_addr": f"{LOOPBACK}:{port}",
            "data_dir": str(self.data_dir),
        }
        settings = self.settings.model_copy(update=addresses)
        self.context = node_context(settings, self.pm.hook, version="test-version")
        self.discovery = self.pm.hook.loadtest_make_discovery(context=self.context)
        return self

    def tell_state(
        self, new: str, term: int, leader_id: str | None = None, role: str | None = None
    ) -> None:
        old, self.state, self.term = self.state, new, term
        self.pm.hook.loadtest_state_changed(
            context=self.context, old=old, new=new, term=term, leader_id=leader_id, role=role
        )

    async def close(self) -> None:
        if self.discovery is not None:
            self.pm.hook.loadtest_node_stopping(context=self.context)
            await self.discovery.stop()
        if self.api is not None:
            await self.api.stop()


async def _serve_until_killed(consul_url: str, service: str, node_id: str, data_dir: str) -> None:
    node = await PluginNode(node_settings(consul_url, service, node_id), Path(data_dir)).open()
    await node.discovery.start()
    print("ready", flush=True)
    await asyncio.Event().wait()  # until the test kills the process


if __name__ == "__main__":
    asyncio.run(_serve_until_killed(*sys.argv[1:5]))
