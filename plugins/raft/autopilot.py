"""Autopilot: the leader's choice of the next voting-membership change (docs/design.md
§12.1). Pure bookkeeping; ``RaftConsensus`` feeds it what the leader sees once a second
and carries out what it returns, one change at a time, each awaited to its commit.

- A voter the leader has had no link to for ``replace_after`` is dead. While a member
  is ready (following the leader for ``MEMBER_SETTLE_S``), a dead voter is **removed
  first**, as long as the voters left are still a majority of the configured size;
  every voter then left is live, so the add that follows commits without waiting for
  the new voter to catch up.
- While the voters are fewer than the configured size, a ready member is added.
- Nothing changes without a ready member: a dead voter kept counts against the quorum,
  but removing it would not bring a replacement either.
- The leader never removes itself (pysyncobj refuses it too); a dead leader is
  replaced by an election first, and the new leader removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# A member whose stream to the leader is this old has shown it stays up and follows.
MEMBER_SETTLE_S = 2.0


@dataclass(frozen=True)
class Change:
    kind: Literal["add", "remove"]
    address: str
    why: str


class Autopilot:
    """What one leader has seen of its voters and members, since it became leader."""

    def __init__(self, size: int, replace_after: float) -> None:
        self._size = size
        self._replace_after = replace_after
        self._unreachable_since: dict[str, float] = {}
        self._following_since: dict[str, float] = {}

    def reset(self) -> None:
        """A new leadership: nobody is judged on what an earlier leader saw, or did not."""
        self._unreachable_since.clear()
        self._following_since.clear()

    def observe(
        self,
        own: str,
        voters: tuple[str, ...],
        connected: tuple[str, ...],
        following: tuple[str, ...],
        now: float,
    ) -> None:
        others = set(voters) - {own}
        for address in others - set(connected):
            self._unreachable_since.setdefault(address, now)
        for address in set(self._unreachable_since) - (others - set(connected)):
            del self._unreachable_since[address]
        for address in set(following) - set(voters):
            self._following_since.setdefault(address, now)
        for address in set(self._following_since) - (set(following) - set(voters)):
            del self._following_since[address]

    def next_change(self, voters: tuple[str, ...], now: float) -> Change | None:
        ready = sorted(
            a for a, since in self._following_since.items() if now - since >= MEMBER_SETTLE_S
        )
        if not ready:
            return None
        dead = sorted(
            a
            for a, since in self._unreachable_since.items()
            if a in voters and now - since >= self._replace_after
        )
        majority = self._size // 2 + 1
        if dead and len(voters) - 1 >= majority:
            since = now - self._unreachable_since[dead[0]]
            return Change("remove", dead[0], f"no link for {since:.1f}s; {ready[0]} replaces it")
        if len(voters) < self._size:
            return Change("add", ready[0], f"{len(voters)} voters of {self._size}")
        return None
