"""The configuration layer: env + YAML + CLI, precedence, validation messages, masking.

Everything is real: the environment is a plain dict, configs are files in tmp_path.
Tests chdir into tmp_path and name the config ``test.yaml``, so messages can be
compared in full, exactly as a user reads them.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from loadtest_supervisor.config.durations import format_duration, parse_duration
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import Settings, load_plan_text, load_settings
from loadtest_supervisor.config.rendering import render_effective_config
from loadtest_supervisor.config.yaml_io import dump_plan

URL = "http://127.0.0.1:8080/path"
ENV = {"TARGET_URL": URL}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def config(text: str, name: str = "test.yaml") -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def problems(
    path: str | None, env: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env or {}, overrides)
    message = str(info.value)
    assert "Traceback" not in message
    return message.splitlines()


def load(path: str | None = None, **env: str) -> Settings:
    return load_settings(path, {**ENV, **env})


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("2h", 7200.0),
        ("3d", 259200.0),
        ("45", 45.0),
        (" 5 m ", 300.0),
        (30, 30.0),
        (0.5, 0.5),
        ("0", 0.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text, "load.duration") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["ten minutes", "-1s", "1w", "10M", "", "1h30m", True, "nan"])
def test_parse_duration_rejects(text: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(text, "TEST_DURATION")
    assert str(info.value) == (
        f"TEST_DURATION={text!r}{' (bool)' if text is True else ''}: not a duration; "
        "allowed: seconds or <n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (1.5, "1500ms"), (90, "90s"), (600, "10m"), (7200, "2h"), (259200, "3d")],
)
def test_format_duration_reads_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text, "x") == pytest.approx(seconds)


# --- defaults and every environment variable -----------------------------------------------------


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
    assert (node.consul_addr, node.consul_service_name) == (
        "http://127.0.0.1:8500",
        "loadtest-cluster",
    )
    assert (node.consul_token, node.secret, node.insecure) == (None, None, False)
    assert (node.tls_cert, node.tls_key, node.tls_ca) == (None, None, None)
    assert node.data_dir == "./data/cluster"
    assert node.config_source is None  # no --config given
    assert (node.config_gcs_uri, node.config_consul_key) == (None, None)
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
        ({"CONSUL_ADDR": "https://consul:8501"}, "consul_addr", "https://consul:8501"),
        ({"CONSUL_SERVICE_NAME": "lt"}, "consul_service_name", "lt"),
        ({"CLUSTER_INSECURE": "true"}, "insecure", True),
        ({"CLUSTER_DATA_DIR": "/var/lib/lt"}, "data_dir", "/var/lib/lt"),
        (
            {"CLUSTER_CONFIG_SOURCE": "Consul_KV", "CLUSTER_CONFIG_CONSUL_KEY": "lt/plan"},
            "config_source",
            "consul-kv",
        ),
        (
            {"CLUSTER_CONFIG_SOURCE": "gcs", "CLUSTER_CONFIG_GCS_URI": "gs://b/plans/a.yaml"},
            "config_gcs_uri",
            "gs://b/plans/a.yaml",
        ),
        (
            {"CLUSTER_CONFIG_SOURCE": "consul-kv", "CLUSTER_CONFIG_CONSUL_KEY": "lt/plan"},
            "config_consul_key",
            "lt/plan",
        ),
    ],
)
def test_node_env_vars(env: dict[str, str], attribute: str, expected: Any) -> None:
    assert getattr(load(**env).node, attribute) == expected


def test_node_secrets_from_env_are_secret_strings() -> None:
    node = load(CONSUL_HTTP_TOKEN="tok-123", CLUSTER_SECRET="s3cret").node
    assert node.consul_token is not None and node.secret is not None
    assert node.consul_token.get_secret_value() == "tok-123"
    assert node.secret.get_secret_value() == "s3cret"
    assert "tok-123" not in repr(node) and "s3cret" not in repr(node)


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


# --- precedence and provenance -------------------------------------------------------------------


def test_yaml_wins_over_env_for_plan_keys_and_env_fills_the_rest() -> None:
    path = config(
        """
target: {url: "http://yaml.example/"}
load: {model: Rps, concurrency: 5}
"""
    )
    settings = load_settings(
        path,
        {
            "TARGET_URL": "http://env.example/",
            "NUM_CONCURRENT_TASKS": "7",
            "TARGET_RPS": "40",
            "TEST_DURATION": "10m",
        },
    )
    plan = settings.plan
    assert plan is not None
    assert plan.target.url == "http://yaml.example/"
    assert plan.load.concurrency == 5
    assert plan.load.target_rps == 40.0
    assert plan.load.duration == 600.0
    assert settings.source_of(("load", "concurrency")) == "from test.yaml"
    assert settings.source_of(("load", "target_rps")) == "from env TARGET_RPS"
    assert settings.source_of(("target", "keep_alive")) == "default"


def test_yaml_null_counts_as_set() -> None:
    path = config("target: {url: 'http://h/', resolve: null}\n")
    plan = load_settings(path, {"RESOLVE_TARGET_ADDR": "10.0.0.9"}).plan
    assert plan is not None and plan.target.resolve is None


def test_yaml_headers_replace_custom_headers_as_a_whole() -> None:
    path = config("target: {url: 'http://h/', headers: {X-A: '1'}}\n")
    plan = load_settings(path, {"CUSTOM_HEADERS": "X-B:2"}).plan
    assert plan is not None and plan.target.headers == {"X-A": "1"}


def test_yaml_request_body_shadows_env_json() -> None:
    path = config("target: {url: 'http://h/'}\nrequest: {method: POST, body: hello}\n")
    plan = load_settings(path, {"SEND_JSON": "true", "JSON_PAYLOAD": '{"a": 1}'}).plan
    assert plan is not None
    assert (plan.request.body, plan.request.json_body) == ("hello", None)


def test_env_wins_over_yaml_for_cluster_keys() -> None:
    path = config(
        """
target: {url: "http://h/"}
cluster:
  bind_addr: 10.0.0.1:7000
  discovery_mode: consul
  region: eu
"""
    )
    settings = load_settings(path, {"CLUSTER_BIND_ADDR": "10.0.0.2:7001", "DISCOVERY_MODE": ""})
    node = settings.node
    assert node.bind_addr == "10.0.0.2:7001"
    assert node.discovery_mode == "consul"  # the empty variable is unset
    assert node.node_id == f"{socket.gethostname()}-eu"
    assert node.config_source == "file"  # the default once a --config is given
    assert settings.source_of(("cluster", "bind_addr")) == "from env CLUSTER_BIND_ADDR"
    assert settings.source_of(("cluster", "discovery_mode")) == "from test.yaml"
    assert settings.source_of(("cluster", "node_id")) == "derived from hostname and region"


def test_cli_overrides_win_over_yaml_and_env() -> None:
    path = config(
        """
target: {url: "http://h/"}
load: {workers: 2, duration: 1h}
cluster: {health_addr: 127.0.0.1:1}
"""
    )
    settings = load_settings(
        path,
        {"LOADTEST_WORKERS": "3", "CLUSTER_HEALTH_ADDR": "127.0.0.1:2"},
        {"workers": 8, "duration": 30, "cluster.health_addr": "127.0.0.1:3", "target_url": None},
    )
    plan = settings.plan
    assert plan is not None
    assert plan.load.workers == 8
    assert plan.load.duration == 30.0
    assert plan.target.url == "http://h/"  # a None override means the flag was not given
    assert settings.node.health_addr == "127.0.0.1:3"
    assert settings.source_of(("load", "workers")) == "from --workers"


def test_cli_duration_override_accepts_text_and_is_validated() -> None:
    plan = load_settings(None, ENV, {"duration": "90s"}).plan
    assert plan is not None and plan.load.duration == 90.0
    assert problems(None, ENV, {"workers": 0}) == ["--workers=0: must be an integer >= 1"]


def test_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown override 'wrkers'"):
        load_settings(None, ENV, {"wrkers": 2})


def test_relative_file_paths_in_yaml_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf" / "certs").mkdir(parents=True)
    (tmp_path / "conf" / "certs" / "ca.pem").write_text("x")
    path = config("target:\n  url: https://h/\n  tls: {ca: certs/ca.pem}\n", "conf/test.yaml")
    plan = load_settings(path, {}).plan
    assert plan is not None and plan.target.tls.ca == "conf/certs/ca.pem"


# --- bad input: one of each class ----------------------------------------------------------------


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
            {"CLUSTER_ADVERTISE_ADDR": "0.0.0.0:0"},
            "CLUSTER_ADVERTISE_ADDR='0.0.0.0:0': must be host:port (IPv6 as [addr]:port), "
            "e.g. 10.0.0.5:7000",
        ),
        (
            {"CONSUL_ADDR": "consul:8500"},
            "CONSUL_ADDR='consul:8500': must be an http:// or https:// URL with a host, "
            "e.g. http://127.0.0.1:8080/path",
        ),
        (
            {"CLUSTER_CONFIG_SOURCE": "s3"},
            "CLUSTER_CONFIG_SOURCE='s3': allowed: file, gcs, consul-kv",
        ),
        (
            {"CLUSTER_CONFIG_SOURCE": "gcs", "CLUSTER_CONFIG_GCS_URI": "bucket/obj"},
            "CLUSTER_CONFIG_GCS_URI='bucket/obj': must be gs://bucket/object",
        ),
    ],
)
def test_env_var_bad_values(env: dict[str, str], message: str) -> None:
    assert problems(None, {**ENV, **env}) == [message]


def test_yaml_wrong_type() -> None:
    path = config(
        "target: {url: 'http://h/'}\nload: {concurrency: [1, 2], duration: ten minutes}\n"
    )
    assert problems(path) == [
        "test.yaml: load.concurrency=[1, 2] (list): must be an integer >= 1",
        "test.yaml: load.duration='ten minutes': not a duration; allowed: seconds or "
        "<n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d",
    ]


def test_yaml_section_not_a_mapping() -> None:
    assert problems(config("target: {url: 'http://h/'}\nload: 5\ncluster: [1]\n")) == [
        "test.yaml: load=5: must be a mapping with keys: concurrency, daily_cycle_duration, "
        "daily_max_rps, daily_mid_rps, daily_min_rps, duration, max_rps, min_rps, model, "
        "ramp_duration, target_rps, workers",
        "test.yaml: cluster=[1] (list): must be a mapping with keys: advertise_addr, bind_addr, "
        "config_consul_key, config_gcs_uri, config_source, consul_addr, consul_service_name, "
        "consul_token, data_dir, discovery_mode, enabled, health_addr, http_api, insecure, "
        "member_remove_after, node_id, nodes, region, secret, tls_ca, tls_cert, tls_key",
    ]


def test_yaml_boolean_accident_in_header() -> None:
    path = config("target: {url: 'http://h/', headers: {X-Flag: yes}}\n")
    assert problems(path) == [
        "test.yaml: target.headers['X-Flag']=True (bool): must be a string; quote it "
        "(YAML reads yes/no/on/off as booleans)"
    ]


def test_unknown_key_with_suggestion() -> None:
    path = config("target: {url: 'http://h/'}\nload: {duraton: 10m}\n")
    assert problems(path) == [
        "test.yaml: unknown key 'load.duraton'; did you mean 'duration'? allowed keys in load: "
        "concurrency, daily_cycle_duration, daily_max_rps, daily_mid_rps, daily_min_rps, "
        "duration, max_rps, min_rps, model, ramp_duration, target_rps, workers"
    ]


def test_unknown_keys_anywhere_in_the_tree() -> None:
    path = config(
        """
target: {url: "http://h/", tls: {verfy: false}}
TARGET_RPS: 5
scenarios:
  - name: s
    steps:
      - path: /a
        asert: {status: 200}
        assert: {statsu: 200}
        extract: {tok: {jsonpath: "$.t"}}
cluster: {enabeld: true}
"""
    )
    lines = problems(path)
    assert lines[0].startswith(
        "test.yaml: unknown key 'target.tls.verfy'; did you mean 'verify'? allowed keys in "
        "target.tls: ca, client_cert, client_key, verify"
    )
    assert lines[1].startswith(
        "test.yaml: unknown key 'TARGET_RPS'; did you mean 'load.target_rps'? "
        "(TARGET_RPS is an env variable) allowed keys at the top level: cluster, load,"
    )
    assert lines[2].startswith(
        "test.yaml: unknown key 'scenarios[0].steps[0].asert'; did you mean 'assert'?"
    )
    assert lines[3].startswith(
        "test.yaml: unknown key 'scenarios[0].steps[0].assert.statsu'; did you mean 'status'? "
        "allowed keys in scenarios[0].steps[0].assert: body_contains, json_path, status"
    )
    assert lines[4].startswith(
        "test.yaml: unknown key 'scenarios[0].steps[0].extract.tok.jsonpath'; did you mean "
        "'json_path'? allowed keys in scenarios[0].steps[0].extract.tok: header, json_path, regex"
    )
    assert lines[5].startswith("test.yaml: unknown key 'cluster.enabeld'; did you mean 'enabled'?")
    # With its only key dropped as unknown, the extraction has none of the three left.
    assert lines[6] == (
        "test.yaml: scenarios[0].steps[0].extract.tok: needs exactly one of json_path, header, "
        "regex"
    )
    assert len(lines) == 7


def test_unknown_key_without_a_close_match() -> None:
    [line] = problems(config("target: {url: 'http://h/'}\nrequest: {zzz: 1}\n"))
    assert (
        line == "test.yaml: unknown key 'request.zzz'; allowed keys in request: body, json, method"
    )


def test_missing_target_names_env_var_and_yaml_key() -> None:
    assert problems(None) == [
        "target.url: required; set target.url in a --config file or the TARGET_URL environment "
        "variable"
    ]
    assert problems(config("load: {concurrency: 2}\n")) == [
        "target.url: required; set target.url in test.yaml or the TARGET_URL environment variable"
    ]


def test_bad_threshold() -> None:
    path = config("target: {url: 'http://h/'}\nthresholds: ['p99 < 200ms', 'p98 < 1s', 3]\n")
    lines = problems(path)
    assert lines[0].startswith(
        "test.yaml: thresholds[1]='p98 < 1s': unknown metric 'p98'; allowed: min, mean, p50"
    )
    assert lines[0].endswith("(did you mean 'p99'?)")
    assert lines[1].startswith(
        "test.yaml: thresholds[2]=3: must be a string '<metric> <op> <value>'"
    )


def test_thresholds_are_parsed_objects() -> None:
    path = config("target: {url: 'http://h/'}\nthresholds: ['p99 < 0.2s', 'error_rate < 1%']\n")
    plan = load_settings(path, {}).plan
    assert plan is not None
    [latency, errors] = plan.thresholds
    assert (latency.metric, latency.op, latency.value, latency.text) == (
        "p99",
        "<",
        200.0,
        "p99 < 0.2s",
    )
    assert (errors.metric, errors.value) == ("error_rate", 0.01)


def test_bad_jsonpath() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    steps:
      - path: /a
        assert: {json_path: {"$.ok": true, "$.bad[": 1}}
        extract: {tok: {json_path: "$..["}}
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[0].assert.json_path['$.bad[']='$.bad[': not a valid "
        "JSONPath (Parse error near the end of string!); e.g. $.user.id or $.items[0].id",
        "test.yaml: scenarios[0].steps[0].extract.tok.json_path='$..[': not a valid JSONPath "
        "(Parse error near the end of string!); e.g. $.user.id or $.items[0].id",
    ]


def test_undefined_variable_names_scenario_step_and_var() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: checkout
    steps:
      - name: login
        path: /login/${user}
        extract: {token: {header: X-Token}}
      - path: /cart
        headers: {X-Trace: "${token}"}
        query: {id: "${cart_id}"}
        json: {items: ["${item}"]}
      - name: pay
        path: /pay
        extract: {cart_id: {regex: "id=(\\\\d+)"}}
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[0].path='/login/${user}': ${user} in step 'login' of "
        "scenario 'checkout' is not extracted by an earlier step; allowed: variables extracted "
        "by earlier steps (none yet)",
        "test.yaml: scenarios[0].steps[1].query={'id': '${cart_id}'} (mapping): ${cart_id} in "
        "step 'GET /cart' of scenario 'checkout' is not extracted by an earlier step "
        "(steps[2] extracts it, but runs later); allowed: variables extracted by earlier steps "
        "(token)",
        "test.yaml: scenarios[0].steps[1].json={'items': ['${item}']} (mapping): ${item} in step "
        "'GET /cart' of scenario 'checkout' is not extracted by an earlier step; allowed: "
        "variables extracted by earlier steps (token)",
    ]


def test_variable_used_by_the_step_that_extracts_it() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    steps:
      - path: /a/${id}
        extract: {id: {regex: "(\\\\d+)"}}
"""
    )
    [line] = problems(path)
    assert "(this step extracts it, so only later steps can use it)" in line


def test_placeholders_outside_scenario_steps() -> None:
    path = config(
        """
target: {url: "http://h/", headers: {X-T: "${token}"}}
request: {json: {a: "${b}"}}
scenarios: [{name: s, steps: [{path: /, query: {q: "${user-id}"}}]}]
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[0].query={'q': '${user-id}'} (mapping): ${user-id} in "
        "step 'GET /' of scenario 's' is not a variable name; allowed: letters, digits and _, "
        "e.g. ${token}",
        "test.yaml: target.headers={'X-T': '${token}'} (mapping): ${token} cannot be used here; "
        "allowed: variables only in scenario steps, after the step that extracts them",
        "test.yaml: request.json={'a': '${b}'} (mapping): ${b} cannot be used here; "
        "allowed: variables only in scenario steps, after the step that extracts them",
    ]


def test_missing_file() -> None:
    assert problems("nope.yaml") == [
        "nope.yaml: cannot read config file: No such file or directory"
    ]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert problems("dir.yaml") == ["dir.yaml: cannot read config file: Is a directory"]


def test_binary_file() -> None:
    Path("bin.yaml").write_bytes(b"\xff\xfe\x00")
    [line] = problems("bin.yaml")
    assert line.startswith("bin.yaml: cannot read config file: not UTF-8 text")


def test_yaml_syntax_error_has_line_and_column() -> None:
    path = config("target:\n  url: http://h/\nload:\n  concurrency: [1, 2\n")
    [line] = problems(path)
    assert line.startswith("test.yaml: YAML syntax error at line 5, column 1: expected ',' or ']'")


def test_yaml_tab_indentation() -> None:
    [line] = problems(config("target:\n\turl: http://h/\n"))
    assert line.startswith("test.yaml: YAML syntax error at line 2, column 1:")
    assert "found character '\\t'" in line


def test_yaml_top_level_not_a_mapping() -> None:
    assert problems(config("- target\n- load\n")) == [
        "test.yaml: the top level must be a mapping of sections (cluster, load, request, "
        "scenarios, target, thresholds), not a list"
    ]


def test_empty_yaml_is_an_empty_config() -> None:
    plan = load_settings(config(""), ENV).plan
    assert plan is not None and plan.target.url == URL


def test_duplicate_yaml_key() -> None:
    path = config("target: {url: 'http://h/'}\nload:\n  duration: 1h\n  duration: 2h\n")
    assert problems(path) == [
        "test.yaml: line 4: duplicate key 'duration' (first at line 3); each key may appear once"
    ]


def test_yaml_merge_keys_are_not_duplicates() -> None:
    path = config(
        """
target: {url: "http://h/"}
x-common: &common {method: POST, think_time: 1s}
scenarios:
  - name: s
    steps:
      - {<<: *common, path: /a, think_time: 2s}
"""
    )
    lines = problems(path)
    assert len(lines) == 1 and lines[0].startswith("test.yaml: unknown key 'x-common'")


def test_multiple_errors_are_reported_together() -> None:
    path = config(
        """
target:
  url: ftp://x
  connect_timeout: -1
load:
  model: Rps
  concurrency: 0
  workers: many
request: {method: GET, body: a, json: {b: 1}}
thresholds: ["p99 < lots"]
cluster: {health_addr: nowhere}
"""
    )
    lines = problems(path, {"NUM_CONCURRENT_TASKS": "x", "CLUSTER_ENABLED": "perhaps"})
    assert lines == [
        "test.yaml: target.url='ftp://x': must be an http:// or https:// URL with a host, "
        "e.g. http://127.0.0.1:8080/path",
        "test.yaml: target.connect_timeout=-1: not a duration; allowed: seconds or "
        "<n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d",
        "test.yaml: load.concurrency=0: must be an integer >= 1",
        "test.yaml: load.workers='many': must be an integer >= 1",
        "load.target_rps: required when load.model is Rps; set load.target_rps in test.yaml or "
        "the TARGET_RPS environment variable",
        "test.yaml: request.json: body and json are mutually exclusive; set only one",
        "test.yaml: thresholds[0]='p99 < lots': p99 needs a latency; allowed: <n>ms or <n>s "
        "(a bare number is ms)",
        "CLUSTER_ENABLED='perhaps': must be a boolean; allowed: true, false, 1, 0, yes, no",
        "test.yaml: cluster.health_addr='nowhere': must be host:port (IPv6 as [addr]:port), "
        "e.g. 0.0.0.0:7000",
    ]


# --- rules across fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (
            "{model: RampRps, min_rps: 5, max_rps: 100}",
            "load.ramp_duration: required when load.model is RampRps; set load.ramp_duration in "
            "test.yaml or the RAMP_DURATION environment variable",
        ),
        (
            "{model: RampRps, min_rps: 50, max_rps: 50, ramp_duration: 1m}",
            "test.yaml: load.max_rps=50: must be greater than load.min_rps (50)",
        ),
        (
            "{model: RampRps, min_rps: 5, max_rps: 50, ramp_duration: 40m, duration: 1h}",
            "test.yaml: load.ramp_duration='40m': 2 x ramp_duration must be <= load.duration (1h): "
            "the test ramps up, holds, then ramps down within it",
        ),
        (
            "{model: DailyTraffic, daily_min_rps: 5, daily_mid_rps: 3, daily_max_rps: 9, "
            "daily_cycle_duration: 1h}",
            "test.yaml: load.daily_mid_rps=3: must be >= load.daily_min_rps (5)",
        ),
        (
            "{model: DailyTraffic, daily_min_rps: 1, daily_mid_rps: 3, daily_max_rps: 2, "
            "daily_cycle_duration: 1h}",
            "test.yaml: load.daily_max_rps=2: must be >= load.daily_mid_rps (3)",
        ),
        ("{model: Rps, target_rps: 0}", "test.yaml: load.target_rps=0: must be a number > 0"),
    ],
)
def test_load_model_rules(load: str, message: str) -> None:
    assert problems(config(f"target: {{url: 'http://h/'}}\nload: {load}\n")) == [message]


def test_daily_traffic_lists_every_missing_setting() -> None:
    lines = problems(config("target: {url: 'http://h/'}\nload: {model: DailyTraffic}\n"))
    assert [line.split(":")[0] for line in lines] == [
        "load.daily_min_rps",
        "load.daily_mid_rps",
        "load.daily_max_rps",
        "load.daily_cycle_duration",
    ]


def test_model_rule_still_checked_when_another_load_field_is_bad() -> None:
    lines = problems(None, {**ENV, "LOAD_MODEL_TYPE": "Rps", "NUM_CONCURRENT_TASKS": "-3"})
    assert lines == [
        "NUM_CONCURRENT_TASKS='-3': must be an integer >= 1",
        "load.target_rps: required when load.model is Rps; set load.target_rps in a --config "
        "file or the TARGET_RPS environment variable",
    ]


def test_client_cert_and_key_together(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    assert problems(None, {**ENV, "CLIENT_CERT_PATH": "c.pem"}) == [
        "target.tls.client_key: client_cert and client_key must be set together (both or neither)"
    ]


def test_cluster_traffic_must_be_authenticated() -> None:
    assert problems(None, {"CLUSTER_ENABLED": "true"}) == [
        "cluster.insecure: cluster traffic must be authenticated: set cluster.secret "
        "(CLUSTER_SECRET) or cluster.tls_cert/tls_key/tls_ca (CLUSTER_TLS_*), or set "
        "cluster.insecure (CLUSTER_INSECURE=true) to run without authentication"
    ]


def test_cluster_mtls_needs_all_three_files(tmp_path: Path) -> None:
    (tmp_path / "n.pem").write_text("x")
    assert problems(None, {**ENV, "CLUSTER_TLS_CERT": "n.pem"}) == [
        "cluster.tls_ca: mTLS needs tls_cert, tls_key and tls_ca together (CLUSTER_TLS_CERT, "
        "CLUSTER_TLS_KEY, CLUSTER_TLS_CA); missing: tls_key, tls_ca"
    ]


def test_config_source_needs_its_location() -> None:
    assert problems(None, {**ENV, "CLUSTER_CONFIG_SOURCE": "consul-kv"}) == [
        "cluster.config_consul_key: required when config_source is consul-kv; set "
        "cluster.config_consul_key in a --config file or the CLUSTER_CONFIG_CONSUL_KEY "
        "environment variable"
    ]


def test_cluster_node_without_a_plan_waits_for_one() -> None:
    path = config("cluster: {enabled: true, secret: s, discovery_mode: consul}\n")
    settings = load_settings(path, {})
    assert settings.plan is None
    assert settings.node.enabled and settings.node.config_source == "file"
    assert "# no test plan on this node" in render_effective_config(settings)


def test_cluster_node_with_a_partial_plan_is_still_validated() -> None:
    path = config("cluster: {enabled: true, insecure: true}\nload: {concurrency: 3}\n")
    assert problems(path) == [
        "target.url: required; set target.url in test.yaml or the TARGET_URL environment variable"
    ]


def test_step_rules() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    weight: 0
    steps:
      - path: login
        method: post
        body: x
        json: {a: 1}
        assert: {status: [200, 99]}
        extract:
          a: {header: X-A, regex: "(x)"}
          b: {regex: "no group"}
          c: {regex: "("}
          bad-name: {header: X-B}
        think_time: 1y
  - name: s
    steps: []
  - name: t
    steps: [ping]
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].weight=0: must be an integer >= 1",
        "test.yaml: scenarios[0].steps[0].path='login': must be a string starting with '/', "
        "e.g. /login or /users/${user_id}",
        "test.yaml: scenarios[0].steps[0].json: body and json are mutually exclusive; set only one",
        "test.yaml: scenarios[0].steps[0].assert.status=[200, 99] (list): must be an HTTP status "
        "100..599 or a list of them",
        "test.yaml: scenarios[0].steps[0].extract.a: needs exactly one of json_path, header, regex",
        "test.yaml: scenarios[0].steps[0].extract.b.regex='no group': needs a capture group for "
        "the value, e.g. id=(\\d+)",
        "test.yaml: scenarios[0].steps[0].extract.c.regex='(': not a valid regular expression "
        "(missing ), unterminated subpattern at position 0)",
        "test.yaml: scenarios[0].steps[0].extract['bad-name']='bad-name': not a variable name; "
        "allowed: letters, digits and _, e.g. token",
        "test.yaml: scenarios[0].steps[0].think_time='1y': not a duration; allowed: seconds or "
        "<n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d",
        "test.yaml: scenarios[1].steps=[] (list): must be a non-empty list of steps",
        "test.yaml: scenarios[2].steps[0]='ping': must be a mapping with keys: assert, body, "
        "extract, headers, json, method, name, path, query, think_time",
        "test.yaml: scenarios[1].name='s': must be unique; scenarios[0] has the same name",
    ]


def test_step_names_default_and_must_be_unique() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    steps:
      - {path: /a}
      - {path: /a, method: get}
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[1].name='GET /a': must be unique in scenario 's'; "
        "steps[0] has the same name (set name: to tell them apart)"
    ]


def test_full_scenario_parses() -> None:
    path = config(
        """
target: {url: "http://h/api"}
scenarios:
  - name: checkout
    weight: 2
    steps:
      - name: login
        method: post
        path: /login
        headers: {X-Client: "7"}
        query: {v: 2, debug: "true"}
        json: {user: bob, when: 2024-01-01, tags: [a]}
        assert: {status: 200, body_contains: ok, json_path: {"$.user.id": 7}}
        extract:
          token: {json_path: "$.token"}
          session: {header: Set-Cookie}
          order: {regex: "id=(\\\\d+)"}
        think_time: 250ms
      - path: /orders/${order}
        headers: {Authorization: "Bearer ${token}"}
"""
    )
    plan = load_settings(path, {}).plan
    assert plan is not None and plan.scenarios is not None
    [scenario] = plan.scenarios
    login, order = scenario.steps
    assert (scenario.name, scenario.weight) == ("checkout", 2)
    assert (login.name, login.method, login.path) == ("login", "POST", "/login")
    assert login.query == {"v": "2", "debug": "true"}
    assert login.json_body == {"user": "bob", "when": "2024-01-01", "tags": ["a"]}  # no date object
    assert login.assertions.status == (200,)
    assert login.assertions.json_path == {"$.user.id": 7}
    assert login.extract["token"].json_path == "$.token"
    assert login.extract["session"].header == "Set-Cookie"
    assert login.extract["order"].regex == "id=(\\d+)"
    assert login.think_time == 0.25
    assert order.name == "GET /orders/${order}"
    assert order.assertions.status is None and order.think_time == 0.0
    assert "Bearer" not in repr(order)


# --- printing the effective config ---------------------------------------------------------------

SECRETS = {
    "CONSUL_HTTP_TOKEN": "consul-tok-9f8e",
    "CLUSTER_SECRET": "cluster-s3cr3t",
    "CUSTOM_HEADERS": "Authorization:Bearer hdr-abc123,X-Api-Key:key-456,Cookie:sid=cookie-789,"
    "X-Visible:plain-value",
}


def test_render_masks_every_secret() -> None:
    path = config(
        """
target:
  url: http://user:url-pw-111@h/
request: {method: POST, json: {user: bob, password: json-pw-222}}
thresholds: ["p99 < 1s"]
cluster: {region: eu}
"""
    )
    text = render_effective_config(load_settings(path, SECRETS))
    for secret in (
        "consul-tok-9f8e",
        "cluster-s3cr3t",
        "hdr-abc123",
        "key-456",
        "cookie-789",
        "url-pw-111",
        "json-pw-222",
    ):
        assert secret not in text
    assert "plain-value" in text
    assert "consul_token: '***'  # from env CONSUL_HTTP_TOKEN" in text
    assert "secret: '***'  # from env CLUSTER_SECRET" in text
    assert "url: http://user:***@h/  # from test.yaml" in text
    assert "Authorization: '***'" in text
    assert yaml.safe_load(text)["cluster"]["secret"] == "***"


def test_secrets_never_in_error_messages() -> None:
    path = config(
        """
target:
  url: http://h/
  headers: {Authorization: [Bearer, yaml-secret-1]}
cluster: {secret: [yaml-secret-2]}
"""
    )
    env = {
        "CUSTOM_HEADERS": "Authorization Bearer env-secret-3",
        "JSON_PAYLOAD": "x",
        "SEND_JSON": "true",
        "CONSUL_ADDR": "http://u:env-secret-4@consul",
    }
    text = "\n".join(problems(path, env))
    assert "test.yaml: target.headers.Authorization='***': must be a string header value" in text
    assert "test.yaml: cluster.secret='***': must be a non-empty string" in text
    for secret in ("yaml-secret-1", "yaml-secret-2", "env-secret-3", "env-secret-4"):
        assert secret not in text


def test_render_shows_where_values_came_from() -> None:
    path = config("target: {url: 'http://h/'}\nload: {model: Rps, concurrency: 4}\n")
    settings = load_settings(
        path, {"TARGET_RPS": "40", "NUM_CONCURRENT_TASKS": "9"}, {"workers": 2}
    )
    text = render_effective_config(settings)
    assert "  model: Rps  # from test.yaml\n" in text
    assert "  concurrency: 4  # from test.yaml\n" in text
    assert "  target_rps: 40.0  # from env TARGET_RPS\n" in text
    assert "  workers: 2  # from --workers\n" in text
    assert "  duration: 2h  # default\n" in text
    assert f"  node_id: {socket.gethostname()}  # derived from hostname\n" in text


def test_rendered_config_loads_back_to_the_same_plan() -> None:
    path = config(
        """
target: {url: "http://h/api", headers: {X-A: "1"}, connect_timeout: 250ms}
load: {model: RampRps, min_rps: 1, max_rps: 9.5, ramp_duration: 90s, duration: 1h}
scenarios:
  - name: s
    steps:
      - path: /a
        body: "two\\nlines: with 'quotes'"
        extract: {t: {json_path: "$.t"}}
      - {path: "/b/${t}", json: {n: [1, null, true]}, assert: {status: [200, 204]}}
thresholds: ["p99 < 200ms", "error_rate < 1%"]
"""
    )
    settings = load_settings(path, {"CLUSTER_REGION": "eu"})
    Path("printed.yaml").write_text(render_effective_config(settings))
    again = load_settings("printed.yaml", {})
    assert again.plan == settings.plan
    assert again.node.region == "eu"


def test_dump_plan_and_load_plan_text_round_trip() -> None:
    path = config(
        "target: {url: 'http://h/', headers: {Authorization: tok}}\nload: {duration: 3d}\n"
    )
    plan = load_settings(path, {"TARGET_RPS": "5"}).plan
    assert plan is not None
    text = dump_plan(plan)
    assert "Authorization: tok" in text  # a committed plan must be exact, so nothing is masked
    assert load_plan_text(text, "gs://bucket/plan.yaml") == plan


def test_load_plan_text_reports_with_its_source_name() -> None:
    with pytest.raises(ConfigError) as info:
        load_plan_text("target: {url: 'http://h/'}\nload: {concurency: 1}\n", "consul-kv lt/plan")
    assert str(info.value).startswith("consul-kv lt/plan: unknown key 'load.concurency'")


def test_load_plan_text_env_fills_gaps() -> None:
    plan = load_plan_text("load: {concurrency: 3}\n", "gs://b/p", {"TARGET_URL": URL})
    assert (plan.target.url, plan.load.concurrency) == (URL, 3)


# --- warnings ------------------------------------------------------------------------------------


def test_warnings() -> None:
    path = config(
        """
target: {url: "http://h/"}
load: {model: Concurrent, target_rps: 50}
request: {method: POST}
scenarios: [{name: s, steps: [{path: /}]}]
"""
    )
    settings = load_settings(path, {"MIN_RPS": "3", "JSON_PAYLOAD": "{}", "CLUSTER_ENABLD": "true"})
    assert settings.warnings == (
        "JSON_PAYLOAD is ignored because SEND_JSON is not true",
        "test.yaml: load.target_rps is ignored because load.model is Concurrent",
        "test.yaml: request is ignored because scenarios are given",
        "environment variable CLUSTER_ENABLD is not a setting and is ignored; did you mean "
        "CLUSTER_ENABLED?",
    )


# --- the shipped examples ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["standalone.yaml", "scenario.yaml"])
def test_examples_are_valid(name: str) -> None:
    settings = load_settings(str(ROOT / "examples" / name), {})
    assert settings.plan is not None
    assert settings.warnings == ()
    render_effective_config(settings)


def test_examples_cover_the_features() -> None:
    standalone = load_settings(str(ROOT / "examples" / "standalone.yaml"), {}).plan
    scenario = load_settings(str(ROOT / "examples" / "scenario.yaml"), {}).plan
    assert standalone is not None and scenario is not None and scenario.scenarios is not None
    assert standalone.load.model == "RampRps" and scenario.load.model == "DailyTraffic"
    assert standalone.target.resolve and standalone.target.headers
    assert standalone.request.json_body is not None
    assert {t.metric for t in standalone.thresholds} >= {"p99", "error_rate", "rps", "requests"}
    steps = [step for s in scenario.scenarios for step in s.steps]
    kinds = {
        kind
        for step in steps
        for e in step.extract.values()
        for kind in ("json_path", "header", "regex")
        if getattr(e, kind)
    }
    assert kinds == {"json_path", "header", "regex"}
    assert any(step.assertions.json_path for step in steps)
    assert any(step.assertions.body_contains for step in steps)
    assert any(step.query for step in steps) and any(step.body for step in steps)
    assert any(step.think_time for step in steps)
    assert len({s.weight for s in scenario.scenarios}) > 1
