"""A cluster node's state as the HTTP API shows it (DESIGN §5).

The node runtime hands every NodeStatus from consensus to ``ClusterView.update``;
``health()`` only formats that cached copy, so /health/cluster never waits on
consensus and answers in time even while the node is busy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loadtest_supervisor.cluster.contracts import Consensus, Discovery, NodeStatus, State
from loadtest_supervisor.cluster.overview import overview
from loadtest_supervisor.metrics.run_totals import RunTotals


def node_state(status: NodeStatus) -> State:
    """``forming`` unless a leader with quorum is known; then what consensus says."""
    if status.leader is None or not status.has_quorum or status.state == "forming":
        return "forming"
    return status.state


class ClusterView:
    """The NodeView (supervisor/http_api.py) of a cluster node."""

    def __init__(self, node_id: str, advertise_addr: str) -> None:
        self._node_id = node_id
        self._advertise_addr = advertise_addr
        self._status = NodeStatus(
            state="forming", term=0, leader=None, members=(advertise_addr,), has_quorum=False
        )
        self._totals: RunTotals | None = None
        self._results: dict[str, Any] | None = None
        # Set by the node once discovery exists; its problem() explains a node stuck
        # in forming (e.g. its backend is unreachable).
        self.discovery: Discovery | None = None
        # Set once consensus runs: health asks it directly, since only consensus knows
        # whether its last status is still vouched for (cheap, never blocks).
        self.consensus: Consensus | None = None
        # The replicated state as last applied here (plan, run, config error).
        self.committed: dict[str, Any] = {}
        # This node's clock against the leader's (cluster.clock_offset).
        self.clock: dict[str, Any] = {}
        self.clock_problem: str | None = None
        # The cluster results document as the leader merged it last (leader only), and
        # where GET /results gets the cluster's (set by the node).
        self.cluster_results: dict[str, Any] | None = None
        self.cluster_source: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None
        # Where the dashboard gets the cluster overview: the leader's (set by the node).
        self.overview_source: Callable[[], Awaitable[dict[str, Any]]] | None = None
        # Metrics snapshot bytes this node sent the leader over gRPC (bench reads it).
        self.metrics_sent_bytes = 0

    @property
    def status(self) -> NodeStatus:
        return self._status

    def update(self, status: NodeStatus) -> None:
        self._status = status

    def leader_id(self, status: NodeStatus | None = None) -> str | None:
        """The leader's node id; this node knows its own id even if consensus does not."""
        status = status or self._status
        if status.leader == self._advertise_addr:
            return self._node_id
        return status.leader_id

    def health(self) -> dict[str, Any]:
        status = self._current_status()
        state = node_state(status)
        ready = state != "forming"
        doc = {
            "state": state,
            "node_id": self._node_id,
            "leader_id": self.leader_id(status) if ready else None,
            "term": status.term,
            "peers": max(len(status.members), 1),
            "cluster_ready": ready,
            # Known once consensus has started: a member is one only from then on.
            "role": status.role if self.consensus is not None else None,
        }
        if self.discovery is not None and (error := self.discovery.problem()):
            doc["discovery_error"] = error
        if config := self.committed.get("config"):
            doc["config"] = {k: config.get(k) for k in ("sha256", "source", "version")}
        if self.clock:
            doc["clock"] = self.clock
        if self.clock_problem:
            doc["clock_skew"] = self.clock_problem
        if run := self.committed.get("run"):
            keys = ("run_id", "plan_sha256", "state", "start_at", "end_at", "slot")
            doc["run"] = {k: run.get(k) for k in keys}
            doc["run"]["shares"] = {
                node_id: round(share["fraction"], 4) for node_id, share in run["shares"].items()
            }
        if config_error := self.committed.get("config_error"):
            doc["config_error"] = config_error["message"]
        if self.metrics_sent_bytes:
            doc["metrics_sent_bytes"] = self.metrics_sent_bytes
        return doc

    def own_overview(self) -> dict[str, Any]:
        """The cluster overview as this node's consensus sees it."""
        status = self._current_status()
        return overview(
            self._node_id, self._advertise_addr, node_state(status), status, self.committed
        )

    async def overview(self) -> dict[str, Any]:
        if self.overview_source is None:
            return {**self.own_overview(), "served_from": "self"}
        return await self.overview_source()

    def _current_status(self) -> NodeStatus:
        return self.consensus.status() if self.consensus is not None else self._status

    def totals(self) -> RunTotals | None:
        return self._totals

    def cluster_document(self) -> dict[str, Any] | None:
        if node_state(self._status) != "leader":
            return None  # a deposed leader's last merge is no longer the cluster's
        return self.cluster_results

    def set_totals(self, totals: RunTotals | None) -> None:
        self._totals = totals

    def set_results(self, results: dict[str, Any] | None) -> None:
        self._results = results

    async def results(self, scope: str, run_id: str = "") -> dict[str, Any] | None:
        if scope == "node" or self.cluster_source is None:
            return self._results
        return await self.cluster_source(run_id)
