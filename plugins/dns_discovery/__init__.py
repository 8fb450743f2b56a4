"""DNS discovery (``DISCOVERY_MODE=dns``): the peers are what a DNS name lists.

The name is a headless Kubernetes Service, a Consul service (``<name>.service.consul``)
or a Nomad service: A/AAAA records give addresses (with this node's CLUSTER_BIND_ADDR
port), SRV records give targets and ports. Nothing is registered: whatever publishes
the name (Kubernetes, Consul, Nomad) decides who is listed. See discovery.py for how
start-up and flapping answers are handled and dns_settings.py for the settings.
"""

from __future__ import annotations

from loadtest_supervisor.cluster.contracts import NodeContext
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.hookspecs import hookimpl
from loadtest_supervisor.plugins.dns_discovery.discovery import DnsDiscovery
from loadtest_supervisor.plugins.dns_discovery.dns_settings import (
    DECLARED,
    SECTION,
    DnsConfig,
    DnsSettings,
    DnsSettingsError,
)


class DnsPlugin:
    @hookimpl
    def loadtest_declare_settings(self) -> PluginSettings:
        return DECLARED

    @hookimpl
    def loadtest_make_discovery(self, context: NodeContext) -> DnsDiscovery:
        config = context.settings.plugin(SECTION, DnsConfig)
        settings = DnsSettings.from_config(config, context.settings.bind_addr)
        return DnsDiscovery(settings, context)


__all__ = ["DnsConfig", "DnsDiscovery", "DnsPlugin", "DnsSettings", "DnsSettingsError"]
