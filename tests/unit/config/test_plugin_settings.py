"""Settings a plugin declares are loaded, checked and printed by the core like its own.

The declarations come from the real installed plugins (their entry points), here the
Consul plugin's ``cluster.consul:`` section and its CONSUL_* variables.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.config.rendering import render_effective_config
from loadtest_supervisor.plugin_manager import declared_settings
from loadtest_supervisor.plugins.consul_discovery import ConsulConfig

CLUSTER = {"CLUSTER_ENABLED": "true", "CLUSTER_INSECURE": "true", "CLUSTER_NODE_ID": "n1"}


def _load(env: dict[str, str], config: Path | None = None):
    return load_settings(
        str(config) if config else None, {**CLUSTER, **env}, None, declared_settings
    )


def _problems(env: dict[str, str], config: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(env, config)
    return str(caught.value)


def test_the_consul_plugin_declares_its_section() -> None:
    (consul,) = [d for d in declared_settings() if d.section == "consul"]
    assert consul.model is ConsulConfig and consul.env_prefix == "CONSUL_"
    assert consul.env["CONSUL_HTTP_TOKEN"] == "token"


def test_defaults_and_environment_reach_the_plugin_typed() -> None:
    settings = _load({"CONSUL_ADDR": "http://127.0.0.1:18500", "CONSUL_CHECK_INTERVAL": "3s"})
    consul = settings.node.plugin("consul", ConsulConfig)
    assert (consul.addr, consul.check_interval, consul.liveness_ttl) == (
        "http://127.0.0.1:18500",
        3.0,
        1.0,
    )
    assert settings.source_of(("cluster", "consul", "addr")) == "from env CONSUL_ADDR"
    assert settings.source_of(("cluster", "consul", "liveness_ttl")) == "default"


def test_a_bad_variable_names_itself_the_value_and_what_is_allowed() -> None:
    message = _problems({"CONSUL_CHECK_INTERVAL": "often"})
    assert "CONSUL_CHECK_INTERVAL='often': not a duration; allowed: seconds or <n>ms" in message
    assert "CONSUL_LIVENESS_TTL='100ms': must be at least 300ms" in _problems(
        {"CONSUL_LIVENESS_TTL": "100ms"}
    )
    assert "CONSUL_CHECK_TIMEOUT='9s': must be at most check_interval" in _problems(
        {"CONSUL_CHECK_TIMEOUT": "9s"}
    )


def test_yaml_section_is_checked_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "node.yaml"
    config.write_text("cluster:\n  consul:\n    service_name: from-file\n    bootstrap_expect: 5\n")
    settings = _load({"CONSUL_SERVICE_NAME": "from-env"}, config)
    consul = settings.node.plugin("consul", ConsulConfig)
    assert (consul.service_name, consul.bootstrap_expect) == ("from-env", 5)
    assert settings.source_of(("cluster", "consul", "bootstrap_expect")) == f"from {config}"

    config.write_text("cluster:\n  consul:\n    check_intervall: 5s\n    bootstrap_expect: 0\n")
    message = _problems({}, config)
    assert "unknown key 'cluster.consul.check_intervall'; did you mean 'check_interval'?" in message
    assert f"{config}: cluster.consul.bootstrap_expect=0: must be an integer >= 1" in message


def test_an_unknown_variable_with_the_plugin_prefix_is_warned_about() -> None:
    warnings = _load({"CONSUL_CHEK_INTERVAL": "5s"}).warnings
    assert (
        "environment variable CONSUL_CHEK_INTERVAL is not a setting of the consul plugin and "
        "is ignored; did you mean CONSUL_CHECK_INTERVAL?"
    ) in warnings


def test_print_config_shows_the_section_with_sources_and_the_token_masked() -> None:
    token = "s3cr3t-consul-token"
    text = render_effective_config(_load({"CONSUL_HTTP_TOKEN": token}))
    assert "  consul:\n    addr: http://127.0.0.1:8500  # default\n" in text
    assert "    token: '***'  # from env CONSUL_HTTP_TOKEN\n" in text
    assert token not in text


def test_standalone_loads_no_plugin_and_only_warns_about_a_plugin_section(
    tmp_path: Path,
) -> None:
    def must_not_be_called() -> list[PluginSettings]:
        raise AssertionError("standalone mode asked for the plugins' settings")

    config = tmp_path / "plan.yaml"
    config.write_text("target:\n  url: http://127.0.0.1:9/\ncluster:\n  consul:\n    addr: x\n")
    settings = load_settings(str(config), {}, None, must_not_be_called)
    assert settings.plan is not None and not settings.node.enabled
    assert any("cluster.consul is not read in standalone mode" in w for w in settings.warnings)
