"""The ``file`` and ``gcs`` config sources, the latter against fake-gcs-server's JSON API."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from loadtest_supervisor.cluster.contracts import ConfigSourceError
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.plugin_manager import PluginError, build_plugin_manager, declared_settings
from tests.config_sources.source_node import CLUSTER, make_source, next_plan
from tests.services import FakeGcs

PLAN = "target: {url: 'http://127.0.0.1:9/'}\nload: {model: Rps, target_rps: 10}\n"


def test_file_is_the_default_source_and_sees_an_edit(tmp_path: Path) -> None:
    config = tmp_path / "plan.yaml"
    config.write_text(PLAN)

    async def scenario() -> None:
        source = make_source({}, tmp_path / "data", str(config))
        first = await source.fetch()
        assert (first.text, first.source) == (PLAN, f"file {config}")
        config.write_text(PLAN.replace("10", "20"))
        second = await next_plan(source, first.version, timeout=5)
        assert "target_rps: 20" in second.text and second.version != first.version

    asyncio.run(scenario())


def test_file_source_without_a_config_file_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        source = make_source({"CLUSTER_CONFIG_SOURCE": "file"}, tmp_path)
        with pytest.raises(ConfigSourceError, match="started without --config"):
            await source.fetch()

    asyncio.run(scenario())


def test_an_unknown_source_lists_the_installed_ones(tmp_path: Path) -> None:
    env = {**CLUSTER, "CLUSTER_CONFIG_SOURCE": "s3"}
    settings = load_settings(None, env, None, declared_settings)
    with pytest.raises(PluginError) as caught:
        build_plugin_manager(settings.node)
    assert str(caught.value) == (
        "CLUSTER_CONFIG_SOURCE='s3': no such config source plugin; installed: consul-kv, file, gcs"
    )


def test_gcs_settings_are_checked_and_required_when_chosen(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CLUSTER_CONFIG_URI='s3://b/o': must be gs://"):
        load_settings(None, {**CLUSTER, "CLUSTER_CONFIG_URI": "s3://b/o"}, None, declared_settings)

    async def scenario() -> None:
        with pytest.raises(ConfigSourceError, match="needs CLUSTER_CONFIG_URI"):
            make_source({"CLUSTER_CONFIG_SOURCE": "gcs"}, tmp_path)

    asyncio.run(scenario())


def test_gcs_reads_a_new_generation_and_reports_what_is_missing(
    gcs: FakeGcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.emulator_host)
    bucket = f"plans-{uuid.uuid4().hex[:8]}"
    gcs.client().create_bucket(bucket)
    blob = gcs.client().bucket(bucket).blob("plan.yaml")
    blob.upload_from_string(PLAN)
    env = {
        "CLUSTER_CONFIG_SOURCE": "gcs",
        "CLUSTER_CONFIG_URI": f"gs://{bucket}/plan.yaml",
        "CLUSTER_CONFIG_POLL": "200ms",
    }

    async def scenario() -> None:
        source = make_source(env, tmp_path)
        first = await source.fetch()
        assert (first.text, first.source) == (PLAN, f"gcs gs://{bucket}/plan.yaml")
        # Nothing changed: the watch keeps polling the generation.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(source.watch(first.version), 1.0)
        blob.upload_from_string(PLAN.replace("10", "30"))
        second = await next_plan(source, first.version, timeout=5)
        assert "target_rps: 30" in second.text and int(second.version) > int(first.version)

        blob.delete()
        with pytest.raises(ConfigSourceError, match=f"gs://{bucket}/plan.yaml: no such object"):
            await source.fetch()
        missing = make_source({**env, "CLUSTER_CONFIG_URI": "gs://no-such-bucket/p.yaml"}, tmp_path)
        with pytest.raises(ConfigSourceError, match="gs://no-such-bucket/p.yaml: no such bucket"):
            await missing.fetch()

    asyncio.run(scenario())
