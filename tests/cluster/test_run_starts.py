"""How cluster runs start: a plan from a source that waits for the API, and a schedule
that fires once per slot across a leader failover."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness
from tests.engine.cli import cli_path
from tests.support import wait_for

TIMEOUT_S = 30
LIGHT_LOAD = "target: {url: 'http://127.0.0.1:9/'}\nload: {model: Rps, target_rps: 5, workers: 1, "


def test_a_plan_with_start_api_runs_only_when_asked(
    make_cluster: Callable[..., ClusterHarness], tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(LIGHT_LOAD + "duration: 3s}\nrun: {start: api}\n")
    cluster = make_cluster(
        env={"CLUSTER_API_TOKEN": TOKEN}, command=[cli_path(), "--config", str(plan)]
    )
    cluster.start(3)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    node = cluster.node(0)
    wait_for(lambda: "config" in node.health(), timeout=TIMEOUT_S, what="the plan committed")
    time.sleep(1.5)
    assert "run" not in node.health()  # committed, not started

    status, reply = post_run(node, b"", TOKEN)  # no body: run the committed plan
    assert status == 200 and reply["sha256"] == node.health()["config"]["sha256"], reply
    first = wait_for(lambda: node.health().get("run"), timeout=TIMEOUT_S, what="the run")
    assert post_run(node, b"", TOKEN)[0] == 200  # asked again: a new run of the same plan
    second = wait_for(
        lambda: (run := node.health().get("run")) and run["run_id"] != first["run_id"] and run,
        timeout=TIMEOUT_S,
        what="a second run",
    )
    assert second["start_at"] > first["start_at"]


def test_a_schedule_fires_once_per_slot_across_a_leader_failover(
    make_cluster: Callable[..., ClusterHarness], tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(LIGHT_LOAD + "duration: 2s}\nrun: {schedule: '*/5 * * * * *'}\n")
    cluster = make_cluster(command=[cli_path(), "--config", str(plan)])
    cluster.start(3)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    seen: dict[float, set[str]] = {}  # slot -> run ids seen for it

    def watch(seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            for doc in cluster.all_health().values():
                run = doc.get("run") if isinstance(doc, dict) else None
                if run and run.get("slot"):
                    seen.setdefault(run["slot"], set()).add(run["run_id"])
            time.sleep(0.2)

    watch(7)
    # Kill the leader just before a slot: its successor, elected after the slot, makes it up.
    next_slot = (time.time() // 5 + 1) * 5
    time.sleep(max(0.0, next_slot - 0.3 - time.time()))
    cluster.node_by_id(leader_id).kill9()
    cluster.wait_for_agreement(TIMEOUT_S)
    watch(12)

    slots = sorted(seen)
    assert len(slots) >= 3, seen
    assert all(len(ids) == 1 for ids in seen.values()), seen  # never twice
    assert slots == [slots[0] + 5 * i for i in range(len(slots))], slots  # none missed
    assert next_slot in seen, (next_slot, slots)
