"""The dns discovery plugin's settings and how it reads answers (no DNS server here:
answers are real DNS messages parsed by dnspython from their text form).

The plugin against a real DNS server, Consul's, is tests/dns/test_dns_cluster.py.
"""

from __future__ import annotations

import dns.message
import pytest

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.plugin_manager import declared_settings
from loadtest_supervisor.plugins.dns_discovery import DnsConfig, DnsSettings, DnsSettingsError
from loadtest_supervisor.plugins.dns_discovery.dns_answers import (
    address_endpoints,
    addresses_in,
    peer_address,
    srv_targets,
)

CLUSTER = {
    "CLUSTER_ENABLED": "true",
    "CLUSTER_INSECURE": "true",
    "CLUSTER_NODE_ID": "n1",
    "DISCOVERY_MODE": "dns",
}


def _config(env: dict[str, str]) -> DnsConfig:
    settings = load_settings(None, {**CLUSTER, **env}, None, declared_settings)
    return settings.node.plugin("dns", DnsConfig)


def _problems(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        _config(env)
    return str(caught.value)


def test_the_plugin_declares_its_variables_and_defaults() -> None:
    (dns_section,) = [d for d in declared_settings() if d.section == "dns"]
    assert dns_section.env_prefix == "DISCOVERY_DNS_"
    assert set(dns_section.env) == {
        "DISCOVERY_DNS_NAME",
        "DISCOVERY_DNS_TYPE",
        "DISCOVERY_DNS_INTERVAL",
        "DISCOVERY_DNS_SERVER",
        "DISCOVERY_DNS_EXPECT",
    }
    config = _config({"DISCOVERY_DNS_NAME": "loadtest.default.svc.cluster.local."})
    assert (config.name, config.type, config.interval, config.server, config.expect) == (
        "loadtest.default.svc.cluster.local",
        None,
        5.0,
        None,
        3,
    )


def test_bad_values_name_the_variable_the_value_and_what_is_allowed() -> None:
    message = _problems(
        {
            "DISCOVERY_DNS_NAME": "bad..name",
            "DISCOVERY_DNS_TYPE": "MX",
            "DISCOVERY_DNS_INTERVAL": "often",
            "DISCOVERY_DNS_SERVER": "dns.example:53",
            "DISCOVERY_DNS_EXPECT": "0",
        }
    )
    assert "DISCOVERY_DNS_NAME='bad..name': not a DNS name; allowed:" in message
    assert "DISCOVERY_DNS_TYPE='MX': allowed: A, AAAA, SRV" in message
    assert "DISCOVERY_DNS_INTERVAL='often': not a duration" in message
    assert "DISCOVERY_DNS_SERVER='dns.example:53': must be the DNS server's IP address" in message
    assert "DISCOVERY_DNS_EXPECT='0': must be an integer >= 1" in message
    assert "must be at least 100ms" in _problems({"DISCOVERY_DNS_INTERVAL": "10ms"})
    assert "not a DNS name" in _problems({"DISCOVERY_DNS_NAME": "x" * 64 + ".example"})


def test_an_unknown_variable_with_the_prefix_is_warned_about() -> None:
    warnings = load_settings(
        None, {**CLUSTER, "DISCOVERY_DNS_NAMES": "x"}, None, declared_settings
    ).warnings
    assert any("DISCOVERY_DNS_NAMES" in w and "DISCOVERY_DNS_NAME?" in w for w in warnings)


def test_choosing_dns_without_a_name_is_a_named_error() -> None:
    with pytest.raises(DnsSettingsError) as caught:
        DnsSettings.from_config(DnsConfig(), "0.0.0.0:7000")
    assert "DISCOVERY_MODE=dns needs DISCOVERY_DNS_NAME (cluster.dns.name)" in str(caught.value)


def test_addresses_need_a_fixed_bind_port_srv_does_not() -> None:
    with pytest.raises(DnsSettingsError, match="CLUSTER_BIND_ADDR='127.0.0.1:0' has none"):
        DnsSettings.from_config(DnsConfig(name="loadtest.svc"), "127.0.0.1:0")
    srv = DnsSettings.from_config(DnsConfig(name="_lt._tcp.svc"), "127.0.0.1:0")
    assert srv.types == ("SRV",)


@pytest.mark.parametrize(
    ("name", "record_type", "types"),
    [
        ("loadtest.default.svc.cluster.local", None, ("A", "AAAA")),
        ("_loadtest-cluster._tcp.service.consul", None, ("SRV",)),
        ("loadtest.service.consul", "SRV", ("SRV",)),
        ("loadtest.service.consul", "aaaa", ("AAAA",)),
    ],
)
def test_the_record_type_follows_the_name_unless_set(
    name: str, record_type: str | None, types: tuple[str, ...]
) -> None:
    config = DnsConfig(name=name, type=record_type, server="127.0.0.1:8600")
    settings = DnsSettings.from_config(config, "0.0.0.0:7000")
    assert (settings.types, settings.port, settings.server) == (types, 7000, ("127.0.0.1", 8600))


def test_a_server_without_a_port_is_asked_on_53_and_ipv6_is_fine() -> None:
    assert DnsSettings.from_config(DnsConfig(name="a.b", server="10.0.0.2"), ":7000").server == (
        "10.0.0.2",
        53,
    )
    assert DnsSettings.from_config(DnsConfig(name="a.b", server="[::1]:5353"), ":7000").server == (
        "::1",
        5353,
    )


# What a headless Kubernetes Service answers: one A record per ready pod.
A_RESPONSE = """id 1
opcode QUERY
rcode NOERROR
flags QR AA RD
;QUESTION
loadtest.default.svc.cluster.local. IN A
;ANSWER
loadtest.default.svc.cluster.local. 5 IN A 10.1.0.7
loadtest.default.svc.cluster.local. 5 IN A 10.1.0.8
loadtest.default.svc.cluster.local. 5 IN A 10.1.0.8
"""

AAAA_RESPONSE = """id 2
opcode QUERY
rcode NOERROR
flags QR AA RD
;QUESTION
loadtest.example. IN AAAA
;ANSWER
loadtest.example. 5 IN CNAME nodes.example.
nodes.example. 5 IN AAAA fd00:0:0::1
nodes.example. 5 IN AAAA fd00::2
"""

# What Consul answers for an RFC 2782 name: targets it names itself, and their
# addresses in the additional section; one target has none there.
SRV_RESPONSE = """id 3
opcode QUERY
rcode NOERROR
flags QR AA RD
;QUESTION
_loadtest-cluster._tcp.service.consul. IN SRV
;ANSWER
_loadtest-cluster._tcp.service.consul. 0 IN SRV 1 1 7001 7f00000b.addr.dc1.consul.
_loadtest-cluster._tcp.service.consul. 0 IN SRV 1 1 7002 7f00000c.addr.dc1.consul.
_loadtest-cluster._tcp.service.consul. 0 IN SRV 1 1 7003 node-13.node.dc1.consul.
_loadtest-cluster._tcp.service.consul. 0 IN SRV 0 0 7004 .
;ADDITIONAL
7f00000b.addr.dc1.consul. 0 IN A 127.0.0.11
7f00000c.addr.dc1.consul. 0 IN A 127.0.0.12
7f00000c.addr.dc1.consul. 0 IN AAAA ::1
"""


def test_address_records_are_each_a_peer_on_this_nodes_port() -> None:
    answer = dns.message.from_text(A_RESPONSE).answer
    assert address_endpoints(answer, 7000) == {("10.1.0.7", 7000), ("10.1.0.8", 7000)}
    # A CNAME on the way is followed by the server; only the addresses count, and
    # two spellings of one IPv6 address are one peer.
    answer = dns.message.from_text(AAAA_RESPONSE).answer
    endpoints = address_endpoints(answer, 7000)
    assert endpoints == {("fd00::1", 7000), ("fd00::2", 7000)}
    assert sorted(peer_address(e) for e in endpoints) == ["[fd00::1]:7000", "[fd00::2]:7000"]


def test_srv_records_give_targets_with_their_own_ports() -> None:
    message = dns.message.from_text(SRV_RESPONSE)
    targets = srv_targets(message.answer)
    by_name = {target.to_text(): port for target, port in targets}
    # The "." target (no service, RFC 2782) is no peer.
    assert by_name == {
        "7f00000b.addr.dc1.consul.": 7001,
        "7f00000c.addr.dc1.consul.": 7002,
        "node-13.node.dc1.consul.": 7003,
    }
    found = {target.to_text(): addresses_in(message.additional, target) for target, _ in targets}
    assert found == {
        "7f00000b.addr.dc1.consul.": {"127.0.0.11"},
        "7f00000c.addr.dc1.consul.": {"127.0.0.12", "::1"},
        "node-13.node.dc1.consul.": set(),  # looked up on its own by the plugin
    }
