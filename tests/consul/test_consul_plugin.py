"""The Consul discovery plugin against a real Consul agent, one node, no Raft.

Each test uses its own service name, so tests sharing the session agent never
see each other's registrations; tests that restart or start the agent own it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import consul as consul_api
import pytest
from loadtest_supervisor.cluster.contracts import Peer
from loadtest_supervisor.logs import LogfmtFormatter
from loadtest_supervisor.plugins.consul_discovery.consul_settings import (
    ConsulSettings,
    ConsulSettingsError,
)

from tests.consul.plugin_node import PluginNode, node_settings
from tests.consul.recording_stub import RecordingConsulProxy
from tests.services import REPO_ROOT, ConsulAgent
from tests.support import ManagedProcess, eventually

FAST = {
    "CONSUL_CHECK_INTERVAL": "1s",
    "CONSUL_CHECK_TIMEOUT": "500ms",
    "CONSUL_DEREGISTER_AFTER": "90s",
    "CONSUL_ANTI_ENTROPY_INTERVAL": "1s",
    "CONSUL_BOOTSTRAP_EXPECT": "1",
}


@pytest.fixture(autouse=True)
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONSUL_HTTP_TOKEN", raising=False)


@pytest.fixture
def service() -> str:
    return f"lt-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def log_lines() -> list[str]:
    """Every log line the plugin writes, formatted exactly as a node writes it."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def catalog_tags(agent: ConsulAgent, service: str, node_id: str) -> list[str] | None:
    return _tags_in(agent.client, service, node_id)


def _tags_in(client: consul_api.Consul, service: str, node_id: str) -> list[str] | None:
    _, entries = client.catalog.service(service)
    for entry in entries:
        if entry["ServiceID"] == node_id:
            return entry["ServiceTags"]
    return None


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


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
        run(scenario())
    finally:
        stub.stop()


def test_defaults_and_setting_errors_name_the_variable(consul: ConsulAgent) -> None:
    settings = node_settings(consul.url, "x", "node-x")
    defaults = ConsulSettings.from_node_settings(settings, environ={})
    assert (defaults.check_interval_s, defaults.check_timeout_s) == (5.0, 2.0)
    assert defaults.deregister_after_s == 60.0 and defaults.anti_entropy_interval_s == 10.0
    assert defaults.bootstrap_expect == 3
    assert defaults.liveness_ttl_s == 1.0
    short = ConsulSettings.from_node_settings(settings, environ={"CONSUL_CHECK_INTERVAL": "1s"})
    assert short.check_timeout_s == 1.0, "the 2 s default timeout gives way to a 1 s interval"
    bad = {
        "CONSUL_CHECK_INTERVAL": "soon",
        "CONSUL_DEREGISTER_AFTER": "30s",
        "CONSUL_CHECK_TIMEOUT": "9s",
        "CONSUL_BOOTSTRAP_EXPECT": "0",
        "CONSUL_LIVENESS_TTL": "100ms",
    }
    for name, value in bad.items():
        with pytest.raises(ConsulSettingsError, match=name):
            ConsulSettings.from_node_settings(settings, environ={name: value})
    with pytest.raises(ConsulSettingsError, match="CONSUL_LIVENESS_TTL"):
        ConsulSettings.from_node_settings(settings, environ={"CONSUL_LIVENESS_TTL": "soon"})
    ttl = ConsulSettings.from_node_settings(settings, environ={"CONSUL_LIVENESS_TTL": "2s"})
    assert ttl.liveness_ttl_s == 2.0


def test_tags_follow_hook_transitions_in_order_within_1s(
    consul: ConsulAgent, service: str, tmp_path: Path
) -> None:
    transitions = [("follower", 1), ("leader", 2), ("follower", 3), ("forming", 3), ("leader", 4)]
    latencies: list[float] = []

    async def scenario() -> None:
        node = await PluginNode(node_settings(consul.url, service, "node-t"), tmp_path).open()
        try:
            await node.discovery.start()
            seen = CatalogRecorder(consul, service, "node-t").start()
            # Its thread's first poll must see the starting tag before anything changes
            # (on a busy machine the thread can start late).
            await eventually(lambda: seen.sequence() == ["forming"], timeout=2.0, interval=0.005)
            for state, term in transitions:
                told = time.monotonic()
                node.tell_state(state, term)
                await eventually(
                    lambda s=state: catalog_tags(consul, service, "node-t") == [s],
                    timeout=1.0,
                    interval=0.005,
                    what=f"tag {state} in the catalog",
                )
                latencies.append(time.monotonic() - told)
                await asyncio.sleep(0.2)
            seen.stop()
            assert seen.sequence() == ["forming", *[state for state, _ in transitions]]
        finally:
            await node.close()

    run(scenario())
    assert max(latencies) < 1.0, latencies


def test_re_registration_keeps_both_checks_passing(
    consul: ConsulAgent, service: str, tmp_path: Path
) -> None:
    """Every transition re-registers with replace-existing-checks: the node must stay
    in ``?passing`` (what DNS serves) throughout, or a new leader would blink out."""
    transitions = [("follower", 1), ("leader", 2), ("follower", 3), ("forming", 3), ("leader", 4)]

    async def scenario() -> None:
        node = await PluginNode(node_settings(consul.url, service, "node-k"), tmp_path).open()
        try:
            await node.discovery.start()
            await eventually(
                lambda: consul.client.health.service(service, passing=True)[1], timeout=5.0
            )
            watch = PassingWatch(consul, service, "node-k").start()
            for state, term in transitions:
                node.tell_state(state, term)
                await eventually(
                    lambda s=state: catalog_tags(consul, service, "node-k") == [s],
                    timeout=1.0,
                    interval=0.005,
                )
                await asyncio.sleep(0.7)  # across more than one TTL/3 pass period
            watch.stop()
            assert watch.polls > 100 and watch.absent == 0, (watch.polls, watch.absent)
            checks = consul.client.agent.checks()
            assert checks["service:node-k"]["Status"] == "passing"
            assert checks["service:node-k:liveness"]["Status"] == "passing"
            assert {c for c in checks if c.startswith("service:node-k")} == {
                "service:node-k",
                "service:node-k:liveness",
            }
        finally:
            await node.close()

    run(scenario())


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


def test_burst_of_transitions_converges_to_the_last(
    consul: ConsulAgent, service: str, tmp_path: Path
) -> None:
    driven = [s for s, _ in zip(itertools.cycle(["follower", "leader", "forming"]), range(30))]
    driven.append("follower")

    async def scenario() -> None:
        node = await PluginNode(node_settings(consul.url, service, "node-b"), tmp_path).open()
        try:
            await node.discovery.start()
            seen = CatalogRecorder(consul, service, "node-b").start()
            for term, state in enumerate(driven, start=1):
                node.tell_state(state, term)
                await asyncio.sleep(0.001)  # let the worker interleave with the burst
            await eventually(
                lambda: catalog_tags(consul, service, "node-b") == ["follower"],
                timeout=1.0,
                interval=0.005,
            )
            await asyncio.sleep(0.5)  # nothing older may land after the last
            seen.stop()
            assert catalog_tags(consul, service, "node-b") == ["follower"]
            assert _is_subsequence(seen.sequence()[1:], driven), seen.sequence()
        finally:
            await node.close()

    run(scenario())


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
                lambda: catalog_tags(consul, service, "node-ae") == ["leader"],
                timeout=1.0,
                interval=0.02,
            )
            # Let the pass that follows every registration land first; the next is 20 s off.
            await asyncio.sleep(0.5)
            consul.client.agent.service.deregister("node-ae")
            gone = time.monotonic()
            await eventually(
                lambda: catalog_tags(consul, service, "node-ae") == ["leader"],
                timeout=1.0 + 0.5,
                interval=0.02,
            )
            assert time.monotonic() - gone <= 1.5  # one 1 s period, plus the request
        finally:
            await node.close()

    run(scenario())
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
                lambda: catalog_tags(agent, service, "node-r") == ["follower"],
                timeout=3.0,
                interval=0.02,
            )
            assert time.monotonic() - back <= 1.5, "within one anti-entropy period"
            # ... and passing again, so it counts as a peer and resolves in DNS.
            await eventually(
                lambda: agent.client.health.service(service, passing=True)[1], timeout=5.0
            )
        finally:
            await node.close()

    run(scenario())


def test_peers_only_from_passing_checks_once_per_node_id(
    consul: ConsulAgent, http_target: object, service: str, tmp_path: Path
) -> None:
    target_url = http_target.url  # type: ignore[attr-defined]
    client = consul.client

    def fake(service_id: str, node_id: str, status_path: str, address: str | None) -> None:
        client.agent.service.register(
            service,
            service_id=service_id,
            address=address,
            port=7999,
            tags=["forming"],
            meta={"node_id": node_id},
            check={"HTTP": f"{target_url}{status_path}", "Interval": "1s", "Timeout": "1s"},
        )

    fake("node-bad", "node-bad", "/status/500", "127.0.0.50")  # check critical: never counts
    fake("node-dup-a", "node-dup", "/", "127.0.0.51")  # one node registered twice
    fake("node-dup-b", "node-dup", "/", "127.0.0.51")
    fake("node-noaddr", "node-noaddr", "/", None)  # no service address: the node's is used

    async def scenario() -> None:
        node = await PluginNode(node_settings(consul.url, service, "node-p"), tmp_path).open()
        try:
            await node.discovery.start()
            await node.discovery.peers()  # the bootstrap answer; live views follow

            def passing_count() -> bool:
                return len(client.health.service(service, passing=True)[1]) == 4

            await eventually(passing_count, timeout=10.0, what="4 passing registrations")
            checks = client.agent.checks()
            assert checks["service:node-bad"]["Status"] == "critical"
            peers = await node.discovery.peers()
            assert sorted(peers, key=lambda p: p.node_id or "") == [
                Peer(address="127.0.0.51:7999", node_id="node-dup"),
                Peer(address="127.0.0.1:7999", node_id="node-noaddr"),
            ]
        finally:
            await node.close()
            for service_id in ("node-bad", "node-dup-a", "node-dup-b", "node-noaddr"):
                client.agent.service.deregister(service_id)

    run(scenario())


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

    run(scenario())
    unreachable = [line for line in log_lines if "event=consul_unreachable" in line]
    assert unreachable and f"consul_addr={agent.url}" in unreachable[0]
    assert any("event=consul_reachable" in line for line in log_lines)


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
        run(scenario())
    finally:
        stub.stop()
    paths = {r.path.split("?")[0] for r in stub.requests}
    assert {"/v1/agent/service/register", "/v1/health/service/" + service} <= paths
    assert "/v1/agent/service/deregister/node-tok" in paths
    assert all(r.token == token for r in stub.requests), stub.requests
    assert log_lines and not any(token in line for line in log_lines)


# --- test helpers ---


class CatalogRecorder:
    """Polls the catalog every 5 ms in a thread and keeps each change of the node's tags."""

    def __init__(self, agent: ConsulAgent, service: str, node_id: str) -> None:
        # A client of its own: requests sessions are not shared between threads.
        client = consul_api.Consul(host=agent.http_addr.split(":")[0], port=agent.http_port)
        self._poll = lambda: _tags_in(client, service, node_id)
        self._seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CatalogRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sequence(self) -> list[str]:
        return list(self._seen)

    def _run(self) -> None:
        while not self._stop.is_set():
            tags = self._poll()
            tag = tags[0] if tags else None
            if tag is not None and (not self._seen or self._seen[-1] != tag):
                self._seen.append(tag)
            time.sleep(0.005)


class PassingWatch:
    """Polls ``?passing`` in a thread; counts the polls that did not list the node."""

    def __init__(self, agent: ConsulAgent, service: str, node_id: str) -> None:
        client = consul_api.Consul(host=agent.http_addr.split(":")[0], port=agent.http_port)
        self._listed = lambda: any(
            e["Service"]["ID"] == node_id for e in client.health.service(service, passing=True)[1]
        )
        self.polls = 0
        self.absent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PassingWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.polls += 1
            if not self._listed():
                self.absent += 1
            time.sleep(0.005)


def _is_subsequence(seen: list[str], driven: list[str]) -> bool:
    remaining = iter(driven)
    return all(any(tag == d for d in remaining) for tag in seen)
