"""A cluster node that runs a load in its own workers: node and load in one process.

    CLUSTER_ENABLED=true TARGET_URL=... .venv/bin/python -m tests.cluster.loaded_node \
        --workers 2

Runs the product's node runtime (``run_cluster_node``: gRPC server, the Raft thread, the
health API) and, on the same asyncio loop, the engine's ``LoadRun`` of the test plan in
the environment: N spawned workers saturating the CPU while this process reads their
pipes and merges their snapshots about once a second. That is what a node's supervisor
process does during a cluster run (DESIGN.md §2, §9), and what could starve Raft's
heartbeats. Cluster-wide runs (§8) do not exist yet, so the plan comes from this
process's environment instead of a config the leader committed; every other part is
the product's own code.

When the run ends, its results go to ``load-results.json`` in ``CLUSTER_DATA_DIR``, and
the node keeps running until SIGTERM, as a node does between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from loadtest_supervisor.cluster.node import run_cluster_node
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import Settings, load_settings
from loadtest_supervisor.engine.runner import LoadRun
from loadtest_supervisor.event_loop import run_loop
from loadtest_supervisor.results.document import build_results
from loadtest_supervisor.results.json_file import write_results_json

RESULTS_FILE = "load-results.json"
ROOT = Path(__file__).resolve().parents[2]


def loaded_node_command(workers: int) -> list[str]:
    """The argv that runs one loaded node (for ``ClusterHarness(command=...)``)."""
    return [sys.executable, "-m", "tests.cluster.loaded_node", "--workers", str(workers)]


def loaded_node_env(url: str, seconds: float, tasks: int) -> dict[str, str]:
    """The environment of loaded nodes: a Concurrent plan of ``tasks`` against ``url``
    lasting ``seconds``, and this repository importable from the nodes' working dir."""
    return {
        "PYTHONPATH": str(ROOT),
        "TARGET_URL": url,
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": str(tasks),
        "TEST_DURATION": f"{seconds:.0f}s",
    }


def load_results(data_dir: Path) -> dict[str, Any] | None:
    """A loaded node's results, or None while its run has not ended."""
    path = data_dir / RESULTS_FILE
    return json.loads(path.read_text()) if path.exists() else None


async def _serve_and_load(settings: Settings) -> int:
    plan = settings.plan
    assert plan is not None
    node = asyncio.ensure_future(run_cluster_node(settings))
    outcome = await LoadRun(plan, plan.load.workers).run(asyncio.Event())
    results = build_results(plan, outcome)
    write_results_json(str(Path(settings.node.data_dir) / RESULTS_FILE), results)
    return await node


def main() -> int:
    parser = argparse.ArgumentParser(prog="loaded_node")
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    try:
        settings = load_settings(None, os.environ, {"workers": args.workers})
    except ConfigError as exc:
        print(f"loaded_node: configuration error\n{exc}", file=sys.stderr)
        return 2
    if not settings.node.enabled or settings.plan is None:
        print("loaded_node: needs CLUSTER_ENABLED=true and a test plan", file=sys.stderr)
        return 2
    return run_loop(_serve_and_load(settings))


if __name__ == "__main__":
    sys.exit(main())
