"""The ``consul-kv`` config source against a real Consul agent and consul-template."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from loadtest_supervisor.cluster.contracts import ConfigSourceError
from loadtest_supervisor.plugins.consul_discovery import kv_source
from loadtest_supervisor.plugins.consul_discovery.kv_source import (
    BLOCKING_WAIT_S,
    ConsulTemplateSource,
)
from tests.config_sources.source_node import make_source, next_plan
from tests.services import ConsulAgent, binary
from tests.support import free_port, pid_alive

PLAN = "target: {url: 'http://127.0.0.1:9/'}\nload: {model: Rps, target_rps: %d}\n"


def test_a_write_is_seen_at_once_through_a_blocking_query(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    key = f"loadtest/{uuid.uuid4().hex[:8]}/plan.yaml"
    consul.client.kv.put(key, PLAN % 10)
    env = {
        "CLUSTER_CONFIG_SOURCE": "consul-kv",
        "CONSUL_ADDR": consul.url,
        "CONSUL_CONFIG_KEY": key,
    }

    async def scenario() -> None:
        source = make_source(env, tmp_path)
        first = await source.fetch()
        assert (first.text, first.source) == (PLAN % 10, f"consul-kv {key}")
        watching = asyncio.create_task(source.watch(first.version))
        await asyncio.sleep(0.5)
        assert not watching.done()  # blocked in the query, not polling
        put_at = time.monotonic()
        await asyncio.to_thread(consul.client.kv.put, key, PLAN % 20)
        await asyncio.wait_for(watching, BLOCKING_WAIT_S)
        # Far sooner than the query's wait: the write ended it, not the timeout.
        assert time.monotonic() - put_at < BLOCKING_WAIT_S / 2
        second = await source.fetch()
        assert second.text == PLAN % 20 and int(second.version) > int(first.version)

        await asyncio.to_thread(consul.client.kv.delete, key)
        with pytest.raises(ConfigSourceError, match=f"consul-kv {key}: no such key"):
            await source.fetch()

    asyncio.run(scenario())


def test_an_unreachable_agent_is_an_error_naming_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {"CLUSTER_CONFIG_SOURCE": "consul-kv", "CONSUL_ADDR": url}

    async def scenario() -> None:
        source = make_source(env, tmp_path)
        with pytest.raises(ConfigSourceError, match=f"consul-kv loadtest/plan.yaml at {url}"):
            await source.fetch()

    asyncio.run(scenario())


def test_consul_template_renders_two_keys_and_is_restarted_and_stopped(
    consul: ConsulAgent, tmp_path: Path
) -> None:
    prefix = f"loadtest/{uuid.uuid4().hex[:8]}"
    consul.client.kv.put(f"{prefix}/target", "http://127.0.0.1:9/")
    consul.client.kv.put(f"{prefix}/rps", "10")
    template = tmp_path / "plan.ctmpl"
    template.write_text(
        f"target: {{url: '{{{{ key \"{prefix}/target\" }}}}'}}\n"
        f'load: {{model: Rps, target_rps: {{{{ key "{prefix}/rps" }}}}}}\n'
    )
    env = {
        "CLUSTER_CONFIG_SOURCE": "consul-kv",
        "CONSUL_ADDR": consul.url,
        "CONSUL_TEMPLATE_FILE": str(template),
        "CONSUL_TEMPLATE_BIN": str(binary("consul-template")),
    }

    async def scenario() -> None:
        source = make_source(env, tmp_path / "data")
        assert isinstance(source, ConsulTemplateSource)
        try:
            # The first fetch waits for consul-template's first rendering.
            assert (await source.fetch()).text == PLAN % 10
            first = await source.fetch()
            await asyncio.to_thread(consul.client.kv.put, f"{prefix}/rps", "25")
            assert (await next_plan(source, first.version, timeout=10)).text == PLAN % 25
            second = await source.fetch()
            await asyncio.to_thread(consul.client.kv.put, f"{prefix}/target", "http://127.0.0.2:9/")
            third = await next_plan(source, second.version, timeout=10)
            assert "http://127.0.0.2:9/" in third.text

            killed = source.pid
            assert killed is not None
            os.kill(killed, signal.SIGKILL)
            for _ in range(100):
                if source.pid not in (None, killed):
                    break
                await asyncio.sleep(0.1)
            restarted = source.pid
            assert restarted not in (None, killed)
            await asyncio.to_thread(consul.client.kv.put, f"{prefix}/rps", "40")
            assert (await next_plan(source, third.version, timeout=10)).text.endswith(
                "target_rps: 40}\n"
            )
        finally:
            pid = source.pid
            await source.stop()
        assert pid is not None and not pid_alive(pid)

    asyncio.run(scenario())


def test_a_template_reading_a_missing_key_is_reported(
    consul: ConsulAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kv_source, "FIRST_RENDER_S", 1.0)
    template = tmp_path / "plan.ctmpl"
    template.write_text(f'{{{{ key "loadtest/{uuid.uuid4().hex[:8]}/absent" }}}}')
    env = {
        "CLUSTER_CONFIG_SOURCE": "consul-kv",
        "CONSUL_ADDR": consul.url,
        "CONSUL_TEMPLATE_FILE": str(template),
        "CONSUL_TEMPLATE_BIN": str(binary("consul-template")),
    }

    async def scenario() -> None:
        source = make_source(env, tmp_path / "data")
        try:
            with pytest.raises(ConfigSourceError, match="not rendered in 1s: does every key"):
                await source.fetch()
        finally:
            await source.stop()

    asyncio.run(scenario())


def test_a_missing_consul_template_binary_is_named(consul: ConsulAgent, tmp_path: Path) -> None:
    template = tmp_path / "plan.ctmpl"
    template.write_text('{{ key "x" }}')
    env = {
        "CLUSTER_CONFIG_SOURCE": "consul-kv",
        "CONSUL_ADDR": consul.url,
        "CONSUL_TEMPLATE_FILE": str(template),
        "CONSUL_TEMPLATE_BIN": "/nonexistent/consul-template",
    }

    async def scenario() -> None:
        source = make_source(env, tmp_path / "data")
        with pytest.raises(ConfigSourceError, match="CONSUL_TEMPLATE_BIN='/nonexistent/"):
            await source.fetch()
        await source.stop()

    asyncio.run(scenario())
