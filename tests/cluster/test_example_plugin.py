"""The third-party discovery plugin in examples/ installs like any package and forms
a cluster (DISCOVERY_MODE=file)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.cluster.harness import ClusterHarness, node_host
from tests.support import free_port

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "examples" / "discovery_plugin"


@pytest.fixture(scope="session")
def file_discovery_plugin() -> None:
    """pip-install the example into the test venv (reinstalling is harmless)."""
    subprocess.run(
        # --no-deps: loadtest-supervisor itself is installed (editable) already;
        # --no-build-isolation: build with the venv's setuptools, no index needed.
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        + [str(PLUGIN_DIR)],
        check=True,
        timeout=300,
    )


def test_example_plugin_is_installed_under_the_discovery_group(file_discovery_plugin) -> None:
    (entry_point,) = entry_points(group="loadtest_supervisor.discovery").select(name="file")
    assert entry_point.dist is not None and entry_point.dist.name == "loadtest-file-discovery"


def test_three_nodes_form_with_file_discovery(
    file_discovery_plugin, make_cluster: Callable[..., ClusterHarness], tmp_path: Path
) -> None:
    hosts = [node_host(i) for i in range(3)]
    port = free_port(hosts=hosts)
    peers_file = tmp_path / "peers"
    peers_file.write_text("# one host:port per line\n" + "".join(f"{h}:{port}\n" for h in hosts))
    cluster = make_cluster(
        # CLUSTER_NODES empty: the peers can only have come from the plugin.
        env={"DISCOVERY_MODE": "file", "FILE_DISCOVERY_PATH": str(peers_file), "CLUSTER_NODES": ""},
        grpc_port=port,
    )
    cluster.start(3, order=[2, 0, 1], delay=0.5)
    cluster.wait_for_agreement(timeout=30)
    assert all(doc["peers"] == 3 for doc in cluster.all_health().values())
