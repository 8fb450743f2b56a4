"""The nemesis checkers find what they exist to find: each is fed evidence with one
planted violation (and its clean twin), so a run they pass is a run without it."""

from __future__ import annotations

from tests.cluster import nemesis_checks as checks
from tests.cluster.fault_harness import Observation
from tests.cluster.nemesis_faults import Injected
from tests.cluster.nemesis_schedule import Fault


def state_line(node: str, new: str, term: int, leader: str | None) -> str:
    return (
        f"ts=2026-11-29T15:00:00.000Z level=info logger=x node_id={node} term={term} "
        f"state={new} event=raft_state_changed node_id={node} old=forming new={new} "
        f"term={term} leader_id={leader} members=5 quorum=True"
    )


def test_two_leaders_in_a_term_are_found_from_leaders_and_followers_lines() -> None:
    clean = {
        "n1": state_line("n1", "leader", 3, "n1"),
        "n2": state_line("n2", "follower", 3, "n1") + "\n" + state_line("n2", "leader", 4, "n2"),
    }
    assert checks.check_one_leader_per_term(checks.leaders_by_term(clean)) == []
    # n3 says n2 led term 3, where n1 said it led it.
    split = {**clean, "n3": state_line("n3", "follower", 3, "n2")}
    assert checks.check_one_leader_per_term(checks.leaders_by_term(split)) == [
        "term 3 had 2 leaders: ['n1', 'n2']"
    ]


def test_applied_sequences_must_agree_ascend_and_skip_nothing() -> None:
    a = ["start", "2 1 fence ok aa", "3 1 config ok bb", "5 1 run ok cc"]
    restarted = ["start", "2 1 fence ok aa", "start", "2 1 fence ok aa", "3 1 config ok bb"]
    snapshot = ["start", "snapshot", "5 1 run ok cc"]
    assert checks.check_applied({"a": a, "b": restarted, "c": snapshot})[0] == []

    diverged = ["start", "2 1 fence ok aa", "3 1 config ok XX"]
    assert checks.check_applied({"a": a, "b": diverged})[0] == [
        "index 3: a applied '1 config ok bb', b applied '1 config ok XX'"
    ]
    skipped = ["start", "2 1 fence ok aa", "5 1 run ok cc"]
    assert checks.check_applied({"a": a, "b": skipped})[0] == [
        "b skipped indexes [3] that ['a'] applied"
    ]
    backwards = ["start", "3 1 config ok bb", "2 1 fence ok aa"]
    assert "b applied index 2 after 3" in checks.check_applied({"a": a, "b": backwards})[0]


def poll(
    t: float, node: str, latency: float, answered: bool = True, state: str = "follower"
) -> Observation:
    ready = answered and state in ("leader", "follower")
    error = None if answered else "timed out"
    return Observation(t, node, state if answered else None, 1, "n1", ready, latency, error=error)


def test_an_unanswered_poll_counts_unless_the_node_was_stopped_killed_or_starting() -> None:
    stop = Injected(Fault(1, "sigstop", 0, 3), ("n2",), began=10.0, healed=13.0)
    kill = Injected(Fault(2, "kill9", 0, 1), ("n3",), began=20.0, healed=21.0)
    seen = [
        poll(1.0, "n2", 2.0, answered=False),  # starting: before its first answer
        poll(2.0, "n2", 0.01),
        poll(2.0, "n3", 0.01),
        poll(12.0, "n2", 2.0, answered=False),  # frozen
        poll(22.5, "n3", 2.0, answered=False),  # restarting, not yet answering
        poll(23.0, "n3", 0.02),
        poll(30.0, "n2", 2.5),  # running, answered too late
        poll(31.0, "n3", 2.0, answered=False),  # running, silent
    ]
    excused = checks.excused_intervals([stop, kill], seen)
    found = checks.check_health_answered(seen, excused)
    assert [v.split(" at ")[0] for v in found] == [
        "n2 did not answer /health/cluster in 2 s",
        "n3 did not answer /health/cluster in 2 s",
    ]


def test_liveness_and_leaderless_time_come_from_the_polls() -> None:
    seen = [
        poll(10.0, "n1", 0.01, state="forming"),
        poll(10.5, "n2", 0.01, state="forming"),
        poll(13.0, "n1", 0.01, state="leader"),
        poll(16.0, "n1", 0.01, state="leader"),
        poll(19.0, "n2", 0.01, state="follower"),
    ]
    live = checks.liveness(seen, ["n1", "n2"], healed_at=10.0)
    assert live == checks.Liveness(3.0, 9.0)
    assert checks.check_liveness(live) == []
    late = checks.liveness(seen, ["n1", "n2", "n3"], healed_at=10.0)
    assert len(checks.check_liveness(late)) == 1
    # Only a leader's own answers count: n2 naming it at 19 s does not.
    assert checks.max_leaderless_s(seen, since=10.0, until=20.0) == 4.0
    more = [*seen, poll(18.5, "n1", 0.01, state="leader")]
    assert checks.max_leaderless_s(more, since=10.0, until=20.0) == 3.0


def test_totals_lost_beyond_the_bound_or_counted_twice_are_violations() -> None:
    kill = Injected(Fault(1, "kill9", 0, 1), ("n2",), began=0, healed=1, wall_began=100.0)
    kill.share = 0.2
    bound, kills = checks.loss_bound([kill], rate=100, start_at=50.0, end_at=200.0)
    assert (bound, kills) == (100 * 0.2 * 1.25 + checks.IN_FLIGHT, 1)
    final = {
        "requests_total": 1000,
        "nodes": {"n1": {"requests_total": 600}, "n2": {"requests_total": 400}},
        "run": {"state": "finished"},
    }
    assert checks.check_totals(final, 1020, bound, kills)[0] == []
    assert "counted twice" in checks.check_totals(final, 990, bound, kills)[0][0]
    assert "more than the bound" in checks.check_totals(final, 1030, bound, kills)[0][0]


def test_a_traceback_and_a_process_left_behind_are_violations() -> None:
    logs = {"n1": "ok\nTraceback (most recent call last):\n  File x\nKeyError: 1\n", "n2": "ok"}
    assert checks.check_no_traceback(logs) == ["traceback in n1's log:   File x | KeyError: 1"]
    kill = Injected(Fault(4, "kill9", 0, 1), ("n2",), began=0, healed=1, left_behind=[4242])
    assert checks.check_no_worker_left([kill]) == [
        "n2: processes [4242] still alive 5 s after its supervisor's kill -9 (fault #4)"
    ]
