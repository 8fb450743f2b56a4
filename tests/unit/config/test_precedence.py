"""Which source wins (flags, then YAML for the plan and env for cluster keys), and
where each value is said to come from.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from loadtest_supervisor.config.loading import load_settings
from tests.unit.config.loading import ENV, config, problems


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
