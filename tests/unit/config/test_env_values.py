"""The defaults, and every environment variable: what each one sets, and what each
one says about a value it cannot take.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from loadtest_supervisor.config.loading import load_settings
from tests.unit.config.loading import ENV, URL, load, problems

# --- defaults and what each variable sets --------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings(None, ENV)
    plan, node = settings.plan, settings.node
    assert plan is not None
    assert plan.target.url == URL
    assert plan.target.resolve is None
    assert plan.target.headers == {}
    assert (plan.target.connect_timeout, plan.target.request_timeout) == (5.0, 30.0)
    assert plan.target.keep_alive is True
    assert plan.target.tls.verify is True
    assert (plan.target.tls.ca, plan.target.tls.client_cert, plan.target.tls.client_key) == (
        None,
        None,
        None,
    )
    load_ = plan.load
    assert (load_.model, load_.concurrency, load_.duration, load_.workers) == (
        "Concurrent",
        10,
        7200.0,
        None,
    )
    assert (plan.request.method, plan.request.body, plan.request.json_body) == ("GET", None, None)
    assert plan.scenarios is None
    assert plan.thresholds == []
    assert node.enabled is False
    assert (node.bind_addr, node.health_addr, node.http_api) == (
        "0.0.0.0:7000",
        "0.0.0.0:8080",
        True,
    )
    assert node.node_id == socket.gethostname()
    assert (node.region, node.advertise_addr, node.discovery_mode) == (None, None, "static")
    assert node.nodes == []
    assert node.plugin_sections == {}  # standalone: no plugin is loaded, nor its settings
    assert (node.secret, node.insecure) == (None, False)
    assert (node.tls_cert, node.tls_key, node.tls_ca) == (None, None, None)
    assert node.data_dir == "./data/cluster"
    assert node.config_source is None  # no --config given
    assert settings.config_path is None
    assert settings.warnings == ()


@pytest.mark.parametrize(
    ("env", "attribute", "expected"),
    [
        ({"RESOLVE_TARGET_ADDR": "10.0.0.5"}, "target.resolve", "10.0.0.5"),
        ({"RESOLVE_TARGET_ADDR": "::1"}, "target.resolve", "[::1]"),
        (
            {"RESOLVE_TARGET_ADDR": "backend.internal:8443"},
            "target.resolve",
            "backend.internal:8443",
        ),
        (
            {"CUSTOM_HEADERS": "X-Api-Key:abc,X-Team: perf"},
            "target.headers",
            {"X-Api-Key": "abc", "X-Team": "perf"},
        ),
        ({"CONNECT_TIMEOUT": "250ms"}, "target.connect_timeout", 0.25),
        ({"REQUEST_TIMEOUT": "1m"}, "target.request_timeout", 60.0),
        ({"KEEP_ALIVE": "no"}, "target.keep_alive", False),
        ({"SKIP_TLS_VERIFY": "true"}, "target.tls.verify", False),
        ({"SKIP_TLS_VERIFY": "0"}, "target.tls.verify", True),
        ({"LOAD_MODEL_TYPE": "concurrent"}, "load.model", "Concurrent"),
        ({"NUM_CONCURRENT_TASKS": "64"}, "load.concurrency", 64),
        ({"TEST_DURATION": "3d"}, "load.duration", 259200.0),
        ({"TEST_DURATION": "90"}, "load.duration", 90.0),
        ({"LOADTEST_WORKERS": "3"}, "load.workers", 3),
        ({"LOAD_MODEL_TYPE": "RPS", "TARGET_RPS": "250.5"}, "load.target_rps", 250.5),
        (
            {
                "LOAD_MODEL_TYPE": "ramprps",
                "MIN_RPS": "0",
                "MAX_RPS": "100",
                "RAMP_DURATION": "10m",
            },
            "load.ramp_duration",
            600.0,
        ),
        (
            {"LOAD_MODEL_TYPE": "RampRps", "MIN_RPS": "5", "MAX_RPS": "100", "RAMP_DURATION": "1m"},
            "load.min_rps",
            5.0,
        ),
        (
            {"LOAD_MODEL_TYPE": "RampRps", "MIN_RPS": "5", "MAX_RPS": "100", "RAMP_DURATION": "1m"},
            "load.max_rps",
            100.0,
        ),
        (
            {
                "LOAD_MODEL_TYPE": "dailytraffic",
                "DAILY_MIN_RPS": "1",
                "DAILY_MID_RPS": "5",
                "DAILY_MAX_RPS": "9",
                "DAILY_CYCLE_DURATION": "1h",
            },
            "load.daily_cycle_duration",
            3600.0,
        ),
        (
            {
                "LOAD_MODEL_TYPE": "DailyTraffic",
                "DAILY_MIN_RPS": "1",
                "DAILY_MID_RPS": "5",
                "DAILY_MAX_RPS": "9",
                "DAILY_CYCLE_DURATION": "1h",
            },
            "load.daily_mid_rps",
            5.0,
        ),
        ({"REQUEST_TYPE": "post"}, "request.method", "POST"),
        (
            {"SEND_JSON": "yes", "JSON_PAYLOAD": '{"a": [1, "x"]}'},
            "request.json_body",
            {"a": [1, "x"]},
        ),
        ({"SEND_JSON": "false", "JSON_PAYLOAD": '{"a": 1}'}, "request.json_body", None),
    ],
)
def test_plan_env_vars(env: dict[str, str], attribute: str, expected: Any) -> None:
    value: Any = load(**env).plan
    for name in attribute.split("."):
        value = getattr(value, name)
    assert value == expected


def test_tls_env_files(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    tls = load(TLS_CA_PATH="ca.pem", CLIENT_CERT_PATH="client.pem", CLIENT_KEY_PATH="client.key")
    assert tls.plan is not None
    assert (tls.plan.target.tls.ca, tls.plan.target.tls.client_cert) == ("ca.pem", "client.pem")
    assert tls.plan.target.tls.client_key == "client.key"


@pytest.mark.parametrize(
    ("env", "attribute", "expected"),
    [
        ({"CLUSTER_ENABLED": "YES", "CLUSTER_INSECURE": "1"}, "enabled", True),
        ({"CLUSTER_BIND_ADDR": "10.0.0.1:7100"}, "bind_addr", "10.0.0.1:7100"),
        ({"CLUSTER_BIND_ADDR": "[::]:0"}, "bind_addr", "[::]:0"),
        ({"CLUSTER_HEALTH_ADDR": "127.0.0.1:9090"}, "health_addr", "127.0.0.1:9090"),
        ({"HTTP_API_ENABLED": "false"}, "http_api", False),
        ({"CLUSTER_NODE_ID": "node-us-central1"}, "node_id", "node-us-central1"),
        ({"CLUSTER_REGION": "eu-west1"}, "region", "eu-west1"),
        ({"CLUSTER_REGION": "eu-west1"}, "node_id", f"{socket.gethostname()}-eu-west1"),
        ({"CLUSTER_ADVERTISE_ADDR": "203.0.113.7:7000"}, "advertise_addr", "203.0.113.7:7000"),
        ({"DISCOVERY_MODE": "consul"}, "discovery_mode", "consul"),
        ({"CLUSTER_NODES": "ip1:7000, ip2:7000,"}, "nodes", ["ip1:7000", "ip2:7000"]),
        ({"CLUSTER_INSECURE": "true"}, "insecure", True),
        ({"CLUSTER_DATA_DIR": "/var/lib/lt"}, "data_dir", "/var/lib/lt"),
        ({"CLUSTER_CONFIG_SOURCE": "consul-kv"}, "config_source", "consul-kv"),
        ({}, "voters", 5),
        ({"CLUSTER_VOTERS": "3"}, "voters", 3),
        ({"CLUSTER_VOTERS": "1"}, "voters", 1),
        ({}, "voter_replace_after", 30.0),
        ({"CLUSTER_VOTER_REPLACE_AFTER": "5s"}, "voter_replace_after", 5.0),
    ],
)
def test_node_env_vars(env: dict[str, str], attribute: str, expected: Any) -> None:
    assert getattr(load(**env).node, attribute) == expected


def test_node_secrets_from_env_are_secret_strings() -> None:
    node = load(CLUSTER_SECRET="s3cret").node
    assert node.secret is not None
    assert node.secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(node)


def test_node_tls_from_env(tmp_path: Path) -> None:
    for name in ("n.pem", "n.key", "ca.pem"):
        (tmp_path / name).write_text("x")
    node = load(
        CLUSTER_ENABLED="true",
        CLUSTER_TLS_CERT="n.pem",
        CLUSTER_TLS_KEY="n.key",
        CLUSTER_TLS_CA="ca.pem",
    ).node
    assert (node.tls_cert, node.tls_key, node.tls_ca) == ("n.pem", "n.key", "ca.pem")


def test_empty_env_vars_count_as_unset() -> None:
    settings = load(NUM_CONCURRENT_TASKS="", TEST_DURATION="  ", CLUSTER_ENABLED="")
    assert settings.plan is not None
    assert settings.plan.load.concurrency == 10
    assert settings.plan.load.duration == 7200.0
    assert settings.node.enabled is False


def test_custom_headers_escaping() -> None:
    env = {"CUSTOM_HEADERS": r"Accept:text/plain\, application/json,X-Url:http://a:1/b,X-Empty:"}
    plan = load(**env).plan
    assert plan is not None
    assert plan.target.headers == {
        "Accept": "text/plain, application/json",
        "X-Url": "http://a:1/b",
        "X-Empty": "",
    }


def test_custom_headers_pair_without_colon() -> None:
    assert problems(None, {**ENV, "CUSTOM_HEADERS": "A:1,broken,:v"}) == [
        "CUSTOM_HEADERS pair 2='broken': must be Name:Value; allowed: Name:Value,Name2:Value2 "
        "(\\, escapes a comma inside a value)",
        "CUSTOM_HEADERS pair 3=':v': must be Name:Value; allowed: Name:Value,Name2:Value2 "
        "(\\, escapes a comma inside a value)",
    ]


# --- bad values: one of each class ---------------------------------------------------------------


def test_env_var_bad_integer() -> None:
    assert problems(None, {**ENV, "NUM_CONCURRENT_TASKS": "abc"}) == [
        "NUM_CONCURRENT_TASKS='abc': must be an integer >= 1"
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LOAD_MODEL_TYPE": "Rsp"},
            "LOAD_MODEL_TYPE='Rsp': allowed: Concurrent, Rps, RampRps, DailyTraffic "
            "(did you mean 'Rps'?)",
        ),
        (
            {"CLUSTER_ENABLED": "ture"},
            "CLUSTER_ENABLED='ture': must be a boolean; allowed: true, false, 1, 0, yes, no",
        ),
        (
            {"SKIP_TLS_VERIFY": "maybe"},
            "SKIP_TLS_VERIFY='maybe': must be a boolean; allowed: true, false, 1, 0, yes, no",
        ),
        (
            {"TEST_DURATION": "ten minutes"},
            "TEST_DURATION='ten minutes': not a duration; allowed: seconds or <n>ms|s|m|h|d, "
            "e.g. 30s, 10m, 1h, 3d",
        ),
        ({"CONNECT_TIMEOUT": "0"}, "CONNECT_TIMEOUT='0': must be a duration > 0"),
        (
            {"CLUSTER_VOTER_REPLACE_AFTER": "0"},
            "CLUSTER_VOTER_REPLACE_AFTER='0': must be a duration > 0",
        ),
        ({"LOADTEST_WORKERS": "1.5"}, "LOADTEST_WORKERS='1.5': must be an integer >= 1"),
        (
            {"REQUEST_TYPE": "FETCH"},
            "REQUEST_TYPE='FETCH': allowed: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS "
            "(did you mean 'PATCH'?)",
        ),
        (
            {"TARGET_URL": "ftp://files/x"},
            "TARGET_URL='ftp://files/x': must be an http:// or https:// URL with a host, "
            "e.g. http://127.0.0.1:8080/path",
        ),
        (
            {"TARGET_URL": "http:///nohost"},
            "TARGET_URL='http:///nohost': must be an http:// or https:// URL with a host, "
            "e.g. http://127.0.0.1:8080/path",
        ),
        (
            {"RESOLVE_TARGET_ADDR": "backend.internal"},
            "RESOLVE_TARGET_ADDR='backend.internal': must be an IP address, or ip:port / "
            "host:port, e.g. 10.0.0.5 or 10.0.0.5:8443",
        ),
        (
            {"TLS_CA_PATH": "nope.pem"},
            "TLS_CA_PATH='nope.pem': file not found; allowed: a path to an existing file",
        ),
        ({"SEND_JSON": "true"}, "SEND_JSON='true': needs JSON_PAYLOAD, the JSON body to send"),
        (
            {"SEND_JSON": "1", "JSON_PAYLOAD": "{a: 1}"},
            "JSON_PAYLOAD='{a: 1}': not valid JSON (Expecting property name enclosed in double "
            'quotes: line 1 column 2 (char 1)); allowed: a JSON document, e.g. {"a": 1}',
        ),
        (
            {"CLUSTER_BIND_ADDR": "7000"},
            "CLUSTER_BIND_ADDR='7000': must be host:port (IPv6 as [addr]:port), e.g. 0.0.0.0:7000",
        ),
        (
            {"CLUSTER_NODES": "a:7000,b"},
            "CLUSTER_NODES[1]='b': must be host:port (IPv6 as [addr]:port), e.g. 10.0.0.5:7000",
        ),
        (
            {"CLUSTER_VOTERS": "4"},
            "CLUSTER_VOTERS='4': must be an odd integer >= 1 (3 or 5 for most fleets)",
        ),
        (
            {"CLUSTER_VOTERS": "0"},
            "CLUSTER_VOTERS='0': must be an odd integer >= 1 (3 or 5 for most fleets)",
        ),
        (
            {"CLUSTER_VOTERS": "three"},
            "CLUSTER_VOTERS='three': must be an odd integer >= 1 (3 or 5 for most fleets)",
        ),
        (
            {"CLUSTER_ADVERTISE_ADDR": "0.0.0.0:0"},
            "CLUSTER_ADVERTISE_ADDR='0.0.0.0:0': must be host:port (IPv6 as [addr]:port), "
            "e.g. 10.0.0.5:7000",
        ),
    ],
)
def test_env_var_bad_values(env: dict[str, str], message: str) -> None:
    assert problems(None, {**ENV, **env}) == [message]
