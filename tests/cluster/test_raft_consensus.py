"""Three real Raft nodes (OS processes on 127.0.0.21-23, one port): election, commit,
kill -9 failover and rejoin after restart with the same data dir."""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.cluster.nemesis_checks import check_applied, read_applied
from tests.support import (
    ManagedProcess,
    NodeView,
    agreed_leader,
    assert_one_leader_per_term,
    free_port,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
SECRET = "test-cluster-secret"


class Node:
    """One raft_node process; its stdout JSON lines collected by a reader thread."""

    def __init__(self, index: int, port: int, data_dir: Path) -> None:
        self.node_id = f"n{index + 1}"
        self.address = f"{HOSTS[index]}:{port}"
        self.peers = ",".join(f"{h}:{port}" for h in HOSTS)
        self.data_dir = data_dir
        self.statuses: list[dict[str, Any]] = []
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.process = ManagedProcess(
            self.node_id,
            [sys.executable, "-m", "tests.cluster.raft_node", "--bind", self.address]
            + ["--peers", self.peers, "--node-id", self.node_id]
            + ["--data-dir", str(data_dir), "--secret", SECRET],
            log_path=data_dir / f"{self.node_id}.log",
            cwd=ROOT,
            pipe_stdio=True,
        )

    def start(self) -> None:
        self.statuses = []
        self.process.start()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            event = json.loads(line)
            if event["event"] == "status":
                self.statuses.append(event)
            elif event["event"] != "started":
                self.replies.put(event)

    def request(self, **command: Any) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        self.process.stdin.flush()
        return self.replies.get(timeout=10)

    @property
    def status(self) -> dict[str, Any]:
        return self.statuses[-1] if self.statuses else {"state": "starting", "term": -1}

    def view(self) -> NodeView:
        """This node's latest status, as the agreement check reads it (leaders by address)."""
        status = self.status
        return NodeView(
            node_id=self.address,
            state=status["state"],
            term=status["term"],
            leader_id=status.get("leader"),
            cluster_ready=status["state"] in ("leader", "follower"),
        )


def raft_agreement(nodes: list[Node]) -> tuple[str, int] | None:
    """(leader address, term) when every node reports the same leader with quorum."""
    return agreed_leader(node.view() for node in nodes)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    port = free_port(hosts=HOSTS)
    nodes = [Node(i, port, tmp_path) for i in range(3)]
    for node in nodes:
        node.start()
    try:
        yield nodes
    finally:
        for node in nodes:
            node.process.kill()


def test_elect_commit_failover_rejoin(cluster: list[Node]) -> None:
    started = time.monotonic()
    leader_addr, term = wait_for(
        lambda: raft_agreement(cluster), timeout=10, interval=0.01, what="a leader all agree on"
    )
    elected_after = time.monotonic() - started
    leaders_per_term: dict[int, set[str]] = {}
    for node in cluster:
        for s in node.statuses:
            if s["state"] == "leader":
                leaders_per_term.setdefault(s["term"], set()).add(node.address)
    assert_one_leader_per_term(leaders_per_term)
    leader = next(n for n in cluster if n.address == leader_addr)
    assert leader.status["node_ids"] == {n.address: n.node_id for n in cluster}
    assert leader.status["leader_id"] == leader.node_id

    # A proposed command is committed everywhere; a follower cannot propose.
    config = {"yaml": "target: {url: http://127.0.0.1}\n", "sha256": "abc", "source": "test"}
    proposed = leader.request(cmd="propose", command={"config": config})
    assert proposed["ok"], proposed
    follower = next(n for n in cluster if n is not leader)
    refused = follower.request(cmd="propose", command={"run": {"run_id": "r1"}})
    assert not refused["ok"] and "NotLeaderError" in refused["error"]
    for node in cluster:
        wait_for(
            lambda n=node: n.request(cmd="committed")["state"]["config"] == config,
            timeout=5,
            interval=0.01,
            what=f"the config committed on {node.node_id}",
        )

    # Let the follower-to-follower link sit idle past 3.5 s (where pysyncobj's TCP
    # transport loses the first vote request), then kill -9 the leader: the survivors
    # agree on a new one within 2 s.
    time.sleep(4)
    last_term_of_killed = max(s["term"] for s in leader.statuses)
    leader.process.kill()
    killed_at = time.monotonic()
    survivors = [n for n in cluster if n is not leader]
    new_leader, new_term = wait_for(
        lambda: raft_agreement(survivors), timeout=5, interval=0.01, what="a new leader"
    )
    failover = time.monotonic() - killed_at
    assert new_leader != leader_addr and new_term > term
    assert failover <= 2.0, f"failover took {failover:.2f}s"

    # Restarted with the same data dir, it rejoins as a follower; its term never
    # goes backwards (term and vote were persisted), and the config is still there.
    leader.start()
    wait_for(
        lambda: raft_agreement(cluster),
        timeout=10,
        interval=0.01,
        what="the restarted node to rejoin",
    )
    assert leader.status["state"] == "follower"
    assert min(s["term"] for s in leader.statuses) >= last_term_of_killed
    committed = leader.request(cmd="committed")["state"]
    assert committed["config"] == config and committed["term"] >= term
    print(
        f"\nelection after start: {elected_after:.2f}s (term {term}); "
        f"failover after kill -9: {failover:.2f}s (term {term} -> {new_term})"
    )
    assert os.path.isfile(leader.data_dir / leader.node_id / "raft.journal")
    # Every node wrote what it applied, the same at each index; the restarted one too.
    applied = {n.node_id: read_applied(n.data_dir / n.node_id) for n in cluster}
    assert check_applied(applied)[0] == []
    for lines in applied.values():
        kinds = [line.split()[2] for line in lines if line[0].isdigit()]
        assert kinds[:2] == ["fence", "config"], lines
    assert applied[leader.node_id].count("start") == 2


def test_a_leader_killed_right_after_its_election_is_replaced_at_normal_speed(
    cluster: list[Node],
) -> None:
    """A starting node waits 2-3 s before its first candidacy (so a restart does not
    depose a healthy leader), and drops to 0.4-0.8 s once it hears from a leader. The
    election deadline drawn from the first leader message must drop with it: killed
    at once, the first leader of a new cluster is replaced as fast as any other."""
    first = wait_for(
        lambda: next((n for n in cluster if n.status["state"] == "leader"), None),
        timeout=10,
        interval=0.01,
        what="a first leader",
    )
    first.process.kill()
    killed_at = time.monotonic()
    survivors = [n for n in cluster if n is not first]
    wait_for(lambda: raft_agreement(survivors), timeout=10, interval=0.01, what="a new leader")
    failover = time.monotonic() - killed_at
    # 0.8 s (the longest normal timeout) plus a vote round and scheduling; a survivor
    # still on its 2-3 s start-up deadline takes 2 s at least.
    assert failover < 1.6, f"failover took {failover:.2f}s: a start-up deadline survived"
