"""Plans from the config sources run on the cluster: a plan put in Consul KV, rendered by
consul-template from two keys, or uploaded to (fake) GCS runs on all three nodes, a new
one runs in its place, and what keeps a plan out is reported while the load goes on.

Each plan aims at its own path on an nginx that logs every request, so the access log
says which plan sent how much, and when; the counts are checked against the plan's rate.
"""

from __future__ import annotations

import hashlib
import re
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_run import TIMEOUT_S, rps_plan, three_nodes
from tests.services import ConsulAgent, FakeGcs, Nginx, binary
from tests.support import pid_alive, wait_for

# An open model sends rate × duration requests (workers that start late catch up on the
# curve); 5 % leaves room for answers that land across a window's edges on a busy machine.
TOLERANCE = 0.05
# nginx logs a request when it has answered it: just after it was due.
ANSWER_S = 0.5


def served(nginx: Nginx, path: str, start: float, end: float) -> int:
    """Requests for ``path`` that nginx answered between ``start`` and ``end``."""
    return sum(1 for hit in nginx.hits() if hit.path == path and start <= hit.at <= end)


def assert_rate(nginx: Nginx, path: str, rate: float, start: float, end: float) -> int:
    """``path`` was served at ``rate`` between ``start`` and ``end`` (epoch seconds), within
    TOLERANCE; its count."""
    wait_for(lambda: time.time() > end + ANSWER_S, timeout=end - time.time() + TIMEOUT_S)
    count = served(nginx, path, start, end + ANSWER_S)
    expected = rate * (end - start)
    assert abs(count - expected) <= TOLERANCE * expected, (path, count, expected)
    return count


def assert_run_rate(nginx: Nginx, path: str, rate: float, run: dict[str, Any]) -> int:
    """The whole of ``run`` sent ``path`` at ``rate``; its count."""
    return assert_rate(nginx, path, rate, run["start_at"], run["end_at"])


def new_run(cluster: ClusterHarness, after: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run every node shows, once they all show the same one (not ``after``) and every
    node has started its share of it."""
    previous = (after or {}).get("run_id")

    def agreed() -> dict[str, Any] | None:
        docs = cluster.all_health()
        runs = [doc.get("run") if isinstance(doc, dict) else None for doc in docs.values()]
        ids = {run["run_id"] if run else None for run in runs}
        return runs[0] if len(ids) == 1 and None not in ids and previous not in ids else None

    run = wait_for(agreed, timeout=TIMEOUT_S, what="a new run on every node")
    started = f"event=cluster_run_started run_id={run['run_id']}"
    wait_for(
        lambda: all(started in node.log() for node in cluster.nodes),
        timeout=TIMEOUT_S,
        what=f"every node running its share of {run['run_id']}",
    )
    return run


def wait_finished(cluster: ClusterHarness, run: dict[str, Any]) -> None:
    wait_for(
        lambda: cluster.all_show(lambda d: d.get("run") == {**run, "state": "finished"}),
        timeout=run["end_at"] - time.time() + TIMEOUT_S,
        what=f"run {run['run_id']} finished on every node",
    )


def sha256(plan: bytes) -> str:
    return hashlib.sha256(plan).hexdigest()


def refused(sha: str, error: str) -> Callable[[dict[str, Any]], bool]:
    """A node's health shows ``error`` for a plan refused while ``sha`` stays committed."""
    return lambda doc: (
        error in doc.get("config_error", "") and (doc.get("config") or {}).get("sha256") == sha
    )


def test_a_plan_in_consul_kv_runs_is_replaced_refused_and_outlives_consul(
    make_cluster: Callable[..., ClusterHarness],
    consul_factory: Callable[[], ConsulAgent],
    logged_nginx: Nginx,
) -> None:
    nginx = logged_nginx
    agent = consul_factory()  # its own: this test stops it
    key = f"loadtest/{uuid.uuid4().hex[:8]}/plan.yaml"
    agent.client.kv.put(key, rps_plan(nginx, 30, 4, "/kv/first"))
    cluster, _, _ = three_nodes(
        make_cluster,
        CLUSTER_CONFIG_SOURCE="consul-kv",
        CONSUL_ADDR=agent.url,
        CONSUL_CONFIG_KEY=key,
    )
    first = new_run(cluster)
    assert_run_rate(nginx, "/kv/first", 30, first)
    wait_finished(cluster, first)

    # A new value of the key is a new plan: a new run, of the new path at the new rate.
    second_plan = rps_plan(nginx, 45, 6, "/kv/second")
    agent.client.kv.put(key, second_plan)
    second = new_run(cluster, after=first)
    # An invalid plan is not committed: every node says why, and the run goes on.
    agent.client.kv.put(key, second_plan.replace(b"load:", b"lode:"))
    wait_for(
        lambda: cluster.all_show(refused(sha256(second_plan), "unknown key 'lode'")),
        timeout=TIMEOUT_S,
        what="the invalid plan refused on every node",
    )
    assert cluster.all_show(lambda d: d.get("run") == second), "the run changed"
    assert_run_rate(nginx, "/kv/second", 45, second)
    assert served(nginx, "/kv/first", second["start_at"], time.time()) == 0

    # Consul going away is reported on every node; the run it gave goes on to its end.
    third_plan = rps_plan(nginx, 30, 8, "/kv/third")
    agent.client.kv.put(key, third_plan)
    third = new_run(cluster, after=second)
    wait_for(lambda: time.time() > third["start_at"] + 2, timeout=TIMEOUT_S)
    agent.stop()
    stopped_at = time.time()
    wait_for(
        lambda: cluster.all_show(refused(sha256(third_plan), f"consul-kv {key} at {agent.url}")),
        timeout=TIMEOUT_S,
        what="Consul's absence reported on every node",
    )
    assert_rate(nginx, "/kv/third", 30, stopped_at, third["end_at"])
    assert_run_rate(nginx, "/kv/third", 30, third)
    assert all(node.running() for node in cluster.nodes)


def template_pids(node: NodeProcess) -> list[int]:
    """Every consul-template process ``node`` has started (from its log)."""
    return [int(pid) for pid in re.findall(r"event=consul_template_started pid=(\d+)", node.log())]


def test_a_plan_rendered_by_consul_template_from_two_keys_runs_and_follows_both(
    make_cluster: Callable[..., ClusterHarness],
    consul: ConsulAgent,
    logged_nginx: Nginx,
    tmp_path: Path,
) -> None:
    nginx = logged_nginx
    prefix = f"loadtest/{uuid.uuid4().hex[:8]}"
    template = tmp_path / "plan.ctmpl"
    template.write_text(
        f"target: {{url: '{{{{ key \"{prefix}/target\" }}}}'}}\n"
        f'load: {{model: Rps, target_rps: {{{{ key "{prefix}/rate" }}}}, duration: 3s, '
        "workers: 1}\n"
    )
    consul.client.kv.put(f"{prefix}/target", f"{nginx.url}/tmpl/one")
    consul.client.kv.put(f"{prefix}/rate", "30")
    cluster, _, _ = three_nodes(
        make_cluster,
        CLUSTER_CONFIG_SOURCE="consul-kv",
        CONSUL_ADDR=consul.url,
        CONSUL_TEMPLATE_FILE=str(template),
        CONSUL_TEMPLATE_BIN=str(binary("consul-template")),
    )
    first = new_run(cluster)
    assert_run_rate(nginx, "/tmpl/one", 30, first)
    wait_finished(cluster, first)

    consul.client.kv.put(f"{prefix}/target", f"{nginx.url}/tmpl/two")  # the one key
    second = new_run(cluster, after=first)
    assert_run_rate(nginx, "/tmpl/two", 30, second)
    assert served(nginx, "/tmpl/one", second["start_at"], second["end_at"] + ANSWER_S) == 0
    wait_finished(cluster, second)

    # Only the leader reads the source: a deposed one stops its consul-template, and the
    # new leader renders the same plan and runs nothing new. (The leader now: on a busy
    # machine an election may have moved it since the start.)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    leader = cluster.node_by_id(leader_id)
    deposed_pid = template_pids(leader)[-1]  # its latest
    logged = {node.node_id: len(node.log()) for node in cluster.nodes}
    leader.signal(signal.SIGSTOP)
    try:
        new_leader_id, _ = cluster.wait_for_agreement(
            TIMEOUT_S, nodes=[node for node in cluster.nodes if node is not leader]
        )
    finally:
        leader.signal(signal.SIGCONT)
    new_leader = cluster.node_by_id(new_leader_id)
    cluster.wait_for_agreement(TIMEOUT_S)
    wait_for(
        lambda: not pid_alive(deposed_pid),
        timeout=TIMEOUT_S,
        what="the deposed leader's consul-template stopped",
    )
    wait_for(
        lambda: "event=plan_unchanged" in new_leader.log()[logged[new_leader_id] :],
        timeout=TIMEOUT_S,
        what="the new leader to render the committed plan",
    )
    # Its consul-template starting is no error: nothing is refused while it first renders.
    since = new_leader.log()[logged[new_leader_id] :]
    assert "event=plan_committed" not in since and "event=plan_refused" not in since, since
    assert cluster.all_show(lambda d: d.get("run") == {**second, "state": "finished"})

    consul.client.kv.put(f"{prefix}/rate", "50")  # and the other key
    third = new_run(cluster, after=second)
    assert_run_rate(nginx, "/tmpl/two", 50, third)

    # consul-template goes with its node, even one killed with SIGKILL (as every node
    # of a ClusterHarness is).
    started = [pid for node in cluster.nodes for pid in template_pids(node)]
    cluster.close()
    wait_for(
        lambda: not any(pid_alive(pid) for pid in started),
        timeout=TIMEOUT_S,
        what=f"no consul-template ({started}) outliving its node",
    )


def test_a_plan_in_gcs_runs_once_it_exists_and_each_generation_replaces_it(
    make_cluster: Callable[..., ClusterHarness], gcs: FakeGcs, logged_nginx: Nginx
) -> None:
    nginx = logged_nginx
    bucket_name = f"plans-{uuid.uuid4().hex[:8]}"
    uri = f"gs://{bucket_name}/plan.yaml"
    cluster, _, _ = three_nodes(
        make_cluster,
        CLUSTER_CONFIG_SOURCE="gcs",
        CLUSTER_CONFIG_URI=uri,
        CLUSTER_CONFIG_POLL="200ms",
        **gcs.env(),
    )
    # Neither the bucket nor the object exists yet: reported, and the leader keeps looking.
    wait_for(
        lambda: cluster.all_show(lambda d: d.get("config_error") == f"gcs {uri}: no such bucket"),
        timeout=TIMEOUT_S,
        what="the missing bucket reported on every node",
    )
    bucket = gcs.client().create_bucket(bucket_name)
    wait_for(
        lambda: cluster.all_show(lambda d: d.get("config_error") == f"gcs {uri}: no such object"),
        timeout=TIMEOUT_S,
        what="the missing object reported on every node",
    )
    assert cluster.all_show(lambda d: "run" not in d)  # no plan, so nothing ran

    blob = bucket.blob("plan.yaml")
    blob.upload_from_string(rps_plan(nginx, 30, 3, "/gcs/first"))
    first = new_run(cluster)
    assert cluster.all_show(lambda d: "config_error" not in d)
    assert_run_rate(nginx, "/gcs/first", 30, first)
    wait_finished(cluster, first)

    second_plan = rps_plan(nginx, 45, 3, "/gcs/second")
    blob.upload_from_string(second_plan)  # a new generation of the same object
    second = new_run(cluster, after=first)
    assert cluster.all_show(
        lambda d: (
            d["config"]
            == {
                "sha256": sha256(second_plan),
                "source": f"gcs {uri}",
                "version": str(blob.generation),
            }
        )
    )
    assert_run_rate(nginx, "/gcs/second", 45, second)
    assert all(node.running() for node in cluster.nodes)
