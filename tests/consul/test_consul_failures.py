"""When something goes away: a killed node drops out within its liveness TTL; a lost
registration or a restarted agent is restored; an unreachable agent is waited for.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from tests.consul.catalog import catalog_tags
from tests.consul.plugin_node import PluginNode, node_settings
from tests.services import REPO_ROOT, ConsulAgent
from tests.support import ManagedProcess, eventually

# The CONSUL_* timings these tests are written against (conftest.py).
pytestmark = pytest.mark.usefixtures("fast_checks")


def test_liveness_check_goes_critical_within_ttl_after_kill9(
    consul: ConsulAgent, service: str, tmp_path: Path
) -> None:
    """With the default 5 s HTTP check, the TTL check is what drops a killed node."""
    env = {
        **os.environ,
        "CONSUL_CHECK_INTERVAL": "5s",
        "CONSUL_CHECK_TIMEOUT": "2s",
        "CONSUL_LIVENESS_TTL": "1s",
    }
    argv = [sys.executable, "-m", "tests.consul.plugin_node"]
    driver = ManagedProcess(
        "plugin-node",
        [*argv, consul.url, service, "node-k9", str(tmp_path)],
        log_path=tmp_path / "plugin-node.log",
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT,
    )
    checks = consul.client.agent.checks
    try:
        driver.start()
        driver.wait_ready(
            lambda: "ready" in driver.log_path.read_text(), timeout=20, what="the driver"
        )
        driver.wait_ready(
            lambda: consul.client.health.service(service, passing=True)[1],
            timeout=10,
            what="the driver's registration passing",
        )
        time.sleep(2.5)  # several TTLs: the node's own passes keep it alive
        assert checks()["service:node-k9:liveness"]["Status"] == "passing"
        driver.kill()
        killed = time.monotonic()
        critical_s = passing_gone_s = None
        while time.monotonic() - killed < 6.0 and (critical_s is None or passing_gone_s is None):
            now = time.monotonic() - killed
            if critical_s is None and (
                checks()["service:node-k9:liveness"]["Status"] == "critical"
            ):
                critical_s = now
            if (
                passing_gone_s is None
                and not consul.client.health.service(service, passing=True)[1]
            ):
                passing_gone_s = now
            time.sleep(0.01)
        assert critical_s is not None and critical_s <= 1.0 + 1.0, critical_s
        assert passing_gone_s is not None and passing_gone_s <= 1.0 + 1.0, passing_gone_s
        # The HTTP check has not had its turn yet in most runs; the TTL did the work.
        assert checks()["service:node-k9"]["Type"] == "http"
    finally:
        driver.stop()
        consul.client.agent.service.deregister("node-k9")


def test_anti_entropy_restores_a_deregistered_registration(
    consul: ConsulAgent,
    service: str,
    tmp_path: Path,
    log_lines: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A failed liveness pass also re-registers (within TTL/3); a long TTL leaves
    # the job under test to notice first.
    monkeypatch.setenv("CONSUL_LIVENESS_TTL", "60s")

    async def scenario() -> None:
        node = await PluginNode(node_settings(consul.url, service, "node-ae"), tmp_path).open()
        try:
            await node.discovery.start()
            node.tell_state("leader", 5)
            await eventually(
                lambda: catalog_tags(consul, service, "node-ae") == ["leader"], timeout=1.0
            )
            # Let the pass that follows every registration land first; the next is 20 s off.
            await asyncio.sleep(0.5)
            consul.client.agent.service.deregister("node-ae")
            gone = time.monotonic()
            await eventually(
                lambda: catalog_tags(consul, service, "node-ae") == ["leader"], timeout=1.0 + 0.5
            )
            assert time.monotonic() - gone <= 1.5  # one 1 s period, plus the request
        finally:
            await node.close()

    asyncio.run(scenario())
    assert any("event=consul_registration_restored reason=missing" in line for line in log_lines)


def test_agent_restart_brings_the_registration_back_with_its_tag(
    consul_factory: object, service: str, tmp_path: Path
) -> None:
    agent: ConsulAgent = consul_factory()  # type: ignore[operator]

    async def scenario() -> None:
        node = await PluginNode(node_settings(agent.url, service, "node-r"), tmp_path).open()
        try:
            await node.discovery.start()
            node.tell_state("follower", 2)
            await eventually(
                lambda: catalog_tags(agent, service, "node-r") == ["follower"], timeout=1.0
            )
            await asyncio.to_thread(agent.restart)
            back = time.monotonic()
            await eventually(
                lambda: catalog_tags(agent, service, "node-r") == ["follower"], timeout=3.0
            )
            assert time.monotonic() - back <= 1.5, "within one anti-entropy period"
            # ... and passing again, so it counts as a peer and resolves in DNS.
            await eventually(
                lambda: agent.client.health.service(service, passing=True)[1], timeout=5.0
            )
        finally:
            await node.close()

    asyncio.run(scenario())


def test_unreachable_agent_keeps_forming_then_recovers(
    tmp_path: Path, service: str, log_lines: list[str]
) -> None:
    agent = ConsulAgent(tmp_path / "late-agent")  # ports chosen, not started yet
    (tmp_path / "late-agent").mkdir()

    async def scenario() -> None:
        node = await PluginNode(node_settings(agent.url, service, "node-u"), tmp_path).open()
        try:
            starting = asyncio.create_task(node.discovery.start())
            await asyncio.sleep(2.0)
            assert not starting.done(), "start waits for Consul; it neither fails nor gives up"
            problem = node.discovery.problem()
            assert problem and "consul unreachable at " + agent.url in problem
            node.tell_state("forming", 0)
            await asyncio.to_thread(agent.start)
            await asyncio.wait_for(starting, 20)
            assert node.discovery.problem() is None
            assert catalog_tags(agent, service, "node-u") == ["forming"]
        finally:
            await node.close()
            agent.stop()

    asyncio.run(scenario())
    unreachable = [line for line in log_lines if "event=consul_unreachable" in line]
    assert unreachable and f"consul_addr={agent.url}" in unreachable[0]
    assert any("event=consul_reachable" in line for line in log_lines)
