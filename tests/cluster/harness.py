"""N real ``loadtest-supervisor`` cluster nodes on loopback, as on N hosts.

    with ClusterHarness(tmp_path, env={"CLUSTER_SECRET": "s"}) as cluster:
        cluster.start(3, order=[2, 0, 1], delay=0.5)
        leader_id, term = cluster.wait_for_agreement(timeout=30)
        cluster.node_by_id(leader_id).kill9()
        cluster.wait_for_agreement(timeout=30)   # polls the running nodes only

Node i (0-based) listens on 127.0.0.(11+i): every node uses the same gRPC and
health ports on its own address, as real hosts would. Each node has its id
(node-11, node-12, ...), its data dir and its log file under the test's tmp_path,
and runs in its own process group; every group is killed when the harness closes,
pass or fail. Every health poll is remembered, so a test can check that no term
ever had two leaders (``leaders_by_term``).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.engine.cli import cli_path
from tests.support import (
    ManagedProcess,
    assert_one_leader_per_term,
    free_port,
    health_agreement,
    wait_for,
)

FIRST_HOST = 11  # node 0 is 127.0.0.11
HEALTH_TIMEOUT_S = 2.0  # what a Consul check would allow


def node_host(index: int) -> str:
    return f"127.0.0.{FIRST_HOST + index}"


class NodeProcess:
    """One node: a ``loadtest-supervisor`` process with CLUSTER_ENABLED=true."""

    def __init__(
        self,
        index: int,
        env: Mapping[str, str],
        workdir: Path,
        grpc_port: int,
        health_port: int,
        command: Sequence[str] | None = None,
    ) -> None:
        self.index = index
        self.host = node_host(index)
        self.node_id = f"node-{FIRST_HOST + index}"
        self.grpc_addr = f"{self.host}:{grpc_port}"
        self.health_addr = f"{self.host}:{health_port}"
        self.data_dir = workdir / self.node_id / "data"
        self.env = {
            **env,
            "CLUSTER_BIND_ADDR": self.grpc_addr,
            "CLUSTER_HEALTH_ADDR": self.health_addr,
            "CLUSTER_NODE_ID": self.node_id,
            "CLUSTER_DATA_DIR": str(self.data_dir),
        }
        self.process = ManagedProcess(
            self.node_id,
            list(command or [cli_path()]),
            log_path=workdir / self.node_id / "node.log",
            env=self.env,
            cwd=workdir,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def start(self) -> NodeProcess:
        """Start (or restart: same id, addresses and data dir)."""
        self.process.start()
        return self

    def running(self) -> bool:
        return self.process.running()

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the node's whole process group."""
        self.process.send_signal(sig, group=True)

    def kill9(self) -> int | None:
        """SIGKILL, as a machine dying would; returns the exit code."""
        return self.process.kill()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL after ``timeout``; returns the exit code."""
        return self.process.stop(timeout)

    def health(self, timeout: float = HEALTH_TIMEOUT_S) -> dict[str, Any]:
        """GET /health/cluster; raises when the node does not answer in ``timeout``."""
        url = f"http://{self.health_addr}/health/cluster"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())

    def log(self) -> str:
        """Everything the node has logged so far."""
        return self.log_path.read_text()

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines)


def _health_or_error(node: NodeProcess) -> dict[str, Any] | Exception:
    try:
        return node.health()
    except Exception as exc:  # a down or stalled node is an answer too
        return exc


class ClusterHarness:
    """Starts, inspects and kills the nodes of one test's cluster."""

    def __init__(
        self,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        grpc_port: int | None = None,
        health_port: int | None = None,
        command: Sequence[str] | None = None,
        poll_threads: int = 1,
    ) -> None:
        """``command`` runs each node (default: the ``loadtest-supervisor`` CLI);
        ``poll_threads`` ask the nodes' health side by side (a fleet's sweep)."""
        self.workdir = workdir
        self.command = command
        self.poll_threads = poll_threads
        self.env = dict(env or {})
        self.grpc_port = grpc_port
        self.health_port = health_port
        self.nodes: list[NodeProcess] = []
        self.leaders_by_term: dict[int, set[str]] = {}

    def __enter__(self) -> ClusterHarness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(
        self,
        n: int,
        order: Sequence[int] | None = None,
        delay: float = 0.0,
        node_env: Callable[[int], Mapping[str, str]] | None = None,
    ) -> list[NodeProcess]:
        """Create n nodes that all list each other, and start them in ``order``
        (node indexes), ``delay`` seconds apart; ``node_env(i)`` adds to node i's
        environment."""
        hosts = [node_host(i) for i in range(n)]
        self.grpc_port = self.grpc_port or free_port(hosts=hosts)
        self.health_port = self.health_port or free_port(hosts=hosts)
        peers = ",".join(f"{h}:{self.grpc_port}" for h in hosts)
        env = {
            **{k: v for k, v in os.environ.items() if k != "TARGET_URL"},
            "CLUSTER_ENABLED": "true",
            "DISCOVERY_MODE": "static",
            "CLUSTER_NODES": peers,
            **self.env,
        }
        self.nodes = [
            NodeProcess(
                i,
                {**env, **(node_env(i) if node_env else {})},
                self.workdir,
                self.grpc_port,
                self.health_port,
                self.command,
            )
            for i in range(n)
        ]
        for position, index in enumerate(order if order is not None else range(n)):
            if position and delay:
                time.sleep(delay)
            self.nodes[index].start()
        return self.nodes

    def node(self, index: int) -> NodeProcess:
        return self.nodes[index]

    def node_by_id(self, node_id: str) -> NodeProcess:
        return next(node for node in self.nodes if node.node_id == node_id)

    def running(self) -> list[NodeProcess]:
        return [node for node in self.nodes if node.running()]

    def all_health(self, nodes: Iterable[NodeProcess] | None = None) -> dict[str, Any]:
        """Each node's health document by node id; the exception when it did not answer."""
        asked = self.running() if nodes is None else list(nodes)
        with ThreadPoolExecutor(self.poll_threads) as pool:
            answers = pool.map(_health_or_error, asked)
        documents = {node.node_id: answer for node, answer in zip(asked, answers, strict=True)}
        for node_id, document in documents.items():
            if isinstance(document, dict) and document.get("state") == "leader":
                self.leaders_by_term.setdefault(document["term"], set()).add(node_id)
        return documents

    def all_show(self, check: Callable[[dict[str, Any]], bool]) -> bool:
        """Whether every running node answers health, and ``check`` holds for each answer."""
        docs = self.all_health()
        return bool(docs) and all(isinstance(d, dict) and check(d) for d in docs.values())

    def wait_for_agreement(
        self, timeout: float, nodes: Sequence[NodeProcess] | None = None
    ) -> tuple[str, int]:
        """Poll until every node (default: the running ones) is cluster_ready with the
        same leader and term, and exactly one of them says ``leader``; returns
        (leader_id, term). Raises AssertionError with the last answers and logs."""
        last: dict[str, Any] = {}

        def agreed() -> tuple[str, int] | None:
            last.clear()
            last.update(self.all_health(list(nodes) if nodes is not None else self.running()))
            return health_agreement(last)

        return wait_for(
            agreed,
            timeout=timeout,
            interval=0.1,
            what="the nodes to agree on a leader",
            detail=lambda: f"last health: {last}\n{self}",
        )

    def leaders_per_term(self) -> dict[int, set[str]]:
        """Every node seen saying ``leader``, by term."""
        return self.leaders_by_term

    def assert_one_leader_per_term(self) -> dict[int, str]:
        """Fail if any term had two leaders; returns each term's leader."""
        return assert_one_leader_per_term(self.leaders_per_term(), context=str(self))

    def close(self) -> None:
        """Kill every node's process group (safe to call twice)."""
        for node in self.nodes:
            node.kill9()

    def __str__(self) -> str:
        """Each node's log tail, for failure messages."""
        return "\n".join(
            f"--- {node.node_id} log tail:\n{node.log_tail(15)}" for node in self.nodes
        )
