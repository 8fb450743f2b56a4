"""Fleet benchmark (issue 16): formation, failover, the leader's cost and an idle member's cost
of a fleet of N real nodes with a few voters, on this machine's loopback.

N real ``loadtest-supervisor`` nodes (tests/cluster/harness.py: node i on 127.0.0.(11+i),
static discovery, ``CLUSTER_VOTERS=--voters``, metrics pushed every second). All but
``--real`` of them are load-free: they replay a recorded run's snapshots
(``LOADTEST_TEST_REPLAY_METRICS``, a fake for tests and benchmarks only,
tests/cluster/fleet_recording.jsonl: ~100 req/s), so N nodes fit on 2 cores; the real ones
load the tests' nginx at 100 req/s each. Measured:
  1. Formation: from launching all N at once until every node is ``leader`` or
     ``follower`` (members are followers) of one leader; also from the moment every
     node answers its health, and the nodes' CPU to get there.
  2. Idle (no plan yet), ``--idle`` s: each node's own CPU (utime + stime of its process,
     /proc) and RSS; the leader's bytes/s in and out on its cluster connections (``ss``).
  3. A run: an Rps plan of 100/s per node for ``--seconds`` s; from 5 s in to 2 s before
     its end, the leader's CPU and bytes/s in and out; the final cluster document must
     count every node.
  4. Failover, ``--kills`` times: kill -9 of the leader; from the kill until the voters
     name one new leader, and until every survivor does, read from each node's own
     ``state_changed`` log line (its ``ts``, ms), not from polling (polling 100 nodes
     fast would be most of the machine's load); then the node is restarted and rejoins.
With ``--small M`` (default 10) a fleet of M runs 1-3 first: the leader's cost per
node is the difference, for the projection to 100 and 1,000 nodes.

    .venv/bin/python -m bench.fleet                  # 100 nodes, writes bench/RESULTS.md
    .venv/bin/python -m bench.fleet --quick          # 12 nodes, 2 kills, prints only

Goals (issue 16): formation <= 30 s; failover median <= 1 s, max <= 2 s; leader CPU in a
run <= 25 % of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.cluster_metrics import grpc_sent
from bench.failover import fmt
from bench.results_md import replace_section
from loadtest_supervisor.engine.replayed_load import REPLAY_ENV
from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.fleet_recording import RECORDING
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_results import final_results, run_of
from tests.services import Nginx
from tests.support import health_agreement, wait_for

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN fleet -->", "<!-- END fleet -->"
SECRET = "bench-fleet-secret"
RPS_PER_NODE = 100  # as the recording replayed
METRICS_INTERVAL = "1s"  # every node pushes its report this often, as the issue asks
FORM_TIMEOUT_S = 300.0
AGREE_TIMEOUT_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
GOAL_FORM_S, GOAL_MEDIAN_S, GOAL_MAX_S, GOAL_LEADER_CPU = 30.0, 1.0, 2.0, 0.25
_NAMED = re.compile(
    r"^ts=(\S+)Z .*event=state_changed old=\S+ new=(?:leader|follower) leader_id=(\S+)"
)


@dataclass
class Window:
    """One process's CPU (share of one core) and the leader's cluster bytes/s in a window."""

    cpu: dict[str, float]  # node id -> share of one core
    leader_in: float
    leader_out: float


@dataclass
class FleetResult:
    nodes: int
    voters: int
    real: int
    form_s: float = 0.0  # launch -> one leader named by every node
    answer_s: float = 0.0  # launch -> every node answers its health
    start_cpu_s: float = 0.0  # mean CPU s per node until formed
    leader: str = ""
    roles: dict[str, str] = field(default_factory=dict)
    rss_kb: dict[str, int] = field(default_factory=dict)
    idle: Window | None = None
    run: Window | None = None
    shared_nodes: int = 0  # nodes given a share when the run was committed
    counted_nodes: int = 0  # nodes in the final cluster document
    # The Raft term before the run, at the end of its measured window, once it is final.
    run_terms: tuple[int, int, int] = (0, 0, 0)
    held: bool = False  # the leader before the run still led at the end of the window
    raft_failover_s: list[float] = field(default_factory=list)  # the voters
    fleet_failover_s: list[float] = field(default_factory=list)  # every survivor
    failed_kills: int = 0

    @property
    def one_leader(self) -> bool:
        """The run kept its leader: its figures are one leader's."""
        return self.held

    def members(self) -> list[str]:
        return [n for n, role in self.roles.items() if role == "member"]

    def member_cpu(self) -> float:
        assert self.idle is not None
        return statistics.median(self.idle.cpu[n] for n in self.members())

    def member_rss_mb(self) -> float:
        return statistics.median(self.rss_kb[n] for n in self.members()) / 1024

    def leader_cpu(self, window: Window | None) -> float:
        assert window is not None
        return window.cpu[self.leader]


def proc_cpu_s(pid: int) -> float:
    """User + sys CPU seconds of the process itself (its load workers not included)."""
    data = Path(f"/proc/{pid}/stat").read_bytes()
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB


def measure(cluster: ClusterHarness, leader: NodeProcess, seconds: float) -> Window:
    nodes = cluster.running()
    port = cluster.grpc_port or 0
    pid = {leader.node_id: leader.pid}
    cpu0 = {n.node_id: proc_cpu_s(n.pid) for n in nodes}
    in0, out0 = grpc_sent(pid, port, "bytes_received"), grpc_sent(pid, port)
    began = time.monotonic()
    time.sleep(seconds)
    cpu1 = {n.node_id: proc_cpu_s(n.pid) for n in nodes}
    in1, out1 = grpc_sent(pid, port, "bytes_received"), grpc_sent(pid, port)
    took = time.monotonic() - began
    node = leader.node_id
    return Window(
        {k: (cpu1[k] - cpu0[k]) / took for k in cpu0},
        (in1[node] - in0[node]) / took,
        (out1[node] - out0[node]) / took,
    )


def agreement(cluster: ClusterHarness, timeout: float, since: float) -> tuple[str, float, float]:
    """Wait until every running node answers and names one leader: (leader id, seconds
    from ``since`` until every node first answered, until they agreed)."""
    answered: list[float] = []

    def agreed() -> tuple[str, int] | None:
        health = cluster.all_health()
        if not answered and all(isinstance(doc, dict) for doc in health.values()):
            answered.append(time.monotonic() - since)
        return health_agreement(health)

    leader, _ = wait_for(agreed, timeout=timeout, interval=0.5, what="the fleet to agree")
    done = time.monotonic() - since
    return leader, (answered or [done])[0], done


def named_at(node: NodeProcess, leader: str, after: float) -> float | None:
    """When (Unix time, from its log) ``node`` first named ``leader`` after ``after``."""
    for line in node.log().splitlines():
        found = _NAMED.match(line)
        if found and found.group(2) == leader:
            at = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
            if at.timestamp() > after:
                return at.timestamp()
    return None


def failover(cluster: ClusterHarness, result: FleetResult, rep: int) -> None:
    leader, _, _ = agreement(cluster, AGREE_TIMEOUT_S, time.monotonic())
    victim = cluster.node_by_id(leader)
    killed = time.time()
    victim.kill9()
    try:
        new_leader, _, _ = agreement(cluster, AGREE_TIMEOUT_S, time.monotonic())
    except AssertionError:
        result.failed_kills += 1
        print(f"  kill {rep + 1}: no agreement within {AGREE_TIMEOUT_S:.0f} s", flush=True)
    else:
        survivors = cluster.running()
        times = {n.node_id: named_at(n, new_leader, killed) for n in survivors}
        voters = [t for n, t in times.items() if result.roles.get(n) == "voter" and t]
        every = [t for t in times.values() if t]
        if len(every) < len(survivors):
            result.failed_kills += 1  # a survivor agreed without logging it: not measured
        else:
            result.raft_failover_s.append(max(voters) - killed)
            result.fleet_failover_s.append(max(every) - killed)
            print(
                f"  kill {rep + 1}: {leader} -> {new_leader}: voters "
                f"{result.raft_failover_s[-1]:.3f} s, all {len(survivors)} survivors "
                f"{result.fleet_failover_s[-1]:.3f} s",
                flush=True,
            )
    victim.start()  # same id, addresses and data dir: it rejoins as a voter
    agreement(cluster, AGREE_TIMEOUT_S, time.monotonic())
    time.sleep(2.0)  # the rejoined voter's links settle before the next kill


def run_fleet(
    n: int, args: argparse.Namespace, workdir: Path, nginx: Nginx, kills: int
) -> FleetResult:
    result = FleetResult(n, args.voters, min(args.real, n))
    replaying = n - result.real
    env = {
        "CLUSTER_SECRET": SECRET,
        "CLUSTER_API_TOKEN": TOKEN,
        "CLUSTER_VOTERS": str(args.voters),
        "CLUSTER_METRICS_INTERVAL": METRICS_INTERVAL,
    }
    with ClusterHarness(workdir / f"fleet-{n}", env=env, poll_threads=16) as cluster:
        launched = time.monotonic()
        cluster.start(n, node_env=lambda i: {REPLAY_ENV: str(RECORDING)} if i < replaying else {})
        leader_id, result.answer_s, result.form_s = agreement(cluster, FORM_TIMEOUT_S, launched)
        result.start_cpu_s = statistics.mean(proc_cpu_s(node.pid) for node in cluster.nodes)
        print(f"  {n} nodes formed in {result.form_s:.1f} s", flush=True)
        result.leader = leader_id
        leader = cluster.node_by_id(leader_id)
        health = cluster.all_health()
        result.roles = {node_id: doc["role"] for node_id, doc in health.items()}
        time.sleep(3.0)  # the members' streams and the clocks settle
        result.rss_kb = {node.node_id: proc_rss_kb(node.pid) for node in cluster.nodes}
        result.idle = measure(cluster, leader, args.idle)

        plan = (
            f"target: {{url: '{nginx.url}/'}}\n"
            f"load: {{model: Rps, target_rps: {RPS_PER_NODE * n}, duration: {args.seconds}s, "
            "workers: 1}\n"
        )
        term_before = leader.health()["term"]
        status, reply = post_run(leader, plan.encode(), TOKEN)
        if status != 200:
            raise RuntimeError(f"POST /runs: {status} {reply}")
        run = run_of(leader)
        result.shared_nodes = len(run["shares"])
        time.sleep(max(0.0, run["start_at"] + 5.0 - time.time()))
        result.run = measure(cluster, leader, max(args.seconds - 7.0, 1.0))
        try:
            after_window = leader.health()
        except OSError:  # a starved leader did not answer in time: it is no measure
            after_window = {"state": None, "term": -1}
        result.held = (after_window["state"], after_window["term"]) == ("leader", term_before)
        final = wait_for(
            lambda: final_results(leader, run["run_id"]),
            timeout=args.seconds + AGREE_TIMEOUT_S,
            what="the final cluster results",
        )
        result.counted_nodes = len(final["nodes"])
        _, term_after = cluster.wait_for_agreement(AGREE_TIMEOUT_S)
        result.run_terms = (term_before, after_window["term"], term_after)
        print(
            f"  run: leader {result.leader_cpu(result.run):.1%} of a core, "
            f"{result.run.leader_in:,.0f} B/s in, {result.run.leader_out:,.0f} B/s out, "
            f"{result.counted_nodes} nodes counted",
            flush=True,
        )
        for rep in range(kills):
            failover(cluster, result, rep)
    return result


def per_node(big: FleetResult, small: FleetResult | None, value: str) -> tuple[float, float]:
    """(intercept, slope per node) of a leader figure between the two fleets' runs."""
    figures = {
        "cpu": lambda r: r.leader_cpu(r.run),
        "in": lambda r: r.run.leader_in,
        "out": lambda r: r.run.leader_out,
    }[value]
    if small is None or small.nodes == big.nodes:
        return 0.0, figures(big) / big.nodes
    slope = (figures(big) - figures(small)) / (big.nodes - small.nodes)
    return figures(big) - slope * big.nodes, slope


def render(
    big: FleetResult, small: FleetResult | None, args: argparse.Namespace, command: str
) -> str:
    assert big.idle is not None and big.run is not None
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    voters = [n for n, r in big.roles.items() if r == "voter" and n != big.leader]
    lines = [
        BEGIN,
        "## Fleet (bench/fleet.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {cpu}, {ram:.0f} GiB, "
        f"Linux {platform.release()}; load average before / after: {args.load_before} / "
        f"{os.getloadavg()[0]:.2f}",
        f"- Command: `{command}`",
        f"- {big.nodes} real `loadtest-supervisor` processes on 127.0.0.11-{10 + big.nodes}, "
        f"static discovery, `CLUSTER_VOTERS={big.voters}`, "
        f"`CLUSTER_METRICS_INTERVAL={METRICS_INTERVAL}`; "
        f"{big.nodes - big.real} replay a recorded run instead of sending requests "
        "(`LOADTEST_TEST_REPLAY_METRICS`, a fake for tests and benchmarks, design §12.1: "
        f"~{RPS_PER_NODE} req/s each), {big.real} load nginx for real. Every node shares "
        "this machine's 2 cores: a fleet's N hosts are here one.",
        "- CPU: each node's own process (utime + stime from /proc, load workers not "
        "included), as a share of one core. Bytes: the leader's established TCP "
        "connections to or from the cluster port (`ss -tinp` bytes_received / bytes_sent: "
        "Raft, member streams, metrics pushes, clock calls).",
        "",
        "| figure | measured | goal | |",
        "| --- | ---: | ---: | --- |",
    ]

    def row(name: str, value: str, goal: str, met: bool | None) -> None:
        mark = "" if met is None else ("met" if met else "**not met**")
        lines.append(f"| {name} | {value} | {goal} | {mark} |")

    row(
        f"formation, launch → all {big.nodes} name one leader",
        f"{big.form_s:.1f} s ({big.form_s / GOAL_FORM_S:.1f}× the goal)",
        f"≤ {GOAL_FORM_S:g} s",
        big.form_s <= GOAL_FORM_S,
    )
    row(
        "formation, every node answering → all name one leader",
        f"{big.form_s - big.answer_s:.1f} s (all answered after {big.answer_s:.1f} s)",
        "",
        None,
    )
    row("CPU per node to start and form", f"{big.start_cpu_s:.2f} s", "", None)
    raft, fleet = big.raft_failover_s, big.fleet_failover_s
    kills = f"{len(fleet)} kills" + (
        f", {big.failed_kills} not measured" if big.failed_kills else ""
    )
    if fleet:
        row(
            f"failover, every survivor ({kills}): median",
            f"{statistics.median(fleet):.3f} s",
            f"≤ {GOAL_MEDIAN_S:g} s",
            statistics.median(fleet) <= GOAL_MEDIAN_S and not big.failed_kills,
        )
        row(
            "failover, every survivor: max",
            f"{max(fleet):.3f} s",
            f"≤ {GOAL_MAX_S:g} s",
            max(fleet) <= GOAL_MAX_S and not big.failed_kills,
        )
        row(
            "failover, the voters: median / max",
            f"{statistics.median(raft):.3f} / {max(raft):.3f} s",
            "",
            None,
        )
    leader_run = big.leader_cpu(big.run)
    changed = f"— (the term went {big.run_terms[0]} → {big.run_terms[1]}: no one leader)"
    row(
        f"leader CPU in a run, {big.nodes} nodes pushing every second",
        f"{leader_run:.1%} ({leader_run / GOAL_LEADER_CPU:.2f}× the goal)"
        if big.one_leader
        else changed,
        f"≤ {GOAL_LEADER_CPU:.0%}",
        big.one_leader and leader_run <= GOAL_LEADER_CPU,
    )
    row(
        "leader bytes/s in / out, run",
        f"{big.run.leader_in:,.0f} / {big.run.leader_out:,.0f}" if big.one_leader else changed,
        "",
        None,
    )
    row("leader CPU idle", f"{big.leader_cpu(big.idle):.1%}", "", None)
    row(
        "leader bytes/s in / out, idle",
        f"{big.idle.leader_in:,.0f} / {big.idle.leader_out:,.0f}",
        "",
        None,
    )
    row(
        "idle voter CPU (not the leader), median",
        f"{statistics.median(big.idle.cpu[n] for n in voters):.2%}",
        "",
        None,
    )
    row("idle member CPU, median", f"{big.member_cpu():.2%}", "", None)
    row("member RSS, median", f"{big.member_rss_mb():.0f} MB", "", None)
    row("nodes given a share when the run was committed", f"{big.shared_nodes}", "", None)
    before, window, after = big.run_terms
    row(
        "Raft term before the run → at the end of its window → once its results were final",
        f"{before} → {window} → {after}",
        "",
        None,
    )
    row(
        "nodes in the run's final cluster document",
        f"{big.counted_nodes} of {big.nodes}",
        f"{big.nodes}",
        big.counted_nodes == big.nodes,
    )

    lines += ["", "### Projection", ""]
    if big.one_leader and (small is None or small.one_leader):
        lines += _projection(big, small)
    else:
        lines.append("No projection of the leader's run figures: a run here had no one leader.")
    member_cpu, member_mb = big.member_cpu(), big.member_rss_mb()
    cores = os.cpu_count() or 1
    lines += [
        "",
        f"Idle members here: {member_cpu:.2%} of a core and {member_mb:.0f} MB each, so this "
        f"machine's {cores} cores hold about {cores / max(member_cpu, 1e-6):,.0f} idle nodes "
        f"by CPU and {ram * 1024 / member_mb:,.0f} by memory; a simulated fleet of 1,000 "
        f"would need {1000 * member_cpu:.1f} cores and {1000 * member_mb / 1024:.0f} GiB. "
        "Formation here is bounded by starting the processes: "
        f"{big.start_cpu_s:.2f} CPU s per node on {cores} cores is "
        f"≥ {big.nodes * big.start_cpu_s / cores:.0f} s for {big.nodes} nodes (1,000: "
        f"≥ {1000 * big.start_cpu_s / cores:.0f} s); on real hosts each starts on its own.",
        "",
        "Failover times, s (every survivor): " + ", ".join(fmt(t) for t in fleet),
        END,
    ]
    return "\n".join(lines) + "\n"


def _projection(big: FleetResult, small: FleetResult | None) -> list[str]:
    """The leader's run figures as a + b·N, to 100 and 1,000 nodes."""
    if small is not None:
        assert small.run is not None
        lines = [
            f"The leader's run figures at {small.nodes} nodes (the same bench, `--small`): "
            f"CPU {small.leader_cpu(small.run):.1%}, {small.run.leader_in:,.0f} B/s in, "
            f"{small.run.leader_out:,.0f} B/s out. Linear in the nodes between the two "
            "fleets: figure(N) = a + b·N."
        ]
    else:
        lines = ["One fleet size only: figure(N) = b·N, b = figure ÷ nodes."]
    lines += [
        "",
        "| figure | a | b per node | 100 nodes | 1,000 nodes |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, key in (
        ("leader CPU, run", "cpu"),
        ("leader B/s in, run", "in"),
        ("leader B/s out, run", "out"),
    ):
        a, b = per_node(big, small, key)
        cells = [_figure(key, a), _figure(key, b, 3)]
        cells += [_figure(key, a + nodes * b) for nodes in (100, 1000)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _figure(key: str, value: float, digits: int = 1) -> str:
    return f"{value:.{digits}%}" if key == "cpu" else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100, help="fleet size")
    parser.add_argument("--small", type=int, default=10, help="a small fleet first (0: none)")
    parser.add_argument("--voters", type=int, default=5, help="CLUSTER_VOTERS")
    parser.add_argument("--real", type=int, default=2, help="nodes that send real requests")
    parser.add_argument("--kills", type=int, default=5, help="leader kills (big fleet)")
    parser.add_argument("--seconds", type=int, default=30, help="the run's length")
    parser.add_argument("--idle", type=float, default=10.0, help="idle window, s")
    parser.add_argument("--quick", action="store_true", help="12 nodes, 2 kills, prints only")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--keep", type=Path, help="keep the nodes' logs in this new folder")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.small, args.kills, args.seconds, args.idle = 12, 0, 2, 12, 5.0
        args.no_write = True
    args.load_before = f"{os.getloadavg()[0]:.2f}"
    command = " ".join([".venv/bin/python -m bench.fleet", *(argv or sys.argv[1:])])
    small = None
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        with Nginx(workdir / "nginx") as nginx:
            if args.small:
                print(f"{args.small} nodes (run only)", flush=True)
                small = run_fleet(args.small, args, workdir, nginx, kills=0)
            print(f"{args.nodes} nodes", flush=True)
            big = run_fleet(args.nodes, args, workdir, nginx, kills=args.kills)
    section = render(big, small, args, command)
    print(section)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in (small, big) if r], indent=2))
    if not args.no_write:
        replace_section(RESULTS, BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
