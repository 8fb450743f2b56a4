"""The fleet simulation's load-free node, a fake for tests and benchmarks only
(``LOADTEST_TEST_REPLAY_METRICS``, docs/design.md §12.1 "Fleet simulation"): it takes its
share of a run, starts at ``start_at`` and pushes its metrics like any node, but starts
no worker and sends no request; its figures are a recorded run's."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable

from loadtest_supervisor.engine.replayed_load import REPLAY_ENV, Recording
from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.fleet_recording import RECORDING
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_results import METRICS, final_results, run_of
from tests.cluster.test_cluster_run import results_of
from tests.services import Nginx
from tests.support import wait_for, worker_pids

RATE, SECONDS = 200, 10
TIMEOUT_S = 30
REPLAYING = 2  # the node index that replays


def test_a_replaying_node_is_merged_by_the_leader_and_sends_no_request(
    make_cluster: Callable[..., ClusterHarness], logged_nginx: Nginx
) -> None:
    recording = Recording.read(RECORDING)
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN, **METRICS})
    cluster.start(3, node_env=lambda i: {REPLAY_ENV: str(RECORDING)} if i == REPLAYING else {})
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    leader, replaying = cluster.node_by_id(leader_id), cluster.node(REPLAYING)
    assert re.search(r"level=warning .* event=replaying_metrics ", replaying.log())

    plan = (
        f"target: {{url: '{logged_nginx.url}'}}\n"
        f"load: {{model: Rps, target_rps: {RATE}, duration: {SECONDS}s, workers: 1}}\n"
        "scenarios: [{name: s, steps: [{path: '/n${node_index}'}]}]\n"
    )
    status, reply = post_run(leader, plan.encode(), TOKEN)
    assert status == 200, reply
    run = run_of(leader)
    shares = run["shares"]
    assert set(shares) == {node.node_id for node in cluster.nodes}  # it took a share
    # During the run: no worker process there, while the others run theirs.
    wait_for(lambda: time.time() > run["start_at"] + 1, timeout=TIMEOUT_S, what="the run going")
    assert worker_pids(replaying.pid) == []
    assert all(worker_pids(node.pid) for node in cluster.nodes if node is not replaying)
    final = wait_for(
        lambda: final_results(leader, run["run_id"]),
        timeout=SECONDS + TIMEOUT_S,
        what="the final cluster results",
    )

    # The target saw the other two nodes only.
    served = Counter(hit.path for hit in logged_nginx.hits() if hit.path.startswith("/n"))
    local = wait_for(lambda: results_of(cluster.nodes), timeout=TIMEOUT_S, what="local results")
    path = {
        n.node_id: f"/n{doc['run']['index']}" for n, doc in zip(cluster.nodes, local, strict=True)
    }
    assert set(served) == {path[n.node_id] for n in cluster.nodes if n is not replaying}
    for node in cluster.nodes:
        if node is not replaying:
            counted = final["nodes"][node.node_id]["requests_total"]
            assert counted == served[path[node.node_id]], (node.node_id, final["nodes"])
            expected = RATE * SECONDS * shares[node.node_id]
            assert abs(counted - expected) <= 0.05 * expected, final["nodes"]

    # The leader merged the replaying node's figures: the recording's first SECONDS s.
    replayed = final["nodes"][replaying.node_id]["requests_total"]
    assert replayed == recording.requests_until[SECONDS] > 0, final["nodes"]
    assert final["requests_total"] == sum(served.values()) + replayed
    assert local[REPLAYING]["requests_total"] == replayed  # its own results say the same
