"""Addresses in settings: host:port (IPv6 in brackets), peer lists, resolve targets.

Each parser raises ``ValueError`` whose text is the "what is allowed" part of the
user-facing message, like every parser in ``values``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.fullmatch(host)) and ".." not in host


def split_host_port(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` as ``(host, port)``; ``ValueError`` otherwise."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if ":" in host:
            raise ValueError("IPv6 needs brackets")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError("bad port")
    if host and not _host_ok(host):
        raise ValueError("bad host")
    return host, int(port)


def host_port(*, listen: bool) -> Callable[[Any], str]:
    example = "0.0.0.0:7000" if listen else "10.0.0.5:7000"
    allowed = f"must be host:port (IPv6 as [addr]:port), e.g. {example}"

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(allowed)
        try:
            host, port = split_host_port(value.strip())
        except ValueError:
            raise ValueError(allowed) from None
        # A listener may bind all interfaces (empty host) or an ephemeral port; a peer may not.
        if not listen and (not host or port == 0):
            raise ValueError(allowed)
        return value.strip()

    return parse


def peer_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list):
        raise ValueError("must be a list of host:port, or one string 'host:port,host:port'")
    return value


def resolve_addr(value: Any) -> str:
    """An IP, or host:port, normalised so ``urlsplit('//' + value)`` reads it back."""
    allowed = "must be an IP address, or ip:port / host:port, e.g. 10.0.0.5 or 10.0.0.5:8443"
    if not isinstance(value, str):
        raise ValueError(allowed)
    text = value.strip()
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
        return f"[{ip}]" if ip.version == 6 else str(ip)
    except ValueError:
        pass
    try:
        host, port = split_host_port(text)
    except ValueError:
        raise ValueError(allowed) from None
    if not host or port == 0:
        raise ValueError(allowed)
    return text
