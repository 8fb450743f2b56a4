"""A run across a partition: the cut-off follower stops after CLUSTER_ORPHAN_GRACE, the
others carry its share, and it takes a share again once the partition heals."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.fault_harness import FaultHarness
from tests.cluster.test_cluster_results import final_results
from tests.cluster.test_cluster_run import rps_plan
from tests.services import Nginx
from tests.support import wait_for

RATE, SECONDS = 300, 40
ORPHAN_GRACE_S = 6.0
TIMEOUT_S = 30


def rate_over(nginx: Nginx, seconds: float) -> float:
    """What nginx served per second over the next ``seconds``."""
    first, began = nginx.requests_served(), time.monotonic()
    time.sleep(seconds)
    return (nginx.requests_served() - first - 1) / (time.monotonic() - began)


def test_a_partitioned_follower_stops_after_the_grace_and_rejoins_the_run(
    fault_cluster: Callable[..., FaultHarness], nginx: Nginx
) -> None:
    cluster = fault_cluster(
        env={"CLUSTER_API_TOKEN": TOKEN, "CLUSTER_ORPHAN_GRACE": f"{ORPHAN_GRACE_S:g}s"}
    )
    cluster.start(3)
    leader_id, _, _ = cluster.wait_agreed(timeout=TIMEOUT_S)
    leader = cluster.node_by_id(leader_id)
    cut_off = next(node for node in cluster.nodes if node is not leader)
    served_before = nginx.requests_served()  # the nginx is the session's, shared
    assert post_run(leader, rps_plan(nginx, RATE, SECONDS), TOKEN)[0] == 200
    run = wait_for(lambda: leader.health().get("run"), timeout=TIMEOUT_S, what="the run")
    wait_for(lambda: time.time() > run["start_at"] + 3, timeout=TIMEOUT_S, what="the run going")

    cuts = cluster.partition([cut_off])
    cut_at = time.monotonic()
    wait_for(
        lambda: "event=run_orphaned" in cut_off.log_path.read_text(),
        timeout=ORPHAN_GRACE_S + 5,
        what="the cut-off follower to stop its share",
    )
    orphaned_after = time.monotonic() - cut_at
    # The grace, plus up to a second before the node notices it lost its leader.
    assert ORPHAN_GRACE_S <= orphaned_after <= ORPHAN_GRACE_S + 2.5, orphaned_after
    alone = rate_over(nginx, 5)  # the two others carry the whole rate
    assert abs(alone - RATE) <= 0.05 * RATE, alone

    cluster.heal(cuts)
    wait_for(
        lambda: cut_off.log_path.read_text().count("event=cluster_run_started") >= 2,
        timeout=TIMEOUT_S,
        what="the healed follower to take a share of the same run again",
    )
    # Its new workers start a moment after its share does, and catch up on the curve
    # (the cluster's total holds); measure once they run.
    wait_for(
        lambda: cut_off.log_path.read_text().count("event=run_started workers=") >= 2,
        timeout=TIMEOUT_S,
        what="the healed follower's workers",
    )
    time.sleep(1)
    together = rate_over(nginx, 5)
    assert abs(together - RATE) <= 0.05 * RATE, together
    assert cut_off.health()["run"]["run_id"] == run["run_id"]
    cluster.assert_one_leader_per_term()

    # Its parts are each counted once in the cluster's results: the one cut off (resent
    # after the heal) and the ones after (replaying the log it missed, it may start on a
    # share that a later entry moves, then start again); nothing is counted twice.
    before_end = nginx.requests_served()
    final = wait_for(
        lambda: final_results(leader, run["run_id"]),
        timeout=SECONDS + TIMEOUT_S,
        what="the final cluster results",
    )
    served = nginx.requests_served() - served_before - 1
    parts = {
        node.node_id: [
            json.loads(path.read_text())["requests_total"]
            for path in node.data_dir.glob(f"*/results-{run['run_id']}-*.json")
        ]
        for node in cluster.nodes
    }
    assert len(parts[cut_off.node_id]) >= 2, parts
    entry = final["nodes"][cut_off.node_id]
    assert entry["parts"] == len(parts[cut_off.node_id])
    assert entry["requests_total"] == sum(parts[cut_off.node_id])
    assert final["requests_total"] == sum(sum(counts) for counts in parts.values())
    # All parts' final reports are in: what nginx served, less the status reads.
    assert before_end - served_before < served, (before_end, served)
    assert abs(served - final["requests_total"]) <= 30, (served, final["requests_total"])
