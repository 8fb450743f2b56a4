"""Who this node is to the others: where peers and health checks reach it, and its context."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from loadtest_supervisor import __version__
from loadtest_supervisor.cluster.contracts import NodeContext
from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.config.models import NodeSettings

# Hosts that mean "every interface": a peer cannot dial them.
_ANY_HOST = ("", "0.0.0.0", "::")


def reachable_addr(listen_addr: str) -> str:
    """The host:port others use to reach a listener on ``listen_addr``.

    The same host:port, except that a wildcard host becomes this machine's address
    as its hostname resolves (what peers on other hosts would dial).
    """
    host, port = split_host_port(listen_addr)
    if host in _ANY_HOST:
        host = socket.gethostbyname(socket.gethostname())
    elif ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def advertise_addr(settings: NodeSettings) -> str:
    """CLUSTER_ADVERTISE_ADDR, else derived from CLUSTER_BIND_ADDR."""
    return settings.advertise_addr or reachable_addr(settings.bind_addr)


def health_url(settings: NodeSettings) -> str:
    """The /health/cluster URL, derived from CLUSTER_HEALTH_ADDR."""
    return f"http://{reachable_addr(settings.health_addr)}/health/cluster"


def node_context(
    settings: NodeSettings,
    hook: Any,
    *,
    version: str = __version__,
    config_path: str | None = None,
) -> NodeContext:
    """The context every plugin of this node gets; call it on the node's event loop."""
    return NodeContext(
        settings=settings,
        node_id=settings.node_id,
        advertise_addr=advertise_addr(settings),
        health_url=health_url(settings),
        data_dir=settings.data_dir,
        loop=asyncio.get_running_loop(),
        hook=hook,
        version=version,
        region=settings.region,
        config_path=config_path,
        workers=node_workers(settings),
    )


def node_workers(settings: NodeSettings) -> int:
    """The load workers this node runs when a plan does not say: CLUSTER_WORKERS, else one
    per core."""
    return settings.workers or os.cpu_count() or 1
