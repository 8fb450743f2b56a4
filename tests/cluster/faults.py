"""Fault injection for cluster tests: real signals and real iptables rules.

    kill9(pid)                  SIGKILL the process group pid leads (a machine dying)
    sigstop(pid) / sigcont(pid) freeze / thaw that whole group (supervisor and workers)
    partition(addr, others)     drop every packet between addr and others on lo
    heal(partition)             remove exactly those rules
    node_cgroup(name)           a cgroup (v2) of this test process to put one node in
    Faults()                    a context manager that heals everything it did at exit
    faults                      pytest fixture: a Faults cleaned at teardown (import
                                ``faults_fixture`` into a test module to use it)

Every rule carries ``-m comment --comment loadtest-test-<pid>`` (``TAG``), so a
cleanup deletes exactly this test process's rules and never flushes a chain
other people's rules live in. Rules of test processes that died without
cleaning up (SIGKILLed pytest) are removed by ``remove_stale_rules``.

Why cgroups: on loopback a client socket that is not bound explicitly gets the
source address 127.0.0.1 (``ip route get 127.0.0.12`` says ``src 127.0.0.1``),
whatever address its server listens on. grpc-python cannot bind a channel's
source address (grpc/grpc#24035), so a node's outbound Raft traffic carries
127.0.0.1 and address rules alone would miss it. When the processes of each
node run in their own cgroup, ``partition(..., cgroups=...)`` also drops, in
OUTPUT, what a node's processes send to the others' addresses and what the
others send to it: the cut a real network partition between hosts makes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TAG = f"loadtest-test-{os.getpid()}"
_TAG_RE = re.compile(r"--comment (?:\")?loadtest-test-(\d+)(?:\")?(?:\s|$)")
CHAINS = ("INPUT", "OUTPUT")


class FaultError(RuntimeError):
    """iptables or a cgroup did not do what was asked."""


# --- signals ---------------------------------------------------------------------------


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``pid`` leads, or only ``pid`` if it leads none.

    A node is started in its own session (start_new_session), so its group is the
    supervisor plus the worker processes it spawned: what a host would lose at once.
    """
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        if sig is not signal.SIGKILL:
            raise


def kill9(pid: int) -> None:
    """SIGKILL the node's whole process group, as a machine dying would (no cleanup runs)."""
    _signal_group(pid, signal.SIGKILL)


def sigstop(pid: int) -> None:
    """Freeze the node's whole process group: a stalled VM, a long GC or swap storm."""
    _signal_group(pid, signal.SIGSTOP)


def sigcont(pid: int) -> None:
    """Resume what ``sigstop`` froze."""
    _signal_group(pid, signal.SIGCONT)


# --- cgroups -----------------------------------------------------------------------------


def cgroup2_root() -> Path:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or ``.../unified``)."""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            return Path(fields[1])
    raise FaultError("no cgroup2 hierarchy is mounted; node traffic cannot be told apart")


def node_cgroup(name: str) -> str:
    """Create (if needed) this test process's cgroup ``name``; returns its path relative to
    the cgroup2 root, as ``iptables -m cgroup --path`` wants it."""
    relative = f"{TAG}/{name}"
    (cgroup2_root() / relative).mkdir(parents=True, exist_ok=True)
    return relative


def in_cgroup_argv(cgroup: str, argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped so the process enters ``cgroup`` before it runs (so before it opens
    any socket: a socket keeps the cgroup it was created in), then execs in place, keeping
    its pid and process group."""
    procs = cgroup2_root() / cgroup / "cgroup.procs"
    script = f'echo $$ > {shlex.quote(str(procs))} && exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *argv]


def remove_cgroups(tag: str = TAG) -> None:
    """Remove a test process's cgroups; they must be empty (their processes dead)."""
    top = cgroup2_root() / tag
    if not top.is_dir():
        return
    for child in top.iterdir():
        if child.is_dir():
            with contextlib.suppress(OSError):  # still populated: a process outlived its test
                child.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


# --- iptables ----------------------------------------------------------------------------


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # -w: wait for the xtables lock rather than fail when another test edits rules too.
    result = subprocess.run(
        ["iptables", "-w", "5", *args], capture_output=True, text=True, timeout=30
    )
    if check and result.returncode != 0:
        raise FaultError(f"iptables {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class Partition:
    """The rules one ``partition`` call added (each a full rule spec without -A/-D)."""

    side: tuple[str, ...]
    others: tuple[str, ...]
    rules: tuple[tuple[str, ...], ...] = field(repr=False)


def _drop(chain: str, *match: str, tag: str) -> tuple[str, ...]:
    iface = "-i" if chain == "INPUT" else "-o"
    return (chain, iface, "lo", *match, "-m", "comment", "--comment", tag, "-j", "DROP")


def _restore(operation: str, rules: Sequence[tuple[str, ...]]) -> None:
    """Insert (-I) or delete (-D) ``rules`` in one iptables-restore transaction.

    One rule at a time, a partition of several nodes takes a second to set up on a busy
    machine, and meanwhile it is only part of one: a cut-off node could still win votes
    from the nodes not yet cut off, which no real partition allows.
    """
    lines = ["*filter", *(f"{operation} {shlex.join(rule)}" for rule in rules), "COMMIT", ""]
    result = subprocess.run(
        ["iptables-restore", "--noflush", "-w", "5"],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise FaultError(f"iptables-restore {operation} failed: {result.stderr.strip()}")


def partition(
    side: str | Sequence[str],
    others: Sequence[str],
    *,
    cgroups: Mapping[str, str] | None = None,
    tag: str = TAG,
) -> Partition:
    """Cut the address ``side`` (or each of several) off from every address in ``others``,
    both ways, with DROP (so a connect times out, as across a real partition, rather than
    being refused); all rules at once. Addresses within ``side`` still reach each other.

    ``cgroups`` maps addresses to the cgroup their node runs in (see the module doc): given
    it, packets sent by a side node to the others, and by the others' nodes to the side,
    are dropped too, whatever source address their sockets got.
    """
    addrs = (side,) if isinstance(side, str) else tuple(side)
    rules: list[tuple[str, ...]] = []
    for addr in addrs:
        for other in others:
            for chain in CHAINS:
                rules.append(_drop(chain, "-s", addr, "-d", other, tag=tag))
                rules.append(_drop(chain, "-s", other, "-d", addr, tag=tag))
            if cgroups:
                if addr in cgroups:
                    rules.append(
                        _drop(
                            "OUTPUT", "-d", other, "-m", "cgroup", "--path", cgroups[addr], tag=tag
                        )
                    )
                if other in cgroups:
                    rules.append(
                        _drop(
                            "OUTPUT", "-d", addr, "-m", "cgroup", "--path", cgroups[other], tag=tag
                        )
                    )
    _restore("-I", rules)
    return Partition(addrs, tuple(others), tuple(rules))


def heal(cut: Partition) -> None:
    """Remove exactly the rules ``cut`` added (one instance each), all at once."""
    _restore("-D", cut.rules)


def tagged_rules(tag: str | None = TAG) -> list[str]:
    """``iptables -S`` lines carrying ``tag`` (None: any loadtest-test-<pid> tag)."""
    lines = _iptables("-S").stdout.splitlines()
    if tag is None:
        return [line for line in lines if _TAG_RE.search(line)]
    return [line for line in lines if _has_tag(line, tag)]


def _has_tag(line: str, tag: str) -> bool:
    # Exact token match: loadtest-test-12 must not match loadtest-test-123.
    words = shlex.split(line)
    return any(a == "--comment" and b == tag for a, b in zip(words, words[1:], strict=False))


def remove_rules(tag: str = TAG) -> int:
    """Delete every rule carrying ``tag``; returns how many. Never touches other rules."""
    removed = 0
    for line in tagged_rules(tag):
        words = shlex.split(line)
        if words[:1] != ["-A"]:
            continue
        spec = words[1:]
        # A cgroup match is resolved when the rule is parsed, so its cgroup must exist
        # for -D to name the rule; recreate it if it went already.
        for a, b in zip(spec, spec[1:], strict=False):
            if a == "--path":
                (cgroup2_root() / b).mkdir(parents=True, exist_ok=True)
        _iptables("-D", *spec)
        removed += 1
    return removed


def remove_stale_rules() -> int:
    """Delete rules and cgroups tagged by loadtest-test processes that no longer exist
    (a test run killed before its teardown); rules of live processes are left alone."""
    removed = 0
    stale: set[str] = set()
    for line in tagged_rules(None):
        match = _TAG_RE.search(line)
        if match and not _pid_alive(int(match.group(1))):
            stale.add(f"loadtest-test-{match.group(1)}")
    with contextlib.suppress(FaultError):
        root = cgroup2_root()
        for entry in root.glob("loadtest-test-*"):
            pid = entry.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                stale.add(entry.name)
    for tag in stale:
        removed += remove_rules(tag)
        remove_cgroups(tag)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Faults:
    """Partitions made through it are healed, and this process's tagged rules and
    cgroups removed, when the ``with`` block ends, failing test or not."""

    def __init__(self, tag: str = TAG) -> None:
        self.tag = tag
        self.partitions: list[Partition] = []

    def partition(
        self,
        side: str | Sequence[str],
        others: Sequence[str],
        *,
        cgroups: Mapping[str, str] | None = None,
    ) -> Partition:
        cut = partition(side, others, cgroups=cgroups, tag=self.tag)
        self.partitions.append(cut)
        return cut

    def heal(self, cut: Partition | None = None) -> None:
        """Heal one partition, or all of them."""
        for done in [cut] if cut is not None else list(self.partitions):
            heal(done)
            self.partitions.remove(done)

    def cleanup(self) -> None:
        self.partitions.clear()
        remove_rules(self.tag)
        remove_cgroups(self.tag)
        left = tagged_rules(self.tag)
        if left:
            raise FaultError(f"tagged rules left after cleanup: {left}")

    def __enter__(self) -> Faults:
        remove_stale_rules()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@contextlib.contextmanager
def faults_context() -> Iterator[Faults]:
    with Faults() as active:
        yield active


@pytest.fixture(name="faults")
def faults_fixture() -> Iterator[Faults]:
    """A ``Faults`` whose rules and cgroups are removed at teardown, pass or fail."""
    with faults_context() as active:
        yield active
