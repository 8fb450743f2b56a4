"""How a run's load is divided among the nodes: by their workers, users exactly."""

from __future__ import annotations

import pytest

from loadtest_supervisor.cluster.run_keeper import node_plan, shares
from loadtest_supervisor.config.loading import load_plan_text

PLAN = "target: {url: 'http://127.0.0.1:9/'}\nload: {model: %s, concurrency: %d}\n"


def test_shares_follow_the_workers_in_a_stable_order() -> None:
    parts = shares({"node-b": 1, "node-a": 2, "node-c": 1})
    assert [parts[n]["index"] for n in ("node-a", "node-b", "node-c")] == [0, 1, 2]
    assert [parts[n]["fraction"] for n in ("node-a", "node-b", "node-c")] == [0.5, 0.25, 0.25]
    assert sum(p["fraction"] for p in parts.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("users", [1, 2, 7, 10, 101])
def test_closed_model_users_add_up_to_the_plan_exactly(users: int) -> None:
    plan = load_plan_text(PLAN % ("Concurrent", users), "test")
    parts = shares({"a": 3, "b": 1, "c": 2})
    mine = {node: node_plan(plan, node, parts) for node in parts}
    given = {node: p.load.concurrency if p else 0 for node, p in mine.items()}
    assert sum(given.values()) == users
    assert all(p is None or p.load.concurrency > 0 for p in mine.values())
    assert given["a"] >= given["c"] >= given["b"]


def test_open_models_keep_the_plan_and_split_the_rate_by_fraction() -> None:
    plan = load_plan_text(
        "target: {url: 'http://127.0.0.1:9/'}\nload: {model: Rps, target_rps: 90}\n", "test"
    )
    assert node_plan(plan, "a", shares({"a": 1, "b": 2})) is plan
