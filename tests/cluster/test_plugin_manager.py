"""Plugins come from entry points and are chosen by name; hook calls can be traced.

Nothing here loads the raft plugin into the test process: importing pysyncobj
replaces ``socket.inet_ntop`` process-wide (pysyncobj/win_inet_pton.py), which
breaks psutil for every later test. Nodes run as real processes instead.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from importlib.metadata import entry_points

import pytest

from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.plugin_manager import PluginError, build_plugin_manager
from tests.cluster.conftest import SECRET
from tests.cluster.harness import ClusterHarness
from tests.engine.cli import cli_path


def test_unknown_discovery_mode_is_a_startup_error_listing_installed_names(tmp_path) -> None:
    env = {
        **os.environ,
        "CLUSTER_ENABLED": "true",
        "CLUSTER_SECRET": SECRET,
        "DISCOVERY_MODE": "k8s",
        "CLUSTER_BIND_ADDR": "127.0.0.11:0",
        "CLUSTER_HEALTH_ADDR": "127.0.0.11:0",
        "CLUSTER_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [cli_path()], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    installed = ", ".join(
        sorted(ep.name for ep in entry_points(group="loadtest_supervisor.discovery"))
    )
    assert f"DISCOVERY_MODE='k8s': no such discovery plugin; installed: {installed}" in proc.stderr
    assert "static" in installed
    assert "Traceback" not in proc.stderr


def test_unknown_consensus_lists_installed_names() -> None:
    settings = NodeSettings(node_id="n1", discovery_mode="static")
    with pytest.raises(PluginError, match=r"no such consensus plugin; installed: .*raft"):
        build_plugin_manager(settings, consensus="paxos")


@pytest.mark.parametrize(
    ("group", "name", "module"),
    [
        ("loadtest_supervisor.discovery", "static", "loadtest_supervisor.plugins.static_discovery"),
        ("loadtest_supervisor.consensus", "raft", "loadtest_supervisor.plugins.raft:RaftPlugin"),
        (
            "loadtest_supervisor.discovery",
            "consul",
            "loadtest_supervisor.plugins.consul_discovery:ConsulPlugin",
        ),
    ],
)
def test_builtin_plugins_register_through_our_own_entry_points(group, name, module) -> None:
    (entry_point,) = entry_points(group=group).select(name=name)
    assert entry_point.value == module
    assert entry_point.dist is not None and entry_point.dist.name == "loadtest-supervisor"


def test_trace_hooks_logs_every_hook_call_and_result(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    cluster = make_cluster(env={"LOADTEST_TRACE_HOOKS": "1"})
    (node,) = cluster.start(1)
    cluster.wait_for_agreement(timeout=30)
    assert node.stop() == 0, node.log_tail()
    log = node.log_path.read_text()
    for hook in (
        "loadtest_make_discovery",
        "loadtest_make_consensus",
        "loadtest_register_grpc_services",
        "loadtest_node_started",
        "loadtest_state_changed",
        "loadtest_node_stopping",
    ):
        assert f"event=hook_call hook={hook} " in log, hook
        assert f"event=hook_result hook={hook} " in log, hook
    # Each plugin is registered under its group and entry-point name.
    assert "plugins=['discovery:static']" in log
    assert "consensus:raft" in log
    # Results are shown briefly: the middle of a long repr is cut.
    made = (
        r'hook=loadtest_make_discovery result="<loadtest_supervisor\.plugins\.static_di\S*Discovery'
    )
    assert re.search(made, log)
    assert SECRET not in log
