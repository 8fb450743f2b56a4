"""Cluster results: every node streams its cumulative reports to the leader, which merges
them exactly; nothing is lost or counted twice when the leader or a follower dies.

Ground truth is nginx's count of what it served, and each node's own local results
(``/results?scope=node``), which carry their merged histogram (``latency_hdr``).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from hdrh.histogram import HdrHistogram

from tests.cluster.api_client import TOKEN, node_results, post_run
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_run import results_of, rps_plan, three_nodes
from tests.services import Nginx
from tests.support import wait_for

TIMEOUT_S = 30
METRICS = {"CLUSTER_METRICS_INTERVAL": "1s", "CLUSTER_CHECKPOINT_INTERVAL": "5s"}
CALLED = "event=hook_call hook=loadtest_run_finished"


def final_results(node: NodeProcess, run_id: str) -> dict[str, Any] | None:
    """The cluster's final results of ``run_id`` as ``node`` serves them, once final."""
    found = node_results(node, "cluster", run_id)
    if found and found["run"]["run_id"] == run_id and found["run"]["final"]:
        return found
    return None


def run_of(node: NodeProcess) -> dict[str, Any]:
    return wait_for(lambda: node.health().get("run"), timeout=TIMEOUT_S, what="the run record")


def merged(documents: list[dict[str, Any]]) -> HdrHistogram:
    hist = HdrHistogram.decode(documents[0]["latency_hdr"])
    for document in documents[1:]:
        hist.add(HdrHistogram.decode(document["latency_hdr"]))
    return hist


def test_the_cluster_results_are_the_exact_merge_of_every_nodes_own(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 240, 6
    cluster, leader, (follower, _) = three_nodes(make_cluster, **METRICS, LOADTEST_TRACE_HOOKS="1")
    before = nginx.requests_served()
    assert post_run(follower, rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = run_of(follower)

    # While it runs, a follower serves the leader's live document and says so.
    live = wait_for(
        lambda: (found := node_results(follower, "cluster")) and found["requests_total"] and found,
        timeout=TIMEOUT_S,
        what="live cluster results",
    )
    assert live["served_from"] == "leader" and not live["run"]["final"]
    assert live["run"]["run_id"] == run["run_id"]

    final = wait_for(
        lambda: final_results(follower, run["run_id"]),
        timeout=seconds + TIMEOUT_S,
        what="the final cluster results",
    )
    local = wait_for(lambda: results_of(cluster.nodes), timeout=TIMEOUT_S, what="local results")
    served = nginx.requests_served() - before - 1  # this stub_status read counts itself
    by_node = {node.node_id: doc for node, doc in zip(cluster.nodes, local, strict=True)}

    # Totals: the sum of the nodes' own, and what nginx served (less the status reads).
    assert final["requests_total"] == sum(d["requests_total"] for d in local)
    assert abs(served - final["requests_total"]) <= 3, (served, final["requests_total"])
    assert abs(final["requests_total"] - rate * seconds) <= 0.02 * rate * seconds
    # Latency: the union of the nodes' histograms, count for count, and its percentiles.
    union = merged(local)
    cluster_hist = HdrHistogram.decode(final["latency_hdr"])
    assert cluster_hist.get_total_count() == union.get_total_count()
    # A request that got no response (a transport error, under a loaded machine) counts
    # in requests_total and errors, with no latency to record.
    unanswered = final["requests_total"] - union.get_total_count()
    assert 0 <= unanswered <= final["errors_total"], (unanswered, final["errors"])
    assert list(cluster_hist.counts) == list(union.counts)
    expected = union.get_percentile_to_value_dict([50, 99])
    assert final["latency_ms"]["p50"] == expected[50] / 1000
    assert final["latency_ms"]["p99"] == expected[99] / 1000
    # Each node's entry is its own results, under the same names.
    assert set(final["nodes"]) == set(by_node)
    for node_id, entry in final["nodes"].items():
        assert entry["requests_total"] == by_node[node_id]["requests_total"]
        assert entry["latency_ms"] == by_node[node_id]["latency_ms"]
        assert entry["state"] == "finished" and abs(entry["share"] - 1 / 3) < 1e-9
    assert final["passed"] and final["nodes_lost"] == []
    assert final["run"]["state"] == "finished"
    # Every node keeps its own results as a file in its data dir too.
    for node in cluster.nodes:
        files = list(node.data_dir.glob(f"*/results-{run['run_id']}-*.json"))
        assert len(files) == 1, node.node_id
        assert (
            json.loads(files[0].read_text())["requests_total"]
            == by_node[node.node_id]["requests_total"]
        )
    # Every node answers the same final document, committed through Raft, and tells its
    # plugins once that the run finished; the leader tells them of each merge.
    for node in cluster.nodes:
        document = final_results(node, run["run_id"])
        assert document is not None and document["requests_total"] == final["requests_total"]
        # (A follower serves the leader's final document before it applies the commit.)
        told = wait_for(
            lambda n=node: n.log_path.read_text().count(CALLED) or None,
            timeout=TIMEOUT_S,
            what=f"{node.node_id} telling its plugins",
        )
        assert told == 1, node.node_id
    assert "event=hook_call hook=loadtest_metrics_aggregated" in leader.log_path.read_text()


def test_a_leader_killed_mid_run_loses_at_most_one_interval_of_its_own_samples(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 300, 15
    cluster, leader, survivors = three_nodes(make_cluster, **METRICS)
    before = nginx.requests_served()
    assert post_run(survivors[0], rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = run_of(survivors[0])
    wait_for(
        lambda: time.time() > run["start_at"] + 0.4 * seconds,
        timeout=TIMEOUT_S,
        what="40 % of the run",
    )
    leader.kill9()
    new_leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    assert new_leader_id != leader.node_id

    final = wait_for(
        lambda: final_results(survivors[0], run["run_id"]),
        timeout=seconds + TIMEOUT_S,
        what="the final cluster results under the new leader",
    )
    local = wait_for(lambda: results_of(survivors), timeout=TIMEOUT_S, what="local results")
    served = nginx.requests_served() - before - 1
    # Each survivor's own total appears once, exactly: never lost, never doubled.
    for node, own in zip(survivors, local, strict=True):
        assert final["nodes"][node.node_id]["requests_total"] == own["requests_total"]
    # The dead leader's samples are in, up to its last report: at most one interval of
    # its rate (a third of the cluster's) is missing, plus the status reads.
    dead = final["nodes"][leader.node_id]
    assert dead["state"] == "lost"
    assert [lost["node_id"] for lost in final["nodes_lost"]] == [leader.node_id]
    missing = served - final["requests_total"]
    assert 0 <= missing <= rate / 3 * 1.0 + 3, (served, final["requests_total"], dead)
    assert final["run"]["state"] == "finished"


def test_a_dead_followers_last_report_stays_and_the_leader_exposes_the_cluster_on_metrics(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx
) -> None:
    rate, seconds = 300, 12
    _, leader, (victim, survivor) = three_nodes(make_cluster, **METRICS)
    before = nginx.requests_served()
    assert post_run(leader, rps_plan(nginx, rate, seconds), TOKEN)[0] == 200
    run = run_of(leader)
    wait_for(
        lambda: time.time() > run["start_at"] + 0.4 * seconds,
        timeout=TIMEOUT_S,
        what="40 % of the run",
    )
    # The leader's /metrics: each series for the cluster (no label) and per node.
    samples = prometheus_samples(leader, "loadtest_cluster_requests_total")
    by_node = {labels: value for labels, value in samples.items() if labels}
    assert len(by_node) == 3 and samples[""] == sum(by_node.values()) > 0, samples
    assert prometheus_samples(survivor, "loadtest_cluster_requests_total") == {}
    victim.kill9()

    final = wait_for(
        lambda: final_results(leader, run["run_id"]),
        timeout=seconds + TIMEOUT_S,
        what="the final cluster results",
    )
    served = nginx.requests_served() - before - 1
    lost = final["nodes"][victim.node_id]
    assert lost["state"] == "lost" and lost["requests_total"] > 0
    assert [n["node_id"] for n in final["nodes_lost"]] == [victim.node_id]
    assert final["nodes_lost"][0]["at"] > run["start_at"]
    for node in (leader, survivor):
        own = node_results(node)
        assert own is not None
        assert final["nodes"][node.node_id]["requests_total"] == own["requests_total"]
    # What the victim sent after its last report (its third of the rate, for at most an
    # interval and a worker snapshot) is all that is missing.
    missing = served - final["requests_total"]
    assert 0 <= missing <= rate / 3 * 1.25 + 3, (served, final["requests_total"], lost)


def prometheus_samples(node: NodeProcess, name: str) -> dict[str, float]:
    """Each sample of ``name`` on the node's /metrics, by its label text ("" for none)."""
    with urllib.request.urlopen(f"http://{node.health_addr}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            labels, _, value = line[len(name) :].rpartition(" ")
            found[labels.strip()] = float(value)
    return found
