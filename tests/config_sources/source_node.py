"""A config source made the way a node makes it: settings loaded as the CLI loads them,
the plugin chosen through its entry point, the source from its hook."""

from __future__ import annotations

import asyncio
from pathlib import Path

from loadtest_supervisor.cluster.contracts import ConfigSource, FetchedPlan
from loadtest_supervisor.cluster.identity import node_context
from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.plugin_manager import build_plugin_manager, declared_settings

CLUSTER = {"CLUSTER_ENABLED": "true", "CLUSTER_INSECURE": "true", "CLUSTER_NODE_ID": "n1"}


def make_source(
    env: dict[str, str], data_dir: Path, config_path: str | None = None
) -> ConfigSource:
    settings = load_settings(
        config_path,
        {**CLUSTER, "CLUSTER_DATA_DIR": str(data_dir), **env},
        None,
        declared_settings,
    )
    pm = build_plugin_manager(settings.node)
    context = node_context(settings.node, pm.hook, config_path=settings.config_path)
    source = pm.hook.loadtest_make_config_source(context=context)
    assert source is not None
    return source


async def next_plan(source: ConfigSource, version: str, timeout: float) -> FetchedPlan:
    """The plan after ``version``, as a leader's watch loop reads it."""
    await asyncio.wait_for(source.watch(version), timeout)
    return await source.fetch()
