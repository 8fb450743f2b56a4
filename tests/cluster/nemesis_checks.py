"""What a nemesis run must show, checked after it from what the nodes wrote and said.

Each check takes plain data (log texts, applied-command files, the health polls, the
faults done) and returns the violations it found, as sentences naming the evidence,
and the figures it measured. None of them knows how the run was driven.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cluster.fault_harness import Observation
from tests.cluster.nemesis_faults import Injected

HEALTH_ANSWER_S = 2.0  # Consul's check timeout (design §5)
LEADER_WITHIN_S = 5.0  # after the last fault heals
ALL_READY_WITHIN_S = 10.0
# A node's death loses what it sent since its last report (design §9): one metrics
# interval, plus its workers' snapshot age, of its share of the rate.
METRICS_INTERVAL_S = 1.0
SNAPSHOT_INTERVAL_S = 0.25
IN_FLIGHT = 2  # requests a dying node had sent that nginx answered but no one counted
# The largest share a node can hold while a leader exists: a leader needs 3 of 5
# reachable, and shares go to reachable members. Used when the share at a kill is unknown.
MAX_SHARE = 1 / 3

_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def log_fields(line: str) -> dict[str, str]:
    """The key=value pairs of one logfmt line (quotes removed)."""
    return {
        key: value[1:-1].replace('\\"', '"') if value.startswith('"') else value
        for key, value in _FIELD.findall(line)
    }


# --- at most one leader per term -------------------------------------------------------


def leaders_by_term(logs: Mapping[str, str]) -> dict[int, set[str]]:
    """Every node named leader of each term in the nodes' ``raft_state_changed`` lines:
    by itself (new=leader) or by a follower (leader_id)."""
    named: dict[int, set[str]] = {}
    for text in logs.values():
        for line in text.splitlines():
            if "event=raft_state_changed" not in line:
                continue
            fields = log_fields(line)
            term = int(fields["term"])
            if fields.get("new") == "leader":
                named.setdefault(term, set()).add(fields["node_id"])
            elif fields.get("new") == "follower" and fields.get("leader_id") not in ("", "None"):
                named.setdefault(term, set()).add(fields["leader_id"])
    return named


def check_one_leader_per_term(named: Mapping[int, set[str]]) -> list[str]:
    return [
        f"term {term} had {len(ids)} leaders: {sorted(ids)}"
        for term, ids in sorted(named.items())
        if len(ids) > 1
    ]


# --- the same committed sequence on every node ----------------------------------------


@dataclass
class AppliedSummary:
    entries: dict[str, int]  # node -> applied lines
    last_index: dict[str, int]  # node -> highest index it applied
    indexes: int  # distinct indexes applied by any node


def read_applied(data_dir: Path) -> list[str]:
    """A node's applied-command lines, oldest first (rotated file included)."""
    lines: list[str] = []
    for name in ("applied.log.1", "applied.log"):
        found = list(data_dir.rglob(name))
        for path in found:
            lines += path.read_text().splitlines()
    return lines


def check_applied(applied: Mapping[str, Sequence[str]]) -> tuple[list[str], AppliedSummary]:
    """Every index was applied as the same command (same term, kind, outcome, hash) on
    every node; each node applied its indexes in increasing order within one process
    life (``start``) and between snapshots; and skipped none that another node applied
    inside a stretch it applied one by one (so each node's sequence is a prefix of the
    longest, except where a snapshot stood in for entries)."""
    violations: list[str] = []
    by_index: dict[int, tuple[str, str]] = {}
    stretches: dict[str, list[list[int]]] = {}
    for node, lines in applied.items():
        stretch: list[int] = []
        stretches[node] = [stretch]
        for line in lines:
            if line in ("start", "snapshot"):
                stretch = []
                stretches[node].append(stretch)
                continue
            index_text, entry = line.split(" ", 1)
            index = int(index_text)
            if stretch and index <= stretch[-1]:
                violations.append(f"{node} applied index {index} after {stretch[-1]}")
            stretch.append(index)
            first = by_index.setdefault(index, (node, entry))
            if first[1] != entry:
                violations.append(
                    f"index {index}: {first[0]} applied '{first[1]}', {node} applied '{entry}'"
                )
    everyone = sorted(by_index)
    for node, node_stretches in stretches.items():
        for stretch in node_stretches:
            if not stretch:
                continue
            own = set(stretch)
            skipped = [i for i in everyone if stretch[0] <= i <= stretch[-1] and i not in own]
            if skipped:
                violations.append(
                    f"{node} skipped indexes {skipped[:10]} that "
                    f"{sorted({by_index[i][0] for i in skipped})} applied"
                )
    summary = AppliedSummary(
        entries={node: sum(len(s) for s in st) for node, st in stretches.items()},
        last_index={
            node: max((max(s) for s in st if s), default=0) for node, st in stretches.items()
        },
        indexes=len(everyone),
    )
    return violations, summary


# --- health always answered ------------------------------------------------------------


def excused_intervals(
    injected: Iterable[Injected], observations: Sequence[Observation]
) -> dict[str, list[tuple[float, float]]]:
    """When each node was not expected to answer: from its start until its first answer,
    frozen (SIGSTOP to SIGCONT), and dead (kill until its first answer after restart)."""
    excused: dict[str, list[tuple[float, float]]] = {}
    answered: dict[str, list[float]] = {}
    for seen in observations:
        if seen.answered:
            answered.setdefault(seen.node_id, []).append(seen.t)
    for node, times in answered.items():
        excused.setdefault(node, []).append((float("-inf"), times[0]))
    for done in injected:
        for node in done.nodes:
            if done.fault.kind == "sigstop":
                excused.setdefault(node, []).append((done.began, done.healed))
            elif done.fault.kind == "kill9":
                back = next((t for t in answered.get(node, []) if t > done.healed), float("inf"))
                excused.setdefault(node, []).append((done.began, back))
    return excused


def check_health_answered(
    observations: Sequence[Observation], excused: Mapping[str, list[tuple[float, float]]]
) -> list[str]:
    """No poll of a running, unfrozen node went unanswered for 2 s."""
    violations = []
    for seen in observations:
        if seen.answered and seen.latency < HEALTH_ANSWER_S:
            continue
        began = seen.t - seen.latency
        if any(lo <= seen.t and began <= hi for lo, hi in excused.get(seen.node_id, [])):
            continue
        why = seen.error or f"answered after {seen.latency:.2f}s"
        violations.append(
            f"{seen.node_id} did not answer /health/cluster in 2 s at t={seen.t:.2f}: {why}"
        )
    return violations


# --- liveness and leaderless time ------------------------------------------------------


@dataclass
class Liveness:
    leader_after_s: float | None  # first leader (with quorum) seen after the heal
    all_ready_after_s: float | None  # first moment every node said follower or leader


def liveness(
    observations: Sequence[Observation], node_ids: Sequence[str], healed_at: float
) -> Liveness:
    leader_after = None
    all_after = None
    latest: dict[str, str | None] = {}
    for seen in sorted((o for o in observations if o.t >= healed_at), key=lambda o: o.t):
        latest[seen.node_id] = seen.state if seen.answered else None
        if leader_after is None and seen.state == "leader" and seen.cluster_ready:
            leader_after = seen.t - healed_at
        if all_after is None and all(latest.get(n) in ("leader", "follower") for n in node_ids):
            all_after = seen.t - healed_at
    return Liveness(leader_after, all_after)


def check_liveness(found: Liveness) -> list[str]:
    violations = []
    if found.leader_after_s is None or found.leader_after_s > LEADER_WITHIN_S:
        violations.append(f"no leader within {LEADER_WITHIN_S:.0f}s of the last heal: {found}")
    if found.all_ready_after_s is None or found.all_ready_after_s > ALL_READY_WITHIN_S:
        violations.append(
            f"not every node follower or leader within {ALL_READY_WITHIN_S:.0f}s of the "
            f"last heal: {found}"
        )
    return violations


def max_leaderless_s(observations: Sequence[Observation], since: float, until: float) -> float:
    """The longest time in [since, until] in which no node answered that it leads with
    quorum (a follower still naming a dead or frozen leader does not count)."""
    times = sorted(
        o.t
        for o in observations
        if o.state == "leader" and o.cluster_ready and since <= o.t <= until
    )
    edges = [since, *times, until]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


# --- no crash --------------------------------------------------------------------------


def check_no_traceback(logs: Mapping[str, str]) -> list[str]:
    violations = []
    for node, text in logs.items():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "Traceback (most recent call last)" in line:
                tail = " | ".join(lines[i + 1 : i + 12])
                violations.append(f"traceback in {node}'s log: {tail}")
    return violations


def check_no_worker_left(injected: Iterable[Injected]) -> list[str]:
    return [
        f"{done.nodes[0]}: processes {done.left_behind} still alive 5 s after its "
        f"supervisor's kill -9 (fault #{done.fault.number})"
        for done in injected
        if done.left_behind
    ]


# --- totals reconciled -----------------------------------------------------------------


@dataclass
class Totals:
    served: int  # nginx's access log, the run's path
    counted: int  # the cluster's final requests_total
    lost: int  # served - counted
    bound: float  # what the kills during the run may lose
    kills_in_run: int


def loss_bound(
    injected: Iterable[Injected], rate: float, start_at: float, end_at: float
) -> tuple[float, int]:
    """What the deaths during the run may lose (design §9): for each kill -9, one metrics
    interval and a snapshot of the victim's share of the rate, and its requests in flight."""
    bound, kills = 0.0, 0
    for done in injected:
        if done.fault.kind == "kill9" and start_at <= done.wall_began <= end_at:
            share = done.share if done.share is not None else MAX_SHARE
            bound += rate * share * (METRICS_INTERVAL_S + SNAPSHOT_INTERVAL_S) + IN_FLIGHT
            kills += 1
    return bound, kills


def check_totals(
    final: Mapping[str, Any], served: int, bound: float, kills: int
) -> tuple[list[str], Totals]:
    counted = int(final["requests_total"])
    totals = Totals(served, counted, served - counted, bound, kills)
    violations = []
    if counted > served:
        violations.append(
            f"the cluster counted {counted} requests, nginx served {served}: "
            f"{counted - served} counted twice"
        )
    elif served - counted > bound:
        violations.append(
            f"{served - counted} requests lost, more than the bound {bound:.0f} for {kills} kills"
        )
    by_node = sum(int(entry["requests_total"]) for entry in final["nodes"].values())
    if by_node != counted:
        violations.append(f"the nodes' totals add up to {by_node}, the cluster's is {counted}")
    if final["run"]["state"] != "finished":
        violations.append(f"the run ended {final['run']['state']}, not finished")
    return violations, totals
