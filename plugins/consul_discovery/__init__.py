"""Consul discovery (``DISCOVERY_MODE=consul``): register in Consul, find peers there.

The node registers as service CONSUL_SERVICE_NAME with its state as the tag, so
``leader.<name>.service.consul`` names the coordinator; peers are the passing
registrations, one per node id. See discovery.py for the parts and
consul_settings.py for the CONSUL_* variables it reads.
"""

from __future__ import annotations

from loadtest_supervisor.cluster.contracts import NodeContext
from loadtest_supervisor.hookspecs import hookimpl
from loadtest_supervisor.plugins.consul_discovery.consul_settings import ConsulSettings
from loadtest_supervisor.plugins.consul_discovery.discovery import ConsulDiscovery

# The hook bus tells state changes to the plugin module, not to an object; this
# finds the discovery each node (each NodeContext) was given.
_by_context: dict[int, ConsulDiscovery] = {}


@hookimpl
def loadtest_make_discovery(context: NodeContext) -> ConsulDiscovery:
    discovery = ConsulDiscovery(ConsulSettings.from_node_settings(context.settings), context)
    _by_context[id(context)] = discovery
    return discovery


@hookimpl
def loadtest_state_changed(
    context: NodeContext, old: str, new: str, term: int, leader_id: str | None
) -> None:
    discovery = _by_context.get(id(context))
    if discovery is not None:
        discovery.state_changed(new, term)


@hookimpl
def loadtest_node_stopping(context: NodeContext) -> None:
    _by_context.pop(id(context), None)


__all__ = ["ConsulDiscovery", "ConsulSettings"]
