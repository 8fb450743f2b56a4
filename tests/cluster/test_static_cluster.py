"""Static discovery: real nodes on 127.0.0.11.. form a cluster in any start order and
elect a new leader when the leader is killed."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable

from tests.cluster.harness import ClusterHarness
from tests.engine.cli import cli_path

FORM_TIMEOUT_S = 30
FAILOVER_TIMEOUT_S = 30


def test_three_nodes_form_in_any_order_and_survive_kill9_of_the_leader(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    order = random.sample(range(3), 3)
    delay = random.uniform(0.2, 1.5)
    cluster = make_cluster()
    cluster.start(3, order=order, delay=delay)
    context = f"start order {order}, {delay:.2f}s apart"

    leader_id, term = cluster.wait_for_agreement(FORM_TIMEOUT_S)
    health = cluster.all_health()
    assert all(doc["peers"] == 3 for doc in health.values()), (context, health)
    assert {doc["node_id"] for doc in health.values()} == {n.node_id for n in cluster.nodes}

    cluster.node_by_id(leader_id).kill9()
    new_leader_id, new_term = cluster.wait_for_agreement(FAILOVER_TIMEOUT_S)
    assert new_leader_id != leader_id, context
    assert new_term > term, context
    assert all(len(leaders) == 1 for leaders in cluster.leaders_by_term.values()), (
        context,
        cluster.leaders_by_term,
    )

    # SIGTERM is a clean shutdown: exit 0.
    for node in cluster.running():
        assert node.stop() == 0, node.log_tail()


def test_cluster_mode_without_authentication_refuses_to_start(tmp_path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLUSTER_SECRET", "CLUSTER_TLS_", "CLUSTER_INSECURE"))
    }
    env.update(
        CLUSTER_ENABLED="true",
        DISCOVERY_MODE="static",
        CLUSTER_NODES="127.0.0.11:7000,127.0.0.12:7000",
        CLUSTER_BIND_ADDR="127.0.0.11:0",
        CLUSTER_HEALTH_ADDR="127.0.0.11:0",
        CLUSTER_DATA_DIR=str(tmp_path / "data"),
    )
    proc = subprocess.run(
        [cli_path()], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "CLUSTER_SECRET" in proc.stderr
    assert "Traceback" not in proc.stderr
