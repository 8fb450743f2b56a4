"""The leader reads the plan from its source, validates it and commits it; every node shows it.

Real nodes (static discovery) read a real Consul agent's KV through the consul-kv source.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from tests.cluster.harness import ClusterHarness
from tests.services import ConsulAgent
from tests.support import wait_for

# Committing a plan starts a run: a short, light one, against a closed port.
PLAN = (
    "target: {url: 'http://127.0.0.1:9/'}\n"
    "load: {model: Rps, target_rps: %d, duration: 3s, workers: 1}\n"
)
TIMEOUT_S = 30


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _committed(sha: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: (doc.get("config") or {}).get("sha256") == sha and "config_error" not in doc


def test_plans_from_consul_kv_are_committed_refused_and_kept_across_failover(
    make_cluster: Callable[..., ClusterHarness],
    consul_factory: Callable[[], ConsulAgent],
) -> None:
    agent = consul_factory()
    key = f"loadtest/{uuid.uuid4().hex[:8]}/plan.yaml"
    agent.client.kv.put(key, PLAN % 10)
    cluster = make_cluster(
        env={
            "CLUSTER_CONFIG_SOURCE": "consul-kv",
            "CONSUL_ADDR": agent.url,
            "CONSUL_CONFIG_KEY": key,
        }
    )
    cluster.start(3)
    leader_id, term = cluster.wait_for_agreement(TIMEOUT_S)
    wait_for(
        lambda: cluster.all_show(_committed(_sha(PLAN % 10))),
        timeout=TIMEOUT_S,
        what="the first plan committed on every node",
    )

    # An invalid plan is never committed: every node says why, the last good plan stays.
    agent.client.kv.put(key, PLAN.replace("load:", "lode:") % 10)
    refused = wait_for(
        lambda: cluster.all_show(
            lambda d: (
                "unknown key 'lode'" in d.get("config_error", "")
                and d["config"]["sha256"] == _sha(PLAN % 10)
            ),
        ),
        timeout=TIMEOUT_S,
        what="the invalid plan refused on every node",
    )
    assert refused
    doc = cluster.node(0).health()
    assert doc["config_error"].startswith(f"consul-kv {key}: unknown key 'lode'")

    agent.client.kv.put(key, PLAN % 20)
    wait_for(
        lambda: cluster.all_show(_committed(_sha(PLAN % 20))),
        timeout=TIMEOUT_S,
        what="the second plan committed on every node",
    )

    # A new leader finds the same plan committed and commits nothing; it reads the source.
    old_leader = cluster.node_by_id(leader_id)
    old_leader.kill9()
    new_leader_id, new_term = cluster.wait_for_agreement(TIMEOUT_S)
    assert new_leader_id != leader_id and new_term > term
    new_leader = cluster.node_by_id(new_leader_id)
    wait_for(
        lambda: "event=plan_unchanged" in new_leader.log_path.read_text(),
        timeout=TIMEOUT_S,
        what="the new leader to read the source and find the plan committed",
    )
    assert "event=plan_committed" not in new_leader.log_path.read_text()
    agent.client.kv.put(key, PLAN % 30)
    wait_for(
        lambda: cluster.all_show(_committed(_sha(PLAN % 30))),
        timeout=TIMEOUT_S,
        what="a plan changed after the failover committed by the new leader",
    )
    assert "event=plan_committed" in new_leader.log_path.read_text()

    # The source going away is reported, never fatal; the plan stays committed.
    agent.stop()
    wait_for(
        lambda: cluster.all_show(
            lambda d: (
                d.get("config_error", "").startswith(f"consul-kv {key} at {agent.url}")
                and d["config"]["sha256"] == _sha(PLAN % 30)
            ),
        ),
        timeout=TIMEOUT_S,
        what="the unreachable source reported on every node",
    )
    assert all(node.running() for node in cluster.nodes if node is not old_leader)
    cluster.assert_one_leader_per_term()
