"""The node's role tag in the catalog follows its state transitions, in order and
within 1 s, and re-registering never drops it out of ``?passing``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from tests.consul.catalog import CatalogRecorder, PassingWatch, catalog_tags
from tests.consul.plugin_node import PluginNode, node_settings
from tests.services import ConsulAgent
from tests.support import eventually

# The CONSUL_* timings these tests are written against (conftest.py).
pytestmark = pytest.mark.usefixtures("fast_checks")


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

    asyncio.run(scenario())
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

    asyncio.run(scenario())


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

    asyncio.run(scenario())


def _is_subsequence(seen: list[str], driven: list[str]) -> bool:
    remaining = iter(driven)
    return all(any(tag == d for d in remaining) for tag in seen)
