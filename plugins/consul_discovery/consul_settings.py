"""What the Consul discovery plugin reads: NodeSettings plus its own CONSUL_* variables.

NodeSettings carries the agent address, the service name and the token. The
check timing, the anti-entropy period and the bootstrap size are this plugin's
business only, so they are read here from the environment, each error naming
its variable:

    CONSUL_CHECK_INTERVAL=5s          how often the agent calls /health/cluster (>= 1s)
    CONSUL_CHECK_TIMEOUT=2s           how long that call may take (<= the interval; at
                                      most the interval when only that is set)
    CONSUL_DEREGISTER_AFTER=1m        critical this long -> the agent drops the node (>= 1m)
    CONSUL_LIVENESS_TTL=1s            the TTL check the node passes every TTL/3; a node that
                                      stops passing (kill -9) goes critical this long
                                      after its last pass (>= 300ms)
    CONSUL_ANTI_ENTROPY_INTERVAL=10s  how often the registration is re-asserted
    CONSUL_BOOTSTRAP_EXPECT=3         passing nodes a brand-new cluster waits for
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtest_supervisor.config.durations import duration_seconds
from loadtest_supervisor.config.errors import show_value

# Consul silently raises shorter values to its minimums; a setting that would be
# ignored is refused instead, so what is configured is what runs.
MIN_CHECK_INTERVAL_S = 1.0
MIN_DEREGISTER_AFTER_S = 60.0
# The node passes its TTL check every TTL/3; below this, one slow request to the
# agent (or a busy moment on the loop) would be enough to flap it critical.
MIN_LIVENESS_TTL_S = 0.3


class ConsulSettingsError(ValueError):
    """A CONSUL_* variable has a value the plugin cannot use; the message names it."""


@dataclass(frozen=True)
class ConsulSettings:
    host: str
    port: int
    scheme: str
    token: str | None
    service_name: str
    check_interval_s: float = 5.0
    check_timeout_s: float = 2.0
    deregister_after_s: float = 60.0
    liveness_ttl_s: float = 1.0
    anti_entropy_interval_s: float = 10.0
    bootstrap_expect: int = 3

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; the token must not.
        token = "set" if self.token else "unset"
        return (
            f"ConsulSettings({self.scheme}://{self.host}:{self.port}, "
            f"service={self.service_name!r}, token={token})"
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @classmethod
    def from_node_settings(
        cls, node: Any, environ: Mapping[str, str] = os.environ
    ) -> ConsulSettings:
        """Build from NodeSettings and the environment; raises ConsulSettingsError."""
        url = urllib.parse.urlsplit(node.consul_addr)
        default_port = 443 if url.scheme == "https" else 8500
        token = node.consul_token.get_secret_value() if node.consul_token is not None else None
        interval = _duration(environ, "CONSUL_CHECK_INTERVAL", 5.0, minimum=MIN_CHECK_INTERVAL_S)
        # The 2 s default gives way to a shorter interval rather than conflict with it.
        timeout = _duration(environ, "CONSUL_CHECK_TIMEOUT", min(2.0, interval), minimum=0.001)
        if timeout > interval:
            raise ConsulSettingsError(
                f"CONSUL_CHECK_TIMEOUT={show_value(environ.get('CONSUL_CHECK_TIMEOUT', '2s'))}: "
                f"must be at most CONSUL_CHECK_INTERVAL ({interval:g}s)"
            )
        return cls(
            host=url.hostname or "127.0.0.1",
            port=url.port or default_port,
            scheme=url.scheme or "http",
            token=token or None,
            service_name=node.consul_service_name,
            check_interval_s=interval,
            check_timeout_s=timeout,
            deregister_after_s=_duration(
                environ, "CONSUL_DEREGISTER_AFTER", 60.0, minimum=MIN_DEREGISTER_AFTER_S
            ),
            liveness_ttl_s=_duration(
                environ, "CONSUL_LIVENESS_TTL", 1.0, minimum=MIN_LIVENESS_TTL_S
            ),
            anti_entropy_interval_s=_duration(
                environ, "CONSUL_ANTI_ENTROPY_INTERVAL", 10.0, minimum=0.1
            ),
            bootstrap_expect=_count(environ, "CONSUL_BOOTSTRAP_EXPECT", 3),
        )


def go_duration(seconds: float) -> str:
    """Seconds as a Go duration string, the form Consul's check fields take."""
    return f"{round(seconds * 1000)}ms"


def _duration(environ: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = duration_seconds(text)
    except ValueError as exc:
        raise ConsulSettingsError(f"{name}={show_value(text)}: {exc}") from None
    if seconds < minimum:
        raise ConsulSettingsError(f"{name}={show_value(text)}: must be at least {minimum:g}s")
    return seconds


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConsulSettingsError(f"{name}={show_value(text)}: must be a whole number >= 1")
    return value
