"""The fault schedule ("nemesis"): which faults, when, for how long, drawn from a seed.

    schedule = draw_schedule(seed=7, duration_s=150, nodes=5)   # pure: same seed, same list
    for fault in schedule: print(fault)

Faults come one at a time, each held for a drawn time, healed, then a drawn quiet gap,
in rounds: each round is every kind once, in a drawn order, so a short run still
meets every kind. What a fault hits is drawn as a role (the leader, or the i-th of
the followers by node id) and resolved against the live cluster when it is applied
(``tests/cluster/nemesis_faults.py``): the schedule is reproducible from the seed; the
cluster's answers to it are as reproducible as the timing of a real cluster allows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# kill9              SIGKILL of a node's supervisor (its workers must follow), restart after
# sigstop            SIGSTOP of a node's process group, SIGCONT after
# minority_partition 1 or 2 nodes cut off from the rest (iptables), the leader maybe among them
# majority_ring      every node sees a majority, no two the same one (Jepsen's
#                    partition-majorities-ring: each node cut off from its two non-neighbours)
# consul_restart     the Consul agent stopped (a dev agent: it forgets everything), started
# source_outage      the plan's source (fake GCS) stopped, started again with the same plan
KINDS = (
    "kill9",
    "sigstop",
    "minority_partition",
    "majority_ring",
    "consul_restart",
    "source_outage",
)

# How long each kind is held, in seconds (low, high). Partitions reach past
# CLUSTER_ORPHAN_GRACE (10 s) sometimes, so cut-off nodes stop their share and rejoin.
HOLD_S = {
    "kill9": (0.5, 5.0),
    "sigstop": (1.0, 6.0),
    "minority_partition": (2.0, 12.0),
    "majority_ring": (3.0, 10.0),
    "consul_restart": (0.0, 3.0),
    "source_outage": (2.0, 15.0),
}
GAP_S = (2.0, 6.0)  # quiet time after a fault heals: long enough to re-split a share (3 s)
# Time a fault takes to apply and heal beyond its hold (a restart, Consul's election),
# so the schedule plans no fault the window cannot finish.
SLACK_S = 5.0


@dataclass(frozen=True)
class Fault:
    """One drawn fault. ``at`` is seconds from the schedule's start (a fault begins no
    earlier; later when the one before overran). ``leader``: aim at the leader of the
    moment; ``picks``: follower ranks (kill9, sigstop, minority_partition) or the ring's
    node order (majority_ring)."""

    number: int
    kind: str
    at: float
    hold: float
    leader: bool = False
    picks: tuple[int, ...] = ()

    def __str__(self) -> str:
        aim = "leader" if self.leader else ""
        picks = f" picks={list(self.picks)}" if self.picks else ""
        return (
            f"#{self.number} +{self.at:.1f}s {self.kind} hold={self.hold:.1f}s"
            f"{' ' + aim if aim else ''}{picks}"
        )


def draw_schedule(seed: int, duration_s: float, nodes: int = 5) -> list[Fault]:
    """Faults that begin and heal within ``duration_s``, drawn from ``seed`` alone."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    t = rng.uniform(*GAP_S)
    while True:
        kinds = list(KINDS)
        rng.shuffle(kinds)
        for kind in kinds:
            hold = round(rng.uniform(*HOLD_S[kind]), 2)
            leader, picks = _aim(rng, kind, nodes)
            if t + hold + SLACK_S > duration_s:
                return faults
            faults.append(Fault(len(faults) + 1, kind, round(t, 2), hold, leader, picks))
            t += hold + SLACK_S / 2 + rng.uniform(*GAP_S)


def _aim(rng: random.Random, kind: str, nodes: int) -> tuple[bool, tuple[int, ...]]:
    followers = nodes - 1
    if kind in ("kill9", "sigstop"):
        leader = rng.random() < 0.5
        return leader, () if leader else (rng.randrange(followers),)
    if kind == "minority_partition":
        size = rng.randint(1, (nodes - 1) // 2)
        leader = rng.random() < 0.5
        ranks = rng.sample(range(followers), size - 1 if leader else size)
        return leader, tuple(sorted(ranks))
    if kind == "majority_ring":
        order = list(range(nodes))
        rng.shuffle(order)
        return False, tuple(order)
    return False, ()
