"""Where each config source reads a plan's data file: beside the plan, in the same source."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from loadtest_supervisor.cluster.contracts import ConfigSourceError
from tests.config_sources.source_node import make_source, next_plan
from tests.services import ConsulAgent, FakeGcs, binary

CSV = "user\na\n"
PLAN = "target: {url: 'http://127.0.0.1:9/'}\n"


def test_file_data_is_the_file_next_to_the_plan(tmp_path: Path) -> None:
    config = tmp_path / "plan.yaml"
    config.write_text(PLAN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "users.csv").write_text(CSV)

    async def scenario() -> None:
        data = make_source({}, tmp_path / "node", str(config)).sibling("data/users.csv")
        first = await data.fetch()
        assert (first.text, first.source) == (CSV, f"file {tmp_path}/data/users.csv")
        (tmp_path / "data" / "users.csv").write_text(CSV + "b\n")
        assert (await next_plan(data, first.version, timeout=5)).text == CSV + "b\n"

    asyncio.run(scenario())


@pytest.mark.parametrize("rendered", [False, True], ids=["key", "consul-template"])
def test_consul_data_is_the_key_beside_the_plan_key(
    consul: ConsulAgent, tmp_path: Path, rendered: bool
) -> None:
    prefix = f"loadtest/{uuid.uuid4().hex[:8]}"
    env = {
        "CLUSTER_CONFIG_SOURCE": "consul-kv",
        "CONSUL_ADDR": consul.url,
        "CONSUL_CONFIG_KEY": f"{prefix}/plan.yaml",
    }
    if rendered:  # the plan is rendered; its data is still read raw from the key
        template = tmp_path / "plan.ctmpl"
        template.write_text(PLAN)
        env["CONSUL_TEMPLATE_FILE"] = str(template)
        env["CONSUL_TEMPLATE_BIN"] = str(binary("consul-template"))
    consul.client.kv.put(f"{prefix}/users.csv", CSV)

    async def scenario() -> None:
        source = make_source(env, tmp_path)
        data = source.sibling("users.csv")
        first = await data.fetch()
        assert (first.text, first.source) == (CSV, f"consul-kv {prefix}/users.csv")
        await asyncio.to_thread(consul.client.kv.put, f"{prefix}/users.csv", CSV + "b\n")
        assert (await next_plan(data, first.version, timeout=5)).text == CSV + "b\n"
        with pytest.raises(ConfigSourceError, match=f"consul-kv {prefix}/other.csv: no such key"):
            await source.sibling("other.csv").fetch()
        await source.stop()

    asyncio.run(scenario())


def test_gcs_data_is_the_object_beside_the_plan(
    gcs: FakeGcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.emulator_host)
    bucket = f"plans-{uuid.uuid4().hex[:8]}"
    gcs.client().create_bucket(bucket)
    gcs.client().bucket(bucket).blob("team/users.csv").upload_from_string(CSV)
    env = {
        "CLUSTER_CONFIG_SOURCE": "gcs",
        "CLUSTER_CONFIG_URI": f"gs://{bucket}/team/plan.yaml",
        "CLUSTER_CONFIG_POLL": "200ms",
    }

    async def scenario() -> None:
        data = make_source(env, tmp_path).sibling("users.csv")
        first = await data.fetch()
        assert (first.text, first.source) == (CSV, f"gcs gs://{bucket}/team/users.csv")
        blob = gcs.client().bucket(bucket).blob("team/users.csv")
        await asyncio.to_thread(blob.upload_from_string, CSV + "b\n")
        assert (await next_plan(data, first.version, timeout=5)).text == CSV + "b\n"

    asyncio.run(scenario())
