"""What the Consul discovery plugin registers, with which checks, settings and token.

Against a real Consul agent, one node, no Raft; each test uses its own service name.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.plugin_manager import declared_settings
from loadtest_supervisor.plugins.consul_discovery.consul_settings import (
    ConsulConfig,
    ConsulSettings,
)
from tests.consul.catalog import catalog_tags
from tests.consul.plugin_node import PluginNode, node_settings
from tests.consul.recording_stub import RecordingConsulProxy
from tests.services import ConsulAgent
from tests.support import eventually

# The CONSUL_* timings these tests are written against (conftest.py).
pytestmark = pytest.mark.usefixtures("fast_checks")


def test_registration_shape(consul: ConsulAgent, service: str, tmp_path: Path) -> None:
    # The agent does not show a check's deregister window back (its Definition is
    # empty), so the registration request itself is read through a recording stub.
    stub = RecordingConsulProxy(consul.url).start()

    async def scenario() -> None:
        settings = node_settings(stub.url, service, "node-shape", region="eu-west1")
        node = await PluginNode(settings, tmp_path, grpc_port=7123).open()
        try:
            await asyncio.wait_for(node.discovery.start(), 15)
            registered = consul.client.agent.services()["node-shape"]
            assert registered["Service"] == service
            assert registered["ID"] == "node-shape"
            assert registered["Address"] == "127.0.0.1"
            assert registered["Port"] == 7123
            assert registered["Tags"] == ["forming"]
            assert registered["Meta"] == {
                "node_id": "node-shape",
                "region": "eu-west1",
                "version": "test-version",
                "grpc_addr": "127.0.0.1:7123",
                "health_addr": node.context.health_url.split("/")[2],
            }
            check = consul.client.agent.checks()["service:node-shape"]
            assert check["Type"] == "http"
            assert check["Interval"] == "1s"
            assert check["Timeout"] == "500ms"
            assert check["Status"] == "passing"  # the real /health/cluster answered
            assert check["Output"].startswith(f"HTTP GET {node.context.health_url}: 200")
            sent = [r for r in stub.requests if r.path.startswith("/v1/agent/service/register")]
            assert "replace-existing-checks=true" in sent[0].path
            assert json.loads(sent[0].body)["checks"] == [
                {
                    "CheckID": "service:node-shape",
                    "Name": f"{service} /health/cluster",
                    "HTTP": node.context.health_url,
                    "Method": "GET",
                    "Interval": "1000ms",
                    "Timeout": "500ms",
                    "DeregisterCriticalServiceAfter": "90000ms",
                },
                {
                    "CheckID": "service:node-shape:liveness",
                    "Name": f"{service} liveness",
                    "TTL": "1000ms",  # CONSUL_LIVENESS_TTL's default
                    "Status": "passing",
                },
            ]
            liveness = consul.client.agent.checks()["service:node-shape:liveness"]
            assert (liveness["Type"], liveness["Status"]) == ("ttl", "passing")
            assert liveness["ServiceID"] == "node-shape"
            # Passed every TTL/3 by the node: still passing after several TTLs.
            await asyncio.sleep(3.0)
            liveness = consul.client.agent.checks()["service:node-shape:liveness"]
            assert liveness["Status"] == "passing"
            passes = [r for r in stub.requests if r.path.startswith("/v1/agent/check/pass/")]
            assert {r.path.split("?")[0] for r in passes} == {
                "/v1/agent/check/pass/service:node-shape:liveness"
            }
            assert len(passes) >= 9, "about three passes per TTL"
        finally:
            await node.close()
        assert "node-shape" not in consul.client.agent.services(), "clean stop deregisters"

    try:
        asyncio.run(scenario())
    finally:
        stub.stop()


CLUSTER = {"CLUSTER_ENABLED": "true", "CLUSTER_INSECURE": "true", "CLUSTER_NODE_ID": "n1"}


def test_defaults_and_setting_errors_name_the_variable() -> None:
    def consul(env: dict[str, str]) -> ConsulSettings:
        settings = load_settings(None, {**CLUSTER, **env}, None, declared_settings)
        return ConsulSettings.from_config(settings.node.plugin("consul", ConsulConfig))

    defaults = consul({})
    assert (defaults.check_interval_s, defaults.check_timeout_s) == (5.0, 2.0)
    assert defaults.deregister_after_s == 60.0 and defaults.anti_entropy_interval_s == 10.0
    assert defaults.bootstrap_expect == 3
    assert defaults.liveness_ttl_s == 1.0
    short = consul({"CONSUL_CHECK_INTERVAL": "1s"})
    assert short.check_timeout_s == 1.0, "the 2 s default timeout gives way to a 1 s interval"
    bad = {
        "CONSUL_CHECK_INTERVAL": "soon",
        "CONSUL_DEREGISTER_AFTER": "30s",
        "CONSUL_CHECK_TIMEOUT": "9s",
        "CONSUL_BOOTSTRAP_EXPECT": "0",
        "CONSUL_LIVENESS_TTL": "100ms",
    }
    for name, value in bad.items():
        with pytest.raises(ConfigError, match=f"{name}='{value}': "):
            consul({name: value})
    with pytest.raises(ConfigError, match="CONSUL_LIVENESS_TTL"):
        consul({"CONSUL_LIVENESS_TTL": "soon"})
    assert consul({"CONSUL_LIVENESS_TTL": "2s"}).liveness_ttl_s == 2.0


def test_token_sent_on_every_call_and_never_logged(
    consul: ConsulAgent, service: str, tmp_path: Path, log_lines: list[str]
) -> None:
    token = f"secret-{uuid.uuid4()}"
    stub = RecordingConsulProxy(consul.url).start()

    async def scenario() -> None:
        settings = node_settings(stub.url, service, "node-tok", consul_token=token)
        node = await PluginNode(settings, tmp_path).open()
        try:
            await node.discovery.start()
            node.tell_state("leader", 1)
            await eventually(
                lambda: catalog_tags(consul, service, "node-tok") == ["leader"], timeout=1.0
            )
            await node.discovery.peers()
            await node.discovery.peers()
            assert token not in repr(node.discovery.settings)
        finally:
            await node.close()

    try:
        asyncio.run(scenario())
    finally:
        stub.stop()
    paths = {r.path.split("?")[0] for r in stub.requests}
    assert {"/v1/agent/service/register", "/v1/health/service/" + service} <= paths
    assert "/v1/agent/service/deregister/node-tok" in paths
    assert all(r.token == token for r in stub.requests), stub.requests
    assert log_lines and not any(token in line for line in log_lines)
