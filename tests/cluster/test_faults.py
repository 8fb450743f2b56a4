"""The fault tools really cut, freeze and kill: checked against real demo targets.

Two ``loadtest_supervisor.demo.target`` processes listen on 127.0.0.21 and 127.0.0.22 (the
cluster tests use .11-.15, so these never touch them), each in its own session.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadtest_supervisor.demo.target import target_command
from tests.cluster.faults import (
    TAG,
    Faults,
    faults_context,
    faults_fixture,  # noqa: F401  (the ``faults`` fixture)
    in_cgroup_argv,
    kill9,
    node_cgroup,
    partition,
    sigcont,
    sigstop,
    tagged_rules,
)
from tests.support import ManagedProcess, free_port, port_accepts

A, B = "127.0.0.21", "127.0.0.22"
CUT_TIMEOUT_S = 1.0  # a dropped SYN is never answered: any timeout proves the cut


@dataclass
class Target:
    host: str
    port: int
    process: ManagedProcess


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[dict[str, Target]]:
    port = free_port(hosts=[A, B])
    started: dict[str, Target] = {}
    try:
        for host in (A, B):
            process = ManagedProcess(
                f"demo-{host}",
                target_command(host, port),
                log_path=tmp_path / f"demo-{host}.log",
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            ).start()
            started[host] = Target(host, port, process)
            process.wait_ready(lambda h=host: port_accepts(h, port), timeout=20)
        yield started
    finally:
        for target in started.values():
            target.process.stop()


def connect(dst: Target, src: str | None = None, timeout: float = CUT_TIMEOUT_S) -> str:
    """'ok' if a TCP connection from ``src`` (bound) to ``dst`` is made, else 'timeout'."""
    with socket.socket() as sock:
        if src is not None:
            sock.bind((src, 0))
        sock.settimeout(timeout)
        try:
            sock.connect((dst.host, dst.port))
        except TimeoutError:
            return "timeout"
        return "ok"


def get(dst: Target, timeout: float = CUT_TIMEOUT_S) -> int | str:
    """Status of GET / from 127.0.0.1, or 'timeout'."""
    conn = http.client.HTTPConnection(dst.host, dst.port, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except TimeoutError:
        return "timeout"
    finally:
        conn.close()


def test_partition_cuts_both_ways_and_heal_restores(
    targets: dict[str, Target], faults: Faults
) -> None:
    a, b = targets[A], targets[B]
    assert (connect(b, src=A), connect(a, src=B)) == ("ok", "ok")

    cut = faults.partition(A, [B])

    assert connect(b, src=A) == "timeout"  # .21 -> .22
    assert connect(a, src=B) == "timeout"  # .22 -> .21
    # Only .21 <-> .22 is cut: the test (127.0.0.1) still reaches both.
    assert connect(b, src="127.0.0.1") == "ok"
    assert (get(a), get(b)) == (200, 200)
    assert len(tagged_rules()) == len(cut.rules) == 4  # INPUT and OUTPUT, both directions

    faults.heal(cut)

    assert (connect(b, src=A), connect(a, src=B)) == ("ok", "ok")
    assert tagged_rules() == []


def test_partition_by_cgroup_cuts_a_processs_unbound_sockets(
    targets: dict[str, Target], faults: Faults
) -> None:
    """A client that does not bind (as grpc-python's cannot) connects from 127.0.0.1;
    the cgroup rule still cuts it, and only it."""
    b = targets[B]
    cgroup = node_cgroup("client-a")
    probe = (
        "import socket,sys\n"
        "s=socket.socket(); s.settimeout(1.0)\n"
        f"try: s.connect(({B!r},{b.port})); print('ok', s.getsockname()[0])\n"
        "except TimeoutError: print('timeout')\n"
    )

    def client_in_cgroup() -> str:
        argv = in_cgroup_argv(cgroup, [sys.executable, "-c", probe])
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()

    assert client_in_cgroup() == "ok 127.0.0.1"  # unbound: the kernel picked 127.0.0.1

    faults.partition(A, [B], cgroups={A: cgroup})

    assert client_in_cgroup() == "timeout"
    assert connect(b) == "ok"  # the same kind of socket outside the cgroup is not cut

    faults.heal()

    assert client_in_cgroup() == "ok 127.0.0.1"


def test_sigstop_freezes_and_sigcont_resumes(targets: dict[str, Target]) -> None:
    b = targets[B]
    assert get(b) == 200

    sigstop(b.process.pid)
    try:
        # The kernel still completes the handshake (the listen backlog), but nobody answers.
        assert get(b) == "timeout"
    finally:
        sigcont(b.process.pid)

    assert get(b, timeout=5) == 200


def test_kill9_kills_the_group(targets: dict[str, Target]) -> None:
    a = targets[A]
    kill9(a.process.pid)
    assert a.process.wait(timeout=10) == -9
    with pytest.raises(ConnectionRefusedError):
        connect(a)


def test_cleanup_removes_every_rule_even_when_the_test_fails(targets: dict[str, Target]) -> None:
    with pytest.raises(RuntimeError, match="test failed"):
        with faults_context() as active:
            active.partition(A, [B])
            active.partition(B, [A])  # the same rules twice over: both instances must go
            node_cgroup("node-x")
            assert len(tagged_rules()) == 8
            raise RuntimeError("test failed")

    assert tagged_rules() == []
    assert connect(targets[B], src=A) == "ok"
    # A partition made without the context manager is found by its tag too.
    partition(A, [B])
    Faults().cleanup()
    assert tagged_rules() == []
    listing = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True)
    tagged = [line for line in listing.stdout.splitlines() if "loadtest-test" in line]
    # Empty, unless another test run is live right now (its own pid in its tag).
    assert all(TAG not in line and _owner_alive(line) for line in tagged), tagged


def _owner_alive(line: str) -> bool:
    pid = int(line.split("loadtest-test-", 1)[1].split()[0].strip('"'))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
