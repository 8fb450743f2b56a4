"""Consul discovery (``DISCOVERY_MODE=consul``): register in Consul, find peers there.

The node registers as service CONSUL_SERVICE_NAME with its state as the tag, so
``leader.<name>.service.consul`` names the coordinator; peers are the passing
registrations, one per node id. See discovery.py for the parts and
consul_settings.py for the settings it declares.
"""

from __future__ import annotations

from loadtest_supervisor.cluster.contracts import NodeContext
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.hookspecs import hookimpl
from loadtest_supervisor.plugins.consul_discovery.consul_settings import (
    DECLARED,
    SECTION,
    ConsulConfig,
    ConsulSettings,
)
from loadtest_supervisor.plugins.consul_discovery.discovery import ConsulDiscovery


class ConsulPlugin:
    """One per node (the core registers an instance), so it holds that node's discovery."""

    def __init__(self) -> None:
        self.discovery: ConsulDiscovery | None = None

    @hookimpl
    def loadtest_declare_settings(self) -> PluginSettings:
        return DECLARED

    @hookimpl
    def loadtest_make_discovery(self, context: NodeContext) -> ConsulDiscovery:
        config = context.settings.plugin(SECTION, ConsulConfig)
        self.discovery = ConsulDiscovery(ConsulSettings.from_config(config), context)
        return self.discovery

    @hookimpl
    def loadtest_state_changed(
        self,
        context: NodeContext,
        old: str,
        new: str,
        term: int,
        leader_id: str | None,
        role: str | None,
    ) -> None:
        if self.discovery is not None:
            self.discovery.state_changed(new, term, role)


__all__ = ["ConsulConfig", "ConsulDiscovery", "ConsulPlugin", "ConsulSettings"]
