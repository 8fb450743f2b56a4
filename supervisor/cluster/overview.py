"""The cluster overview: every node with its state, term, address and share, the leader,
the committed plan and the run, as one node's consensus sees them (the dashboard's
``cluster``, design §5).

The leader's overview is the cluster's: it hears from every member. A follower fetches
the leader's over ``Coordination.Overview`` (``coordination.py``) and builds its own only
when the leader does not answer; ``served_from`` says which. A follower cannot see the
other followers' states, so in its own overview they are only ``reachable`` or not.
"""

from __future__ import annotations

from typing import Any

from loadtest_supervisor.cluster.contracts import NodeStatus, State

RUN_KEYS = ("run_id", "plan_sha256", "state", "start_at", "end_at", "stopped_at")


def overview(
    node_id: str,
    advertise_addr: str,
    state: State,
    status: NodeStatus,
    committed: dict[str, Any],
) -> dict[str, Any]:
    """The overview from ``status`` (this node's consensus, in which this node is in
    ``state``) and ``committed`` (the replicated state as applied here)."""
    ready = state != "forming"
    leader = status.leader if ready else None
    run = committed.get("run")
    shares = (run or {}).get("shares") or {}
    lost = (run or {}).get("lost") or {}
    nodes = []
    for address in sorted({*status.members, *status.nonvoters, advertise_addr}):
        member_id = node_id if address == advertise_addr else status.node_ids.get(address)
        if address == advertise_addr:
            member_state = state
        elif address == leader:
            member_state = "leader" if address in status.reachable else "unreachable"
        elif address in status.reachable:
            member_state = "follower" if state == "leader" else "reachable"
        else:
            member_state = "unreachable"
        # Raft: a member that takes the leader's heartbeats is in the leader's term.
        known = member_state in ("leader", "follower") or address == advertise_addr
        nodes.append(
            {
                "node_id": member_id,
                "address": address,
                "state": member_state,
                "term": status.term if known else None,
                "share": _share(shares, member_id),
                "workers": status.workers.get(address),
                "role": _role(address, advertise_addr, status),
            }
        )
    members = {entry["node_id"] for entry in nodes}
    for gone in sorted(set(lost) - members):
        nodes.append(
            {"node_id": gone, "address": None, "state": "lost", "term": None, "share": None}
        )
    document: dict[str, Any] = {
        "node_id": node_id,
        "leader_id": status.leader_id if ready else None,
        "term": status.term,
        "cluster_ready": ready,
        "nodes": nodes,
        "config": None,
        "run": {key: run.get(key) for key in RUN_KEYS} if run else None,
    }
    if leader == advertise_addr:
        document["leader_id"] = node_id
    if config := committed.get("config"):
        document["config"] = {k: config.get(k) for k in ("sha256", "source", "version")}
    if config_error := committed.get("config_error"):
        document["config_error"] = config_error["message"]
    return document


def _role(address: str, advertise_addr: str, status: NodeStatus) -> str:
    if address == advertise_addr:
        return status.role
    return "voter" if address in status.members else "member"


def _share(shares: dict[str, Any], node_id: str | None) -> float | None:
    share = shares.get(node_id) if node_id is not None else None
    return round(share["fraction"], 4) if share else None
