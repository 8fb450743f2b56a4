"""The leader-agreement rule every harness applies to what its nodes report."""

from __future__ import annotations

import pytest

from tests.support import NodeView, agreed_leader, assert_one_leader_per_term, health_agreement


def view(node_id: str, state: str, leader_id: str = "a", term: int = 3) -> NodeView:
    return NodeView(node_id, state, term, leader_id, state in ("leader", "follower"))


def test_agreement_needs_every_node_ready_on_one_leader_and_term() -> None:
    assert agreed_leader([view("a", "leader"), view("b", "follower")]) == ("a", 3)
    assert agreed_leader([view("a", "leader"), view("b", "forming")]) is None
    assert agreed_leader([view("a", "leader"), view("b", "follower", term=2)]) is None
    assert agreed_leader([]) is None


def test_agreement_needs_the_named_leader_and_only_it_to_say_leader() -> None:
    # Named by both, but a dead leader says nothing: the survivors do not agree yet.
    assert agreed_leader([view("b", "follower"), view("c", "follower")]) is None
    assert agreed_leader([view("a", "leader"), view("b", "leader")]) is None


def test_health_answers_that_failed_count_as_not_ready() -> None:
    ready = {"state": "leader", "term": 3, "leader_id": "a", "cluster_ready": True}
    assert health_agreement({"a": ready}) == ("a", 3)
    assert health_agreement({"a": ready, "b": TimeoutError()}) is None


def test_two_leaders_in_one_term_fail() -> None:
    assert assert_one_leader_per_term({1: {"a"}, 2: {"b"}}) == {1: "a", 2: "b"}
    with pytest.raises(AssertionError, match="more than one leader"):
        assert_one_leader_per_term({1: {"a"}, 2: {"a", "b"}})
