"""Which environment variable sets which key, and the CLI flags with names of their own.

The file describes the test, the environment describes the machine: ``PLAN_ENV``
fills the plan's gaps, ``NODE_ENV`` wins over the file's ``cluster:`` section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from difflib import get_close_matches

from loadtest_supervisor.config.errors import is_secret_name, show_value
from loadtest_supervisor.config.schema import Path

PLAN_ENV: dict[str, Path] = {
    "TARGET_URL": ("target", "url"),
    "RESOLVE_TARGET_ADDR": ("target", "resolve"),
    "CUSTOM_HEADERS": ("target", "headers"),
    "CONNECT_TIMEOUT": ("target", "connect_timeout"),
    "REQUEST_TIMEOUT": ("target", "request_timeout"),
    "KEEP_ALIVE": ("target", "keep_alive"),
    "SKIP_TLS_VERIFY": ("target", "tls", "verify"),
    "TLS_CA_PATH": ("target", "tls", "ca"),
    "CLIENT_CERT_PATH": ("target", "tls", "client_cert"),
    "CLIENT_KEY_PATH": ("target", "tls", "client_key"),
    "LOAD_MODEL_TYPE": ("load", "model"),
    "NUM_CONCURRENT_TASKS": ("load", "concurrency"),
    "TEST_DURATION": ("load", "duration"),
    "LOADTEST_WORKERS": ("load", "workers"),
    "TARGET_RPS": ("load", "target_rps"),
    "MIN_RPS": ("load", "min_rps"),
    "MAX_RPS": ("load", "max_rps"),
    "RAMP_DURATION": ("load", "ramp_duration"),
    "DAILY_MIN_RPS": ("load", "daily_min_rps"),
    "DAILY_MID_RPS": ("load", "daily_mid_rps"),
    "DAILY_MAX_RPS": ("load", "daily_max_rps"),
    "DAILY_CYCLE_DURATION": ("load", "daily_cycle_duration"),
    "REQUEST_TYPE": ("request", "method"),
    "JSON_PAYLOAD": ("request", "json"),
}
# SEND_JSON has no path of its own: it decides whether JSON_PAYLOAD is used.
PLAN_ENV_SPECIAL = ("CUSTOM_HEADERS", "SKIP_TLS_VERIFY", "JSON_PAYLOAD")

NODE_ENV: dict[str, Path] = {
    "CLUSTER_ENABLED": ("cluster", "enabled"),
    "CLUSTER_BIND_ADDR": ("cluster", "bind_addr"),
    "CLUSTER_HEALTH_ADDR": ("cluster", "health_addr"),
    "HTTP_API_ENABLED": ("cluster", "http_api"),
    "CLUSTER_NODE_ID": ("cluster", "node_id"),
    "CLUSTER_REGION": ("cluster", "region"),
    "CLUSTER_ADVERTISE_ADDR": ("cluster", "advertise_addr"),
    "DISCOVERY_MODE": ("cluster", "discovery_mode"),
    "CLUSTER_NODES": ("cluster", "nodes"),
    "CLUSTER_SECRET": ("cluster", "secret"),
    "CLUSTER_TLS_CERT": ("cluster", "tls_cert"),
    "CLUSTER_TLS_KEY": ("cluster", "tls_key"),
    "CLUSTER_TLS_CA": ("cluster", "tls_ca"),
    "CLUSTER_INSECURE": ("cluster", "insecure"),
    "CLUSTER_DATA_DIR": ("cluster", "data_dir"),
    "CLUSTER_MEMBER_REMOVE_AFTER": ("cluster", "member_remove_after"),
    "CLUSTER_VOTERS": ("cluster", "voters"),
    "CLUSTER_VOTER_REPLACE_AFTER": ("cluster", "voter_replace_after"),
    "CLUSTER_CONFIG_SOURCE": ("cluster", "config_source"),
    "CLUSTER_API_TOKEN": ("cluster", "api_token"),
    "CLUSTER_START_LEAD": ("cluster", "start_lead"),
    "CLUSTER_RESHARE_AFTER": ("cluster", "reshare_after"),
    "CLUSTER_ORPHAN_GRACE": ("cluster", "orphan_grace"),
    "CLUSTER_WORKERS": ("cluster", "workers"),
    "CLUSTER_MAX_CLOCK_SKEW": ("cluster", "max_clock_skew"),
    "CLUSTER_METRICS_INTERVAL": ("cluster", "metrics_interval"),
    "CLUSTER_CHECKPOINT_INTERVAL": ("cluster", "checkpoint_interval"),
    "CLUSTER_MAX_PLAN_BYTES": ("cluster", "max_plan_bytes"),
    "CLUSTER_HTTP_MAX_BODY_BYTES": ("cluster", "http_max_body_bytes"),
    "CLUSTER_HTTP_MAX_CONNECTIONS": ("cluster", "http_max_connections"),
    "CLUSTER_GRPC_MAX_MESSAGE_BYTES": ("cluster", "grpc_max_message_bytes"),
    "CLUSTER_GRPC_MAX_STREAMS": ("cluster", "grpc_max_streams"),
}
ENV_FOR_PATH = {path: var for var, path in {**PLAN_ENV, **NODE_ENV}.items()}
ENV_FOR_PATH[("request", "json")] = "SEND_JSON=true with JSON_PAYLOAD"
# CLI flags with a name of their own; any other override key is a dotted YAML path.
CLI_FLAGS: dict[str, Path] = {
    "workers": ("load", "workers"),
    "duration": ("load", "duration"),
    "target_url": ("target", "url"),
}
_HEADERS_SYNTAX = "Name:Value,Name2:Value2 (\\, escapes a comma inside a value)"


def parse_headers_env(text: str) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    problems = []
    pairs = re.split(r"(?<!\\),", text)
    for number, raw in enumerate(pairs, 1):
        pair = raw.replace("\\,", ",").strip()
        if not pair:
            continue
        name, sep, value = pair.partition(":")
        if not sep or not name.strip():
            shown = show_value(pair, secret=is_secret_name(pair))
            problems.append(
                f"CUSTOM_HEADERS pair {number}={shown}: must be Name:Value; "
                f"allowed: {_HEADERS_SYNTAX}"
            )
            continue
        headers[name.strip()] = value.strip()
    return headers, problems


def clean_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with surrounding blanks removed; an empty variable counts as unset."""
    return {k: v.strip() for k, v in environ.items() if isinstance(v, str) and v.strip()}


def unknown_env_warnings(environ: Mapping[str, str], plugin_vars: Iterable[str] = ()) -> list[str]:
    """Warnings for CLUSTER_*/LOADTEST_* variables that no setting reads (plugins' included)."""
    # Read elsewhere, not settings: the plugin manager's switch for hook tracing, and a
    # cluster node's test-only replay of a recorded run (engine.replayed_load).
    switches = ["LOADTEST_TRACE_HOOKS", "LOADTEST_TEST_REPLAY_METRICS"]
    known = [*PLAN_ENV, *NODE_ENV, "SEND_JSON", *switches, *plugin_vars]
    warnings = []
    for var in sorted(clean_env(environ)):
        if var.startswith(("CLUSTER_", "LOADTEST_")) and var not in known:
            close = get_close_matches(var, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"environment variable {var} is not a setting and is ignored{hint}")
    return warnings
