"""Free ports on loopback addresses, and whether something listens on one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

LOOPBACK = "127.0.0.1"

# Ports handed out in this process. The probe socket is closed before the
# service binds the port, so without this two fixtures started back to back
# could be given the same port by the kernel.
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(*, hosts: Sequence[str] = (LOOPBACK,), udp: bool = False) -> int:
    """A TCP port free now on every one of ``hosts`` (and for UDP too when ``udp``),
    never handed out twice in this process.

    Several hosts: cluster nodes on 127.0.0.x share one port number, as on real hosts.
    """
    with _ports_lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((hosts[0], 0))
                port = probe.getsockname()[1]
            if port in _handed_out:
                continue
            if not all(_bindable(host, port, socket.SOCK_STREAM) for host in hosts[1:]):
                continue
            if udp and not all(_bindable(host, port, socket.SOCK_DGRAM) for host in hosts):
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no port free on all of {list(hosts)}")


def _bindable(host: str, port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    with socket.create_connection((host, port), timeout=timeout):
        return True
