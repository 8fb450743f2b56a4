"""What one generator run costs: CPU of its process tree, requests, and the ratios."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.services import Nginx

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One instant inside a generator's run."""

    at: float  # s after launch
    cpu_s: float  # the generator's process and its descendants, user + sys, from /proc
    # loadtest_requests_total from the engine's /metrics; None for wrk, which has none
    requests: int | None
    nginx_requests: int  # nginx stub_status: requests served so far (exact)


@dataclass
class Steady:
    """CPU per request between two instants of a run: no start-up, no shutdown."""

    first: Sample
    last: Sample

    @property
    def seconds(self) -> float:
        return self.last.at - self.first.at

    @property
    def cpu_s(self) -> float:
        return self.last.cpu_s - self.first.cpu_s

    @property
    def requests(self) -> int:
        """By the engine's /metrics (an engine's window only)."""
        assert self.last.requests is not None and self.first.requests is not None
        return self.last.requests - self.first.requests

    @property
    def us_per_request(self) -> float:
        """CPU ÷ the engine's own count (an engine's window only)."""
        return self.cpu_s * 1e6 / self.requests if self.requests > 0 else float("inf")

    @property
    def us_per_nginx_request(self) -> float:
        """CPU ÷ nginx's count: the same denominator for every generator."""
        served = self.last.nginx_requests - self.first.nginx_requests - 1  # our own status GET
        return self.cpu_s * 1e6 / served if served > 0 else float("inf")


@dataclass
class Result:
    name: str
    command: str
    requests: int
    rps: float
    p99_ms: float
    cpu_s: float
    steady: Steady | None = None

    @property
    def us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.requests if self.requests else float("inf")

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of generator CPU: throughput per core, whatever else ran."""
        return self.requests / self.cpu_s if self.cpu_s else 0.0


@dataclass
class VsWrk:
    """The engine (one worker) and wrk in the same round: the engine's CPU per request
    over wrk's, for the whole run and for the steady window (nginx's count for both)."""

    engine: Result
    wrk: Result

    @property
    def whole_run(self) -> float:
        return self.engine.us_per_request / self.wrk.us_per_request

    @property
    def steady(self) -> float:
        return self.engine.steady.us_per_nginx_request / self.wrk.steady.us_per_nginx_request

    def line(self) -> str:
        return f"engine ÷ wrk: whole run {self.whole_run:.2f}×, steady {self.steady:.2f}×"


@dataclass
class Pair:
    """One engine run with one worker and one with two, back to back: their CPU/request change."""

    one: Result
    two: Result
    two_first: bool

    @property
    def whole_run(self) -> float:
        return self.two.us_per_request / self.one.us_per_request - 1

    @property
    def steady(self) -> float:
        return self.two.steady.us_per_request / self.one.steady.us_per_request - 1

    @property
    def by_nginx(self) -> float:
        return self.two.steady.us_per_nginx_request / self.one.steady.us_per_nginx_request - 1

    def line(self) -> str:
        return (
            f"1 -> 2 workers: whole run {self.whole_run:+.1%}, steady {self.steady:+.1%}"
            f" (by nginx's count {self.by_nginx:+.1%})"
        )


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_measured(
    cmd: list[str], env: dict[str, str] | None, timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a generator to completion; its process tree's CPU seconds come along.

    RUSAGE_CHILDREN counts reaped descendants only, and every generator here
    waits for its own children, so the difference is exactly this command's tree.
    nginx is a child too, but it is not reaped until the end, so it never counts.
    """
    before = children_cpu()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, children_cpu() - before


def tree_cpu(root: int) -> float:
    """User + sys CPU seconds of ``root`` and all its descendants, now.

    Walks the ppid links of every /proc/<pid>/stat. Each process counts its own
    utime + stime and the cutime + cstime of children it has reaped, so a
    descendant that exits between two readings is not lost.
    """
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            data = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue  # gone in between
        # Fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17).
        fields = data[data.rindex(b")") + 2 :].split()
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        ticks[pid] = sum(int(f) for f in fields[11:15])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


def engine_requests(api_port: int) -> int:
    """loadtest_requests_total from the engine's /metrics: the workers' last snapshots."""
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return int(float(re.search(r"^loadtest_requests_total (\S+)$", text, re.M).group(1)))


def sample(pid: int, launched: float, nginx: Nginx, api_port: int | None) -> Sample:
    """``pid``'s tree CPU and nginx's count now, and the engine's /metrics count when
    ``api_port`` is its HTTP API's."""
    # CPU and nginx's count are exact at this instant; the engine's count is as of
    # each worker's last snapshot, hence whole seconds between samples.
    at = time.monotonic() - launched
    cpu = tree_cpu(pid)
    served = nginx.requests_served()
    return Sample(at, cpu, None if api_port is None else engine_requests(api_port), served)
