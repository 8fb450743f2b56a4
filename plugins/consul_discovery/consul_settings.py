"""The Consul plugin's settings, declared to the core (``loadtest_declare_settings``).

The core loads them like its own node settings, under ``cluster.consul:`` in YAML or
from these variables (the environment wins), and shows them in ``--print-config``:

    CONSUL_ADDR=http://127.0.0.1:8500 the agent
    CONSUL_SERVICE_NAME=loadtest-cluster
    CONSUL_HTTP_TOKEN                 sent as X-Consul-Token; secret
    CONSUL_CHECK_INTERVAL=5s          how often the agent calls /health/cluster (>= 1s)
    CONSUL_CHECK_TIMEOUT=2s           how long that call may take (<= the interval; at
                                      most the interval when only that is set)
    CONSUL_DEREGISTER_AFTER=1m        critical this long -> the agent drops the node (>= 1m)
    CONSUL_LIVENESS_TTL=1s            the TTL check the node passes every TTL/3; a node that
                                      stops passing (kill -9) goes critical this long
                                      after its last pass (>= 300ms)
    CONSUL_ANTI_ENTROPY_INTERVAL=10s  how often the registration is re-asserted
    CONSUL_BOOTSTRAP_EXPECT=3         passing nodes a brand-new cluster waits for
    CONSUL_CONFIG_KEY=loadtest/plan.yaml  the plan's KV key (CLUSTER_CONFIG_SOURCE=consul-kv)
    CONSUL_TEMPLATE_FILE              a consul-template template: its rendering is the plan
    CONSUL_TEMPLATE_BIN=consul-template   the binary that renders it (PATH is searched)
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from loadtest_supervisor.config.durations import format_duration
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.config.values import (
    Duration,
    HttpUrl,
    Int1,
    OptDuration,
    OptFile,
    OptSecret,
    Text,
)

SECTION = "consul"

# Consul silently raises shorter values to its minimums; a setting that would be
# ignored is refused instead, so what is configured is what runs.
MIN_CHECK_INTERVAL_S = 1.0
MIN_DEREGISTER_AFTER_S = 60.0
# The node passes its TTL check every TTL/3; below this, one slow request to the
# agent (or a busy moment on the loop) would be enough to flap it critical.
MIN_LIVENESS_TTL_S = 0.3
_MINIMUMS = {
    "check_interval": MIN_CHECK_INTERVAL_S,
    "deregister_after": MIN_DEREGISTER_AFTER_S,
    "liveness_ttl": MIN_LIVENESS_TTL_S,
}


class ConsulConfig(BaseModel):
    """``cluster.consul:``, as validated by the core."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    addr: HttpUrl = "http://127.0.0.1:8500"
    service_name: Text = "loadtest-cluster"
    token: OptSecret = None
    check_interval: Duration = 5.0
    # None: 2 s, or the interval when that is shorter, rather than conflict with it.
    check_timeout: OptDuration = Field(None, validate_default=True)
    deregister_after: Duration = 60.0
    liveness_ttl: Duration = 1.0
    anti_entropy_interval: Duration = 10.0
    bootstrap_expect: Int1 = 3
    config_key: Text = "loadtest/plan.yaml"
    template_file: OptFile = None
    template_bin: Text = "consul-template"

    @field_validator("check_interval", "deregister_after", "liveness_ttl")
    @classmethod
    def _at_least_consul_minimum(cls, seconds: float, info: ValidationInfo) -> float:
        minimum = _MINIMUMS[info.field_name or ""]
        if seconds < minimum:
            raise ValueError(f"must be at least {format_duration(minimum)}")
        return seconds

    @field_validator("check_timeout")
    @classmethod
    def _within_interval(cls, seconds: float | None, info: ValidationInfo) -> float | None:
        interval = info.data.get("check_interval")
        if seconds is not None and interval is not None and seconds > interval:
            limit = format_duration(interval)
            raise ValueError(f"must be at most check_interval (CONSUL_CHECK_INTERVAL, {limit})")
        return seconds


DECLARED = PluginSettings(
    section=SECTION,
    model=ConsulConfig,
    env={
        "CONSUL_ADDR": "addr",
        "CONSUL_SERVICE_NAME": "service_name",
        "CONSUL_HTTP_TOKEN": "token",
        "CONSUL_CHECK_INTERVAL": "check_interval",
        "CONSUL_CHECK_TIMEOUT": "check_timeout",
        "CONSUL_DEREGISTER_AFTER": "deregister_after",
        "CONSUL_LIVENESS_TTL": "liveness_ttl",
        "CONSUL_ANTI_ENTROPY_INTERVAL": "anti_entropy_interval",
        "CONSUL_BOOTSTRAP_EXPECT": "bootstrap_expect",
        "CONSUL_CONFIG_KEY": "config_key",
        "CONSUL_TEMPLATE_FILE": "template_file",
        "CONSUL_TEMPLATE_BIN": "template_bin",
    },
    env_prefix="CONSUL_",
)


@dataclass(frozen=True)
class ConsulSettings:
    """What the plugin's parts use: the agent split into host, port and scheme."""

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
    def from_config(cls, config: ConsulConfig) -> ConsulSettings:
        url = urllib.parse.urlsplit(config.addr)
        default_port = 443 if url.scheme == "https" else 8500
        token = config.token.get_secret_value() if config.token is not None else None
        timeout = config.check_timeout
        return cls(
            host=url.hostname or "127.0.0.1",
            port=url.port or default_port,
            scheme=url.scheme or "http",
            token=token or None,
            service_name=config.service_name,
            check_interval_s=config.check_interval,
            check_timeout_s=min(2.0, config.check_interval) if timeout is None else timeout,
            deregister_after_s=config.deregister_after,
            liveness_ttl_s=config.liveness_ttl,
            anti_entropy_interval_s=config.anti_entropy_interval,
            bootstrap_expect=config.bootstrap_expect,
        )


def go_duration(seconds: float) -> str:
    """Seconds as a Go duration string, the form Consul's check fields take."""
    return f"{round(seconds * 1000)}ms"
