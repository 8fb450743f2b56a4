"""One lookup of the discovery name with dnspython's asyncio resolver (never blocks the loop).

``DnsLookup.endpoints()`` gives every ``(ip, port)`` the name lists now, or raises
``LookupFailed`` saying why (NXDOMAIN, no records, a timeout, a server failure): the
caller keeps its last good answer then, so one failed lookup changes nothing.
"""

from __future__ import annotations

import asyncio

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver

from loadtest_supervisor.plugins.dns_discovery.dns_answers import (
    Endpoint,
    address_endpoints,
    addresses_in,
    srv_targets,
)
from loadtest_supervisor.plugins.dns_discovery.dns_settings import ADDRESS_TYPES, DnsSettings

# One lookup's limit, retries included: a server that does not answer in this time is
# a failed lookup, and the next one comes an interval later.
LOOKUP_TIMEOUT_S = 3.0
# EDNS with a 1232-byte payload (the DNS flag day's value): a fleet's worth of records
# fits in one UDP answer. Without EDNS, Consul cuts a UDP answer to 3 records
# (udp_answer_limit) without marking it truncated, so a larger fleet would look short.
EDNS_PAYLOAD = 1232


class LookupFailed(Exception):
    """The name gave no usable answer this time; the message says why, for ``problem()``."""


def make_resolver(settings: DnsSettings) -> dns.asyncresolver.Resolver:
    """A resolver asking DISCOVERY_DNS_SERVER, else the system's (/etc/resolv.conf)."""
    if settings.server is None:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise LookupFailed(
                "no system DNS resolver is configured (/etc/resolv.conf); set DISCOVERY_DNS_SERVER"
            ) from None
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        ip, port = settings.server
        resolver.nameservers = [ip]
        resolver.port = port
    resolver.lifetime = LOOKUP_TIMEOUT_S
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    return resolver


class DnsLookup:
    def __init__(self, settings: DnsSettings) -> None:
        self._settings = settings
        self._resolver: dns.asyncresolver.Resolver | None = None
        # The system's resolver applies its search list, as every program on the host
        # does (a Kubernetes pod may name its Service "loadtest"); a named server is
        # asked exactly the name given.
        self._search = settings.server is None

    @property
    def what(self) -> str:
        """The question, for messages: ``SRV _x._tcp.service.consul @127.0.0.1:8600``."""
        server = self._settings.server
        where = f" @{server[0]}:{server[1]}" if server else ""
        return f"{'+'.join(self._settings.types)} {self._settings.name}{where}"

    async def endpoints(self) -> set[Endpoint]:
        if self._resolver is None:
            self._resolver = make_resolver(self._settings)
        if self._settings.types == ("SRV",):
            return await self._srv(self._resolver)
        return await self._addresses(self._resolver, self._settings.name, self._settings.port)

    async def _addresses(
        self, resolver: dns.asyncresolver.Resolver, name: str | dns.name.Name, port: int
    ) -> set[Endpoint]:
        types = self._settings.types if self._settings.types != ("SRV",) else ADDRESS_TYPES
        answers = await asyncio.gather(
            *(self._ask(resolver, name, rdtype) for rdtype in types), return_exceptions=True
        )
        found: set[Endpoint] = set()
        absent: list[str] = []
        for answer in answers:
            if isinstance(answer, _NoRecords):
                absent.append(str(answer))
            elif isinstance(answer, BaseException):
                # A timeout or server failure for one type may hide addresses of the
                # other family: the answer is not whole, so it is not used.
                raise answer
            else:
                found |= address_endpoints([answer.rrset], port)
        if not found:
            raise LookupFailed("; ".join(absent))
        return found

    async def _srv(self, resolver: dns.asyncresolver.Resolver) -> set[Endpoint]:
        answer = await self._ask(resolver, self._settings.name, "SRV")
        targets = srv_targets([answer.rrset])
        if not targets:
            raise LookupFailed(f"{self._settings.name}: SRV records name no target")
        additional = answer.response.additional
        found: set[Endpoint] = set()
        for target, port in sorted(targets):
            ips = addresses_in(additional, target)
            if ips:
                found |= {(ip, port) for ip in ips}
                continue
            try:
                found |= await self._addresses(resolver, target, port)
            except LookupFailed:
                # A target that does not resolve (yet) is a node not ready: the others
                # are still peers. An empty result fails below.
                continue
        if not found:
            raise LookupFailed(f"{self._settings.name}: no SRV target resolves to an address")
        return found

    async def _ask(
        self, resolver: dns.asyncresolver.Resolver, name: str | dns.name.Name, rdtype: str
    ) -> dns.resolver.Answer:
        try:
            return await resolver.resolve(name, rdtype, search=self._search)
        except dns.resolver.NXDOMAIN:
            raise _NoRecords(f"{name} {rdtype}: NXDOMAIN (no such name)") from None
        except dns.resolver.NoAnswer:
            raise _NoRecords(f"{name} {rdtype}: no records") from None
        except dns.exception.Timeout:
            raise LookupFailed(f"{name} {rdtype}: no answer in {LOOKUP_TIMEOUT_S:g}s") from None
        except dns.resolver.NoNameservers as exc:
            raise LookupFailed(f"{name} {rdtype}: every server failed ({exc})") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"{name} {rdtype}: {type(exc).__name__}: {exc}") from None


class _NoRecords(LookupFailed):
    """The server answered: the name or its records do not exist (yet)."""
