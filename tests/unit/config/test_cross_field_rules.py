"""Rules across fields outside the load model: client TLS pairs, cluster
authentication, where a node's plan comes from, and a node without a plan.
"""

from __future__ import annotations

from pathlib import Path

from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.config.rendering import render_effective_config
from loadtest_supervisor.plugins.consul_discovery import ConsulConfig
from tests.unit.config.loading import ENV, config, load, problems


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


def test_config_source_location_belongs_to_its_plugin() -> None:
    # The source's own settings (key, URI) are its plugin's; the Consul key has a default.
    cluster = {"CLUSTER_ENABLED": "true", "CLUSTER_INSECURE": "true"}
    settings = load(CLUSTER_CONFIG_SOURCE="consul-kv", **cluster)
    assert settings.node.config_source == "consul-kv"
    assert settings.node.plugin("consul", ConsulConfig).config_key == "loadtest/plan.yaml"


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
