"""How a run's load is divided among the nodes: by their workers, users exactly."""

from __future__ import annotations

import pytest

from loadtest_supervisor.cluster.run_keeper import node_users, shares


def test_shares_follow_the_workers_in_a_stable_order() -> None:
    parts = shares({"node-b": 1, "node-a": 2, "node-c": 1})
    assert [parts[n]["index"] for n in ("node-a", "node-b", "node-c")] == [0, 1, 2]
    assert [parts[n]["fraction"] for n in ("node-a", "node-b", "node-c")] == [0.5, 0.25, 0.25]
    assert sum(p["fraction"] for p in parts.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("users", [1, 2, 7, 10, 101])
def test_closed_model_users_add_up_to_the_plan_exactly(users: int) -> None:
    parts = shares({"a": 3, "b": 1, "c": 2})
    given = {node: node_users(users, node, parts) for node in parts}
    assert sum(given.values()) == users
    assert all(n >= 0 for n in given.values())
    assert given["a"] >= given["c"] >= given["b"]


@pytest.mark.parametrize("users", [1, 2, 7, 10, 101])
def test_a_re_split_still_adds_up_and_a_node_may_sit_out(users: int) -> None:
    """A member lost or joined: the parts of the new shares add up again."""
    for members in ({"a": 1, "b": 1}, {"a": 1, "b": 1, "c": 1, "d": 1}):
        parts = shares(members)
        assert sum(node_users(users, node, parts) for node in parts) == users
    three = shares({"a": 1, "b": 1, "c": 1})
    assert sorted(node_users(1, node, three) for node in three) == [0, 0, 1]
