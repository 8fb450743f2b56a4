"""Standalone mode stays standalone: no cluster module imported, no port but the HTTP API.

Both are checked on a real run of the CLI, supervisor and load workers alike,
because a stray import or listener would most likely hide in a worker or in a
module imported lazily once the run starts.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from tests.engine.cli import CliProcess, run_cli, start_cli
from tests.support import LOOPBACK, free_port, port_accepts, wait_for

# Top-level packages that only cluster mode may import (pyproject: "cluster mode only").
# All of google.* here comes from google-cloud-storage and protobuf, both cluster-only.
CLUSTER_PACKAGES = {"pysyncobj", "grpc", "consul", "apscheduler", "google"}
# Our own modules that only cluster mode may import: the plugins and the node runtime.
CLUSTER_MODULES = ("loadtest_supervisor.plugins", "loadtest_supervisor.cluster")
RAFT_PORT = 7000  # CLUSTER_BIND_ADDR's default
WORKERS = 2


def _imported_modules(stderr: str) -> list[str]:
    """Module names from PYTHONPROFILEIMPORTTIME lines, one per import, all processes."""
    modules = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header each process prints
                modules.append(name)
    return modules


def imports_of_a_run(http_target, tmp_path: Path, seconds: int) -> list[str]:
    """Every module each process of a real ``--workers 2`` run (API on) imported, from
    PYTHONPROFILEIMPORTTIME: a name once per process that imported it."""
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": "2",
        "TEST_DURATION": f"{seconds}s",
        # The API on too: uvicorn and starlette are part of standalone mode's imports.
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{free_port()}",
        "PYTHONPROFILEIMPORTTIME": "1",
    }
    proc, results = run_cli(["--workers", str(WORKERS)], env, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert results["requests_total"] > 0 and results["errors_total"] == 0
    return _imported_modules(proc.stderr)


def test_no_cluster_module_is_imported(http_target, tmp_path: Path) -> None:
    modules = imports_of_a_run(http_target, tmp_path, seconds=3)
    # The mechanism works: the engine shows up, and every interpreter (the supervisor
    # and each worker) printed its imports, since each one imports `encodings` at start.
    assert "loadtest_supervisor.engine" in modules
    assert "loadtest_supervisor.engine.worker" in modules
    assert modules.count("encodings") >= 1 + WORKERS
    forbidden = sorted(
        {
            m
            for m in modules
            if m.split(".", 1)[0] in CLUSTER_PACKAGES or m.startswith(CLUSTER_MODULES)
        }
    )
    assert forbidden == [], f"standalone mode imported cluster modules: {forbidden}"


def _listening(root: psutil.Process) -> tuple[set[tuple[str, int]], int]:
    """LISTEN sockets of a process and all its descendants, and how many load workers run."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return set(), 0
    found = set()
    workers = 0
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
            # Workers are multiprocessing spawn children; the resource tracker is not one.
            workers += "spawn_main" in " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue  # a worker that just exited has no sockets left either
        found |= {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return found, workers


def _sample_while_loaded(cli: CliProcess, seconds: float) -> tuple[set[tuple[str, int]], int]:
    """Union of the process tree's listeners over `seconds` of a run, and its peak worker count.

    Sampled repeatedly: a listener opened late (a lazily started server) or only
    by one worker would be missed by a single look.
    """
    root = psutil.Process(cli.pid)
    # Wait for the workers: before they exist there is nothing of theirs to inspect.
    wait_for(lambda: _listening(root)[1] >= WORKERS, timeout=20, what="the load workers")
    seen: set[tuple[str, int]] = set()
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and cli.running():
        sockets, children = _listening(root)
        seen |= sockets
        peak = max(peak, children)
        time.sleep(0.1)
    return seen, peak


def _env(api_port: int, **extra: str) -> dict[str, str]:
    return {
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": "2",
        "TEST_DURATION": "4s",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{api_port}",
        **extra,
    }


def test_only_the_http_api_listens(http_target, tmp_path: Path) -> None:
    api_port = free_port()
    env = _env(api_port, TARGET_URL=http_target.url + "/", HTTP_API_ENABLED="true")
    with start_cli(["--workers", str(WORKERS)], env, tmp_path=tmp_path) as cli:
        # The API answering means the run is under way.
        wait_for(lambda: port_accepts(LOOPBACK, api_port), timeout=20, what="the HTTP API")
        seen, peak = _sample_while_loaded(cli, 2.0)
        assert cli.running(), "the run ended before the sampling did: not a check under load"
        proc, results = cli.wait(30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["requests_total"] > 0
    assert peak >= WORKERS
    assert RAFT_PORT not in {port for _, port in seen}
    assert seen == {(LOOPBACK, api_port)}


def test_nothing_listens_with_the_api_off(http_target, tmp_path: Path) -> None:
    api_port = free_port()
    env = _env(api_port, TARGET_URL=http_target.url + "/", HTTP_API_ENABLED="false")
    with start_cli(["--workers", str(WORKERS)], env, tmp_path=tmp_path) as cli:
        seen, peak = _sample_while_loaded(cli, 2.0)
        assert cli.running(), "the run ended before the sampling did: not a check under load"
        proc, results = cli.wait(30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["requests_total"] > 0
    assert peak >= WORKERS
    assert seen == set()
