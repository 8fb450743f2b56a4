"""Whether cluster nodes agree on one leader, and that no term ever had two.

Every harness asks the same question of what its nodes report (health documents,
recorded polls, Raft statuses), so the rule lives here once: every node is ready
with the same (leader, term), and exactly one of them says it leads, the named one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class LeaderView(Protocol):
    """What one node says about leadership."""

    @property
    def node_id(self) -> str: ...
    @property
    def state(self) -> str | None: ...
    @property
    def term(self) -> int | None: ...
    @property
    def leader_id(self) -> str | None: ...
    @property
    def cluster_ready(self) -> bool: ...


@dataclass(frozen=True)
class NodeView:
    node_id: str
    state: str | None
    term: int | None
    leader_id: str | None
    cluster_ready: bool

    @classmethod
    def from_health(cls, node_id: str, answer: Any) -> NodeView:
        """From a /health/cluster document, or whatever came instead (an exception)."""
        if not isinstance(answer, Mapping):
            return cls(node_id, None, None, None, False)
        return cls(
            node_id,
            answer.get("state"),
            answer.get("term"),
            answer.get("leader_id"),
            bool(answer.get("cluster_ready")),
        )


def agreed_leader(views: Iterable[LeaderView]) -> tuple[str, int] | None:
    """(leader_id, term) when every view is cluster-ready with the same leader and term
    and exactly one of them, that leader, says ``leader``; None otherwise."""
    views = list(views)
    if not views or not all(v.cluster_ready for v in views):
        return None
    if len({(v.leader_id, v.term) for v in views}) != 1:
        return None
    leader_id, term = views[0].leader_id, views[0].term
    if [v.node_id for v in views if v.state == "leader"] != [leader_id]:
        return None
    assert leader_id is not None and term is not None
    return leader_id, term


def health_agreement(health: Mapping[str, Any]) -> tuple[str, int] | None:
    """``agreed_leader`` over health answers by node id (documents or exceptions)."""
    return agreed_leader(NodeView.from_health(node_id, doc) for node_id, doc in health.items())


def assert_one_leader_per_term(
    leaders_by_term: Mapping[int, set[str]], context: str = ""
) -> dict[int, str]:
    """Fail if any term had more than one leader; returns each term's leader."""
    split = {term: ids for term, ids in leaders_by_term.items() if len(ids) != 1}
    assert not split, f"more than one leader named in a term: {split}\n{context}"
    return {term: next(iter(ids)) for term, ids in leaders_by_term.items()}
