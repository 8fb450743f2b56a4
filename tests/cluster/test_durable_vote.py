"""Term and vote are durable before a vote is answered, and no node votes twice in a term.

Real ``loadtest-supervisor`` nodes, real kill -9 and, for the fsyncs, the node's real
system calls traced by strace. Every vote a node grants or casts for itself is logged
(``event=raft_voted term=T candidate=ADDR``), and the logs are kept across restarts.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# Through our raft package: it puts back the socket.inet_ntop that importing pysyncobj
# replaces process-wide (pysyncobj/win_inet_pton.py), which broke psutil in later tests.
from loadtest_supervisor.plugins.raft.durable_meta import MetaStorer
from tests.cluster.fault_harness import FaultHarness
from tests.cluster.harness import NodeProcess
from tests.engine.cli import cli_path
from tests.support import wait_for

FORM_S = 20.0
KILLS = 4  # votes followed at once by kill -9 of the voter
MAX_ROUNDS = 12  # a round's election may be won without a grant to watch (self votes)
_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def _vote(line: str) -> tuple[int, str, bool] | None:
    """(term, candidate, self vote) if ``line`` is a ``raft_voted`` log line."""
    if "event=raft_voted " not in line:
        return None
    fields = dict(_FIELD.findall(line))
    return int(fields["term"]), fields["candidate"], fields["self_vote"] == "True"


def _votes(node: NodeProcess) -> list[tuple[int, str, bool]]:
    """Every vote in the node's log, restarts included."""
    return [vote for line in node.log().splitlines() if (vote := _vote(line))]


def _meta(node: NodeProcess) -> dict[str, object]:
    return MetaStorer(str(node.data_dir / node.node_id / "raft.journal.meta")).getMeta()


class _KillAfterVote:
    """Tails a node's log and kill -9s it the moment it logs a vote granted to another
    node (logged after the vote is stored, just before the answer is sent)."""

    def __init__(self, cluster: FaultHarness, node: NodeProcess) -> None:
        self.cluster = cluster
        self.node = node
        self.offset = node.log_path.stat().st_size if node.log_path.exists() else 0
        self.killed: tuple[int, str] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        with open(self.node.log_path, "rb") as log:
            log.seek(self.offset)
            pending = b""
            while not self._stop.is_set():
                pending += log.read()
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    vote = _vote(line.decode(errors="replace"))
                    if vote is not None and not vote[2]:
                        self.cluster.kill9(self.node)
                        self.killed = vote[:2]
                        return
                time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.mark.timeout(240)
def test_a_node_killed_right_after_voting_never_votes_twice_in_a_term(
    fault_cluster: Callable[..., FaultHarness],
) -> None:
    cluster = fault_cluster()
    cluster.start(3, delay=0.2)
    cluster.wait_agreed(timeout=FORM_S)

    killed: list[tuple[str, int, str]] = []
    for _ in range(MAX_ROUNDS):
        if len(killed) >= KILLS:
            break
        leader, _, _ = cluster.wait_agreed(timeout=FORM_S)
        watchers = [_KillAfterVote(cluster, n) for n in cluster.nodes if n.node_id != leader]
        cluster.kill9(cluster.node_by_id(leader))  # the survivors hold an election
        try:
            wait_for(
                lambda ws=watchers: any(w.killed for w in ws),
                timeout=5,
                interval=0.01,
                what="a vote",
            )
        except AssertionError:
            pass  # won by a self vote and a grant in flight; the next round will do
        for watcher in watchers:
            watcher.stop()
        for watcher in watchers:
            if watcher.killed is None:
                continue
            term, candidate = watcher.killed
            killed.append((watcher.node.node_id, term, candidate))
            # What it stored before answering is on disk: that vote, in that term.
            stored = _meta(watcher.node)
            assert (stored["currentTerm"], stored["votedForNodeId"]) == (term, candidate), (
                watcher.node.node_id,
                stored,
            )
        for node in cluster.nodes:
            if not node.running():
                cluster.restart(node)
        cluster.wait_agreed(timeout=FORM_S)

    votes = {node.node_id: _votes(node) for node in cluster.nodes}
    twice = {
        (node_id, term): sorted({c for t, c, _ in cast if t == term})
        for node_id, cast in votes.items()
        for term in {t for t, _, _ in cast}
        if len({c for t, c, _ in cast if t == term}) > 1
    }
    print(f"\nkilled right after voting: {killed}; votes logged: {votes}")
    assert len(killed) >= KILLS, f"only {len(killed)} votes caught: {votes}\n{cluster}"
    assert twice == {}, f"voted for two candidates in one term: {twice}\n{cluster}"
    cluster.assert_one_leader_per_term()


_TRACED = ("openat", "fsync", "rename", "renameat", "renameat2")


@pytest.mark.timeout(120)
def test_term_and_vote_are_fsynced_before_the_vote_is_answered(
    fault_cluster: Callable[..., FaultHarness], tmp_path: Path
) -> None:
    """strace shows every store of the meta file as: write and fsync the temporary file,
    rename it over the meta file, fsync the directory; and one such store per vote."""
    trace = tmp_path / "strace.txt"
    strace = ["strace", "-f", "-qq", "--seccomp-bpf", "-y", "-e", f"trace={','.join(_TRACED)}"]
    cluster = fault_cluster()
    cluster.start(3, order=[])
    traced = cluster.node(0)
    traced.process.argv[-1:] = [*strace, "-o", str(trace), str(cli_path())]
    for node in cluster.nodes:
        node.start()
    leader, _, _ = cluster.wait_agreed(timeout=FORM_S)
    if leader != traced.node_id:  # one more election, so the traced node votes again
        cluster.kill9(cluster.node_by_id(leader))
        cluster.wait_agreed(timeout=FORM_S, nodes=cluster.running(), not_leader=leader)
    votes = _votes(traced)
    assert votes, traced.log_tail()
    time.sleep(0.5)  # strace writes its file as the calls return

    meta_dir = str(traced.data_dir / traced.node_id)
    meta = f"{meta_dir}/raft.journal.meta"
    stores = _meta_stores(trace.read_text(), meta, meta_dir)
    assert len(stores) >= len(votes), (stores, votes)
    assert all(steps == ["fsync tmp", "rename", "fsync dir"] for steps in stores), stores


def _meta_stores(trace: str, meta: str, meta_dir: str) -> list[list[str]]:
    """Each rename of ``meta``.tmp over ``meta``, with what its thread did to the two
    files and their directory just before and just after it."""
    by_thread: dict[str, list[str]] = {}
    for line in trace.splitlines():
        tid, _, call = line.partition(" ")
        if f"fsync({meta}" in call or re.search(r"fsync\(\d+<" + re.escape(meta), call):
            step = "fsync tmp" if ".tmp>" in call else "fsync meta"
        elif re.search(r"fsync\(\d+<" + re.escape(meta_dir) + ">", call):
            step = "fsync dir"
        elif "rename" in call and f'"{meta}.tmp"' in call and "resumed" not in call:
            step = "rename"
        else:
            continue
        by_thread.setdefault(tid, []).append(step)
    stores = []
    for steps in by_thread.values():
        for i, step in enumerate(steps):
            if step == "rename":
                stores.append(steps[max(i - 1, 0) : i + 2])
    return stores
