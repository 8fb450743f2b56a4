"""A member is sent the timeline's new points, not the whole timeline each time, and ends
with exactly the leader's timeline, however many of the leader's states it skipped."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest_supervisor.plugins.raft.member_feed import timeline_appends
from loadtest_supervisor.plugins.raft.replicated_state import (
    PARTS,
    apply_command,
    timeline_appended,
)


def leader_states() -> list[dict[str, Any]]:
    """The leader's applied states: three runs' points and events, a few at a time."""
    state: dict[str, Any] = {"term": 0, **dict.fromkeys(PARTS)}
    states = []
    t = 0
    for run_id, appends in (("r1", 4), ("r2", 3), ("r3", 5)):
        for i in range(appends):
            points = [{"t": t + k, "requests": k} for k in range(3)]
            events = [{"t": t, "kind": "node_joined", "node": f"n{i}"}] if i % 2 else []
            t += 3
            command = {"term": 1, "timeline_append": {"run_id": run_id, "points": points}}
            command["timeline_append"]["events"] = events
            state = apply_command(state, command)
            states.append(state)
        t = 0
    return states


@pytest.mark.parametrize("every", [1, 2, 5])
def test_a_member_following_every_nth_state_holds_the_leaders_timeline(every: int) -> None:
    states = leader_states()
    sent: dict[str, Any] = {}
    held: dict[str, Any] = {}
    sizes = []
    for state in [*states[::every], states[-1]]:
        appends = timeline_appends(sent, state)
        assert appends is not None
        for append in appends:
            held = timeline_appended(held, append)
        sizes.append(sum(len(a["points"]) for a in appends))
        sent = state
        assert held == state["timeline"]
    assert list(held) == ["r2", "r3"]  # the state keeps the last two runs, in order
    assert max(sizes) <= 3 * every  # only what was new, never the whole timeline


def test_a_timeline_that_did_not_only_grow_is_sent_whole() -> None:
    states = leader_states()
    rewritten = {"r3": {"points": [{"t": 0}], "events": []}}
    assert timeline_appends(states[-1], {**states[-1], "timeline": rewritten}) is None
