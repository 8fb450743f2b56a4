"""The dns plugin's settings, declared to the core (``loadtest_declare_settings``).

The core loads them under ``cluster.dns:`` in YAML or from these variables (the
environment wins), and shows them in ``--print-config``:

    DISCOVERY_DNS_NAME        the name that lists the nodes (required with DISCOVERY_MODE=dns):
                              a headless Kubernetes Service, a Consul or Nomad service name
    DISCOVERY_DNS_TYPE        A, AAAA or SRV; unset: SRV when the name starts with "_",
                              else A and AAAA together
    DISCOVERY_DNS_INTERVAL=5s how often the name is resolved again
    DISCOVERY_DNS_SERVER      ip or ip:port of the DNS server to ask (port 53 when left
                              out); unset: the system's resolvers (/etc/resolv.conf)
    DISCOVERY_DNS_EXPECT=3    addresses, this node's included, a node waits for before
                              it starts consensus (see discovery.py: why)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.config.values import Duration, Int1

SECTION = "dns"
RECORD_TYPES = ("A", "AAAA", "SRV")
ADDRESS_TYPES = ("A", "AAAA")  # what the default for a name without "_" asks
DNS_PORT = 53
# Below this a fleet of nodes would keep its DNS server busy for nothing: membership
# changes take seconds in Raft anyway.
MIN_INTERVAL_S = 0.1

# RFC 1035 labels, with "_" allowed (SRV names, and names Kubernetes and Consul make).
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
NAME_ALLOWED = (
    "a DNS name of dot-separated labels (letters, digits, '-', '_'; at most 63 characters "
    "each, 253 in all), e.g. loadtest.default.svc.cluster.local or "
    "_loadtest-cluster._tcp.service.consul"
)


class DnsConfig(BaseModel):
    """``cluster.dns:``, as validated by the core; ``name`` is needed only when the dns
    discovery is chosen, so it may be unset here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    type: str | None = None
    interval: Duration = 5.0
    server: str | None = None
    expect: Int1 = 3

    @field_validator("name", mode="before")
    @classmethod
    def _dns_name(cls, value: Any) -> str | None:
        if value is None:
            return None
        text = value.strip().rstrip(".") if isinstance(value, str) else ""
        labels = text.split(".")
        if not text or len(text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"not a DNS name; allowed: {NAME_ALLOWED}")
        return text

    @field_validator("type", mode="before")
    @classmethod
    def _record_type(cls, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().upper() in RECORD_TYPES:
            return value.strip().upper()
        raise ValueError(
            f"allowed: {', '.join(RECORD_TYPES)} (unset: SRV for a name starting with '_', "
            "else A and AAAA)"
        )

    @field_validator("interval")
    @classmethod
    def _not_too_often(cls, seconds: float) -> float:
        if seconds < MIN_INTERVAL_S:
            raise ValueError("must be at least 100ms")
        return seconds

    @field_validator("server", mode="before")
    @classmethod
    def _server(cls, value: Any) -> str | None:
        if value is None:
            return None
        server_address(value)  # raises ValueError with what is allowed
        return value.strip()


def server_address(value: Any) -> tuple[str, int]:
    """``ip`` or ``ip:port`` (IPv6 in brackets with a port) as ``(ip, port)``.

    An IP, not a host name: the resolver is what turns names into addresses, so naming
    it by a name would need another resolver first.
    """
    allowed = (
        "must be the DNS server's IP address, optionally with a port: ip, ip:port or "
        "[ipv6]:port, e.g. 127.0.0.1:8600 (port 53 when left out)"
    )
    if not isinstance(value, str):
        raise ValueError(allowed)
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text.strip("[]"))), DNS_PORT
    except ValueError:
        pass
    try:
        host, port = split_host_port(text)
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(allowed) from None
    if port == 0:
        raise ValueError(allowed)
    return str(ip), port


DECLARED = PluginSettings(
    section=SECTION,
    model=DnsConfig,
    env={
        "DISCOVERY_DNS_NAME": "name",
        "DISCOVERY_DNS_TYPE": "type",
        "DISCOVERY_DNS_INTERVAL": "interval",
        "DISCOVERY_DNS_SERVER": "server",
        "DISCOVERY_DNS_EXPECT": "expect",
    },
    env_prefix="DISCOVERY_DNS_",
)


class DnsSettingsError(ValueError):
    """The dns discovery was chosen without what it needs; the message names the setting."""


@dataclass(frozen=True)
class DnsSettings:
    """What the plugin's parts use: the record types to ask and the server split."""

    name: str
    types: tuple[str, ...]  # ("SRV",), ("A",), ("AAAA",) or ("A", "AAAA")
    interval_s: float
    server: tuple[str, int] | None  # None: the system's resolvers
    expect: int
    port: int  # the port of an A/AAAA peer: this node's CLUSTER_BIND_ADDR port

    @classmethod
    def from_config(cls, config: DnsConfig, bind_addr: str) -> DnsSettings:
        if config.name is None:
            raise DnsSettingsError(
                "DISCOVERY_MODE=dns needs DISCOVERY_DNS_NAME (cluster.dns.name); allowed: "
                + NAME_ALLOWED
            )
        if config.type is not None:
            types: tuple[str, ...] = (config.type,)
        elif config.name.startswith("_"):
            types = ("SRV",)
        else:
            types = ADDRESS_TYPES
        _, port = split_host_port(bind_addr)
        if port == 0 and types != ("SRV",):
            raise DnsSettingsError(
                f"DISCOVERY_DNS_TYPE={'+'.join(types)} gives peers this node's "
                f"CLUSTER_BIND_ADDR port, and CLUSTER_BIND_ADDR={bind_addr!r} has none; "
                "allowed: a fixed port, e.g. 0.0.0.0:7000, or SRV records"
            )
        server = server_address(config.server) if config.server is not None else None
        return cls(config.name, types, config.interval, server, config.expect, port)
