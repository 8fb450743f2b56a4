"""--print-config and committed plans: secrets masked (in errors too), where each value
came from, and text that loads back to the same plan.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_plan_text, load_settings
from loadtest_supervisor.config.rendering import render_effective_config
from loadtest_supervisor.config.yaml_io import dump_plan
from loadtest_supervisor.plugin_manager import declared_settings
from tests.unit.config.loading import URL, config, problems

SECRETS = {
    "CONSUL_HTTP_TOKEN": "consul-tok-9f8e",
    "CLUSTER_SECRET": "cluster-s3cr3t",
    "CLUSTER_API_TOKEN": "api-t0ken-77",
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
    cluster = {"CLUSTER_ENABLED": "true", "CLUSTER_NODE_ID": "n1"}
    text = render_effective_config(
        load_settings(path, {**SECRETS, **cluster}, None, declared_settings)
    )
    for secret in (
        "consul-tok-9f8e",
        "cluster-s3cr3t",
        "api-t0ken-77",
        "hdr-abc123",
        "key-456",
        "cookie-789",
        "url-pw-111",
        "json-pw-222",
    ):
        assert secret not in text
    assert "plain-value" in text
    assert "    token: '***'  # from env CONSUL_HTTP_TOKEN" in text  # the Consul plugin's
    assert "secret: '***'  # from env CLUSTER_SECRET" in text
    assert "api_token: '***'  # from env CLUSTER_API_TOKEN" in text
    assert "url: http://user:***@h/  # from test.yaml" in text
    assert "Authorization: '***'" in text
    assert yaml.safe_load(text)["cluster"]["secret"] == "***"
    assert yaml.safe_load(text)["cluster"]["consul"]["token"] == "***"


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
        "CLUSTER_ENABLED": "true",  # so that the Consul plugin's settings are read
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
