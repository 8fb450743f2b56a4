"""DNS answers as peer endpoints: pure functions over dnspython's records, no I/O.

An endpoint is ``(ip, port)`` with the IP in its canonical text form, so the same
address spelled two ways (``::1`` and ``0:0::1``) is one peer; ``peer_address`` gives
the ``host:port`` that Raft uses as the member's identity.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import dns.name
import dns.rdatatype
import dns.rrset

Endpoint = tuple[str, int]
ADDRESS_RDTYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def canonical_ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


def peer_address(endpoint: Endpoint) -> str:
    """``ip:port``, IPv6 in brackets: how a node advertises itself (CLUSTER_ADVERTISE_ADDR)."""
    ip, port = endpoint
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def address_endpoints(rrsets: Iterable[dns.rrset.RRset], port: int) -> set[Endpoint]:
    """Each A/AAAA record in ``rrsets`` with ``port`` (a name's several addresses are
    several peers); records of other types (a CNAME on the way) are skipped."""
    return {
        (canonical_ip(record.address), port)
        for rrset in rrsets
        if rrset.rdtype in ADDRESS_RDTYPES
        for record in rrset
    }


def srv_targets(rrsets: Iterable[dns.rrset.RRset]) -> set[tuple[dns.name.Name, int]]:
    """``(target, port)`` of each SRV record. A target of ``.`` means "no service here"
    (RFC 2782) and is left out; priority and weight do not matter: every node is a peer."""
    return {
        (record.target, record.port)
        for rrset in rrsets
        if rrset.rdtype == dns.rdatatype.SRV
        for record in rrset
        if record.target != dns.name.root
    }


def addresses_in(section: Iterable[dns.rrset.RRset], target: dns.name.Name) -> set[str]:
    """The A/AAAA addresses that a response's additional section gives for ``target``
    (Consul and most servers send them with SRV answers, saving a lookup per target)."""
    return {
        canonical_ip(record.address)
        for rrset in section
        if rrset.rdtype in ADDRESS_RDTYPES and rrset.name == target
        for record in rrset
    }
