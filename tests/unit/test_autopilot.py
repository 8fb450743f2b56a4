"""Autopilot's choice of the next voting-membership change (docs/design.md §12.1)."""

from __future__ import annotations

from loadtest_supervisor.plugins.raft.autopilot import MEMBER_SETTLE_S, Autopilot, Change

A, B, C, D, E, F = (f"10.0.0.{i}:7000" for i in range(1, 7))
REPLACE_AFTER = 30.0


def seen(
    pilot: Autopilot,
    voters: tuple[str, ...],
    connected: tuple[str, ...],
    following: tuple[str, ...],
    now: float,
) -> Change | None:
    pilot.observe(A, voters, connected, following, now)
    return pilot.next_change(voters, now)


def test_a_dead_voter_is_removed_only_after_replace_after_and_only_with_a_ready_member() -> None:
    pilot = Autopilot(3, REPLACE_AFTER)
    voters = (A, B, C)
    assert seen(pilot, voters, (B,), (D,), 0.0) is None  # C just went silent
    assert seen(pilot, voters, (B,), (D,), REPLACE_AFTER - 0.1) is None
    change = seen(pilot, voters, (B,), (D,), REPLACE_AFTER)
    assert change is not None and (change.kind, change.address) == ("remove", C)
    # Removed first, then the member is added: every voter left is live meanwhile.
    change = seen(pilot, (A, B), (B,), (D,), REPLACE_AFTER + 1)
    assert change is not None and (change.kind, change.address) == ("add", D)
    assert seen(pilot, (A, B, D), (B, D), (), REPLACE_AFTER + 2) is None


def test_without_a_member_a_dead_voter_stays() -> None:
    pilot = Autopilot(3, REPLACE_AFTER)
    assert seen(pilot, (A, B, C), (B,), (), 0.0) is None
    assert seen(pilot, (A, B, C), (B,), (), 10 * REPLACE_AFTER) is None


def test_a_member_must_have_followed_for_a_while() -> None:
    pilot = Autopilot(3, REPLACE_AFTER)
    assert seen(pilot, (A, B), (B,), (D,), 0.0) is None
    assert seen(pilot, (A, B), (B,), (D,), MEMBER_SETTLE_S - 0.1) is None
    change = seen(pilot, (A, B), (B,), (D,), MEMBER_SETTLE_S)
    assert change is not None and (change.kind, change.address) == ("add", D)
    # A member whose stream ended starts over.
    pilot = Autopilot(3, REPLACE_AFTER)
    seen(pilot, (A, B), (B,), (D,), 0.0)
    seen(pilot, (A, B), (B,), (), 1.0)
    assert seen(pilot, (A, B), (B,), (D,), MEMBER_SETTLE_S + 0.5) is None


def test_a_voter_that_came_back_is_not_dead() -> None:
    pilot = Autopilot(3, REPLACE_AFTER)
    seen(pilot, (A, B, C), (B,), (D,), 0.0)
    seen(pilot, (A, B, C), (B, C), (D,), REPLACE_AFTER - 1)
    assert seen(pilot, (A, B, C), (B,), (D,), REPLACE_AFTER + 1) is None


def test_two_dead_of_five_are_both_removed_before_the_adds_never_below_a_majority() -> None:
    pilot = Autopilot(5, REPLACE_AFTER)
    seen(pilot, (A, B, C, D, E), (B, C), (F,), 0.0)
    change = seen(pilot, (A, B, C, D, E), (B, C), (F,), REPLACE_AFTER)
    assert change is not None and (change.kind, change.address) == ("remove", D)
    change = seen(pilot, (A, B, C, E), (B, C), (F,), REPLACE_AFTER + 1)
    assert change is not None and (change.kind, change.address) == ("remove", E)
    # Three of five is the majority: with C dead too, C is not removed before an add.
    seen(pilot, (A, B, C), (B,), (F,), REPLACE_AFTER + 2)
    change = seen(pilot, (A, B, C), (B,), (F,), 3 * REPLACE_AFTER)
    assert change is not None and (change.kind, change.address) == ("add", F)


def test_a_new_leadership_judges_nobody_on_what_was_seen_before() -> None:
    pilot = Autopilot(3, REPLACE_AFTER)
    seen(pilot, (A, B, C), (B,), (D,), 0.0)
    pilot.reset()
    assert seen(pilot, (A, B, C), (B,), (D,), REPLACE_AFTER + 1) is None
    change = seen(pilot, (A, B, C), (B,), (D,), 2 * REPLACE_AFTER + 1)
    assert change is not None and change.kind == "remove"
