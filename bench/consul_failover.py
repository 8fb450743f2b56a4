"""Consul discovery benchmark: how fast Consul follows the cluster's state.

Two times, on this machine's loopback, against a real Consul agent (tests/services):
  1. Tag latency: the Consul discovery plugin in this process (tests/consul/plugin_node.py,
     the real plugin behind the real HTTP API) is told ``--transitions`` state changes
     through the hook bus, 100 ms apart; each is timed from the hook call until the
     agent's catalog (/v1/catalog/service, polled in a tight loop) shows the new tag.
  2. DNS failover: a 3-node cluster (tests/cluster/harness.py) with DISCOVERY_MODE=consul;
     ``--kills`` times, kill -9 the leader and time, from the kill,
       raft   until both survivors' /health/cluster name the same new leader, and
       dns    until ``leader.<service>.service.consul`` (the agent's DNS port, dnspython)
              answers with exactly the new leader's address;
     also the new leader's tag latency in the real node (its ``state_changed`` log line
     to the catalog showing ``leader``). The killed node is restarted (same id and data
     dir) and the cluster let settle before the next kill. Run once per entry of
     ``--intervals``: ``default`` runs the nodes with every CONSUL_* timing at its
     default (HTTP check every 5s, timeout 2s, liveness TTL 1s, anti-entropy 10s);
     any other value is a CONSUL_CHECK_INTERVAL, with the other timings at the test
     harness's. Until the dead leader's registration fails a check, Consul still
     serves its ``leader`` tag; the liveness TTL check is what fails first.

    .venv/bin/python -m bench.consul_failover           # 50 transitions, 5 kills x default,1s
    .venv/bin/python -m bench.consul_failover --kills 2 --no-write

Writes its section of bench/RESULTS.md (between the consul markers) unless --no-write.
Goals (issue 5): tag latency <= 1 s; DNS failover <= Raft failover + 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import consul as consul_api

from bench.results_md import replace_section
from loadtest_supervisor.plugins.consul_discovery.consul_settings import (
    ConsulConfig,
    ConsulSettings,
)
from tests.cluster.harness import ClusterHarness
from tests.consul.consul_cluster import consul_cluster, service_dns
from tests.consul.plugin_node import PluginNode, node_settings
from tests.services import ConsulAgent
from tests.support import LOOPBACK, eventually, health_agreement, wait_for

REPO = Path(__file__).resolve().parents[1]

RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN consul -->", "<!-- END consul -->"
TIMEOUT_S = 30.0
POLL_S = 0.01
DEFAULT = "default"
DEFAULT_TIMINGS = (
    "CONSUL_CHECK_INTERVAL",
    "CONSUL_CHECK_TIMEOUT",
    "CONSUL_LIVENESS_TTL",
    "CONSUL_ANTI_ENTROPY_INTERVAL",
)
# The plugin's own defaults, as the runs labelled "defaults" use them.
DEFAULTS = ConsulSettings.from_config(ConsulConfig())
_LEADER_LINE = re.compile(r"ts=(\S+)Z .*event=state_changed old=\S+ new=leader")


@dataclass
class IntervalResult:
    interval: str
    raft_s: list[float] = field(default_factory=list)
    dns_s: list[float] = field(default_factory=list)
    node_tag_s: list[float] = field(default_factory=list)
    failed: int = 0

    def extra_s(self) -> list[float]:
        return [d - r for r, d in zip(self.raft_s, self.dns_s, strict=True)]


def stats(values: list[float]) -> str:
    if not values:
        return "— | — | —"
    return f"{min(values):.3f} | {statistics.median(values):.3f} | {max(values):.3f}"


def catalog_tag(client: consul_api.Consul, service: str, service_id: str) -> str | None:
    _, entries = client.catalog.service(service)
    for entry in entries:
        if entry["ServiceID"] == service_id and entry["ServiceTags"]:
            return entry["ServiceTags"][0]
    return None


def tag_latencies(agent: ConsulAgent, transitions: int, workdir: Path) -> list[float]:
    os.environ.update({"CONSUL_BOOTSTRAP_EXPECT": "1", "CONSUL_CHECK_INTERVAL": "1s"})
    service = f"bench-{uuid.uuid4().hex[:8]}"
    client = consul_api.Consul(host=LOOPBACK, port=agent.http_port)
    latencies: list[float] = []

    async def drive() -> None:
        node = await PluginNode(node_settings(agent.url, service, "bench-node"), workdir).open()
        try:
            await node.discovery.start()
            states = ["follower", "leader", "forming"]
            for term in range(1, transitions + 1):
                state = states[term % 3]
                told = time.monotonic()
                node.tell_state(state, term)
                await eventually(
                    lambda s=state: catalog_tag(client, service, "bench-node") == s,
                    timeout=TIMEOUT_S,
                    interval=0,
                    what=f"tag {state} in the catalog",
                )
                latencies.append(time.monotonic() - told)
                await asyncio.sleep(0.1)
        finally:
            await node.close()

    asyncio.run(drive())
    return latencies


def settled(cluster: ClusterHarness, agent: ConsulAgent, service: str, leader_host: str) -> bool:
    """Every node a voting member (again, after a restart) and DNS showing them all."""
    health = cluster.all_health(cluster.nodes)
    return (
        {doc.get("peers") for doc in health.values() if isinstance(doc, dict)} == {3}
        and service_dns(agent, service, "leader") == {leader_host}
        and service_dns(agent, service) == {node.host for node in cluster.nodes}
    )


def log_time(text: str, after_wall: float) -> float | None:
    """Wall-clock time of the first ``new=leader`` line logged after ``after_wall``."""
    for stamp in _LEADER_LINE.findall(text):
        wall = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
        if wall >= after_wall:
            return wall
    return None


def failovers(agent: ConsulAgent, interval: str, kills: int, workdir: Path) -> IntervalResult:
    result = IntervalResult(interval)
    if interval == DEFAULT:
        # Empty values read as unset: every timing at the plugin's default.
        timings = dict.fromkeys(DEFAULT_TIMINGS, "")
    else:
        timings = {"CONSUL_CHECK_INTERVAL": interval}
    cluster = consul_cluster(workdir, agent, **timings)
    service = cluster.service  # type: ignore[attr-defined]
    client = consul_api.Consul(host=LOOPBACK, port=agent.http_port)
    with cluster:
        nodes = cluster.start(3)
        for kill in range(kills):
            leader_id, _ = cluster.wait_for_agreement(timeout=60)
            leader = cluster.node_by_id(leader_id)
            # Kill only a whole cluster: every node a voting member again after the last
            # restart, and DNS showing all three.
            wait_for(
                lambda host=leader.host: settled(cluster, agent, service, host),
                timeout=60,
                interval=0.1,
                what="every node a member and DNS settled before the kill",
            )
            survivors = [n for n in nodes if n is not leader]
            killed_wall = time.time()
            leader.kill9()
            killed = time.monotonic()
            raft_s = dns_s = None
            new_id = None
            seen_leader_tag_wall = None
            while time.monotonic() - killed < TIMEOUT_S and (raft_s is None or dns_s is None):
                now = time.monotonic() - killed
                if raft_s is None:
                    agreed = health_agreement(cluster.all_health(survivors))
                    if agreed is not None and agreed[0] != leader_id:
                        new_id, raft_s = agreed[0], now
                if new_id and seen_leader_tag_wall is None:
                    if catalog_tag(client, service, new_id) == "leader":
                        seen_leader_tag_wall = time.time()
                if new_id and dns_s is None:
                    if service_dns(agent, service, "leader") == {cluster.node_by_id(new_id).host}:
                        dns_s = time.monotonic() - killed
                time.sleep(POLL_S)
            if raft_s is None or dns_s is None or new_id is None:
                result.failed += 1
            else:
                result.raft_s.append(raft_s)
                result.dns_s.append(dns_s)
                told = log_time(cluster.node_by_id(new_id).log_path.read_text(), killed_wall)
                if told is not None and seen_leader_tag_wall is not None:
                    result.node_tag_s.append(max(0.0, seen_leader_tag_wall - told))
            print(
                f"  interval {interval} kill {kill + 1}: raft {raft_s} dns {dns_s}",
                flush=True,
            )
            leader.start()  # same id and data dir: it rejoins through Consul
    return result


def render(tags: list[float], results: list[IntervalResult], command: str) -> str:
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    lines = [
        BEGIN,
        "## Consul discovery (bench/consul_failover.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {cpu}, "
        f"Linux {platform.release()}; Consul 1.14.11 dev agent on loopback",
        f"- Command: `{command}`",
        "- Tag latency: hook call `loadtest_state_changed` → the new tag in "
        "/v1/catalog/service (plugin in-process, catalog polled in a tight loop).",
        "- DNS failover: `kill -9` of the leader → `leader.<service>.service.consul` answers "
        "exactly the new leader (dnspython on the agent's DNS port, polled every "
        f"{POLL_S * 1000:.0f} ms); "
        "Raft failover: → both survivors' /health/cluster name the same new leader. "
        "Node tag latency: the new leader's `state_changed` log line → `leader` in the catalog.",
        "",
        "| measure | samples | min s | median s | max s |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| tag latency (in-process) | {len(tags)} | {stats(tags)} |",
    ]
    for r in results:
        lines += [
            f"| {label(r.interval)}: Raft failover | {len(r.raft_s)} | {stats(r.raft_s)} |",
            f"| {label(r.interval)}: DNS `leader.` failover | {len(r.dns_s)} | {stats(r.dns_s)} |",
            f"| {label(r.interval)}: DNS minus Raft | {len(r.dns_s)} | {stats(r.extra_s())} |",
            f"| {label(r.interval)}: node tag latency | {len(r.node_tag_s)} "
            f"| {stats(r.node_tag_s)} |",
        ]
    lines += ["", "| goal | result |", "| --- | --- |"]
    lines.append(f"| tag latency ≤ 1 s | {'met' if tags and max(tags) <= 1 else '**not met**'} |")
    for r in results:
        ok = r.dns_s and not r.failed and max(r.extra_s()) <= 1.0
        lines.append(
            f"| DNS ≤ Raft + 1 s, {label(r.interval)} | "
            f"{'met' if ok else '**not met**'} (failed kills: {r.failed}) |"
        )
    lines.append(END)
    return "\n".join(lines) + "\n"


def label(interval: str) -> str:
    ttl = f"TTL {DEFAULTS.liveness_ttl_s:g}s"
    if interval == DEFAULT:
        return (
            f"defaults (HTTP check {DEFAULTS.check_interval_s:g}s/"
            f"{DEFAULTS.check_timeout_s:g}s, {ttl})"
        )
    return f"HTTP check {interval}, {ttl}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=50, help="tag changes to time")
    parser.add_argument("--kills", type=int, default=5, help="leader kills per check interval")
    parser.add_argument(
        "--intervals",
        default=f"{DEFAULT},1s",
        help=f"CONSUL_CHECK_INTERVAL values; {DEFAULT!r}: every CONSUL_* timing at its default",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    command = " ".join([".venv/bin/python -m bench.consul_failover", *(argv or sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="bench-consul-") as tmp:
        workdir = Path(tmp)
        (workdir / "agent").mkdir()
        with ConsulAgent(workdir / "agent") as agent:
            tags = tag_latencies(agent, args.transitions, workdir)
            print(f"tag latency: {stats(tags)}", flush=True)
            results = [
                failovers(agent, interval, args.kills, workdir / f"cluster-{interval}")
                for interval in args.intervals.split(",")
            ]
    section = render(tags, results, command)
    print(section)
    if not args.no_write:
        replace_section(RESULTS, BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
