"""``POST /runs`` on any node: a plan reaches the leader over gRPC and is committed, behind a
bearer token compared in constant time; without a token configured the endpoint is off."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness
from tests.support import wait_for

# Committing a plan starts a run: a short, light one, against a closed port.
PLAN = (
    "target: {url: 'http://127.0.0.1:9/'}\n"
    "load: {model: Rps, target_rps: 5, duration: 3s, workers: 1}\n"
)
TIMEOUT_S = 30


def test_a_plan_posted_to_a_follower_is_committed_by_the_leader(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    cluster = make_cluster(env={"CLUSTER_API_TOKEN": TOKEN})
    cluster.start(3)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    follower = next(node for node in cluster.nodes if node.node_id != leader_id)

    assert post_run(follower, PLAN.encode())[0] == 401
    assert post_run(follower, PLAN.encode(), token="wrong")[0] == 401
    assert all("config" not in doc for doc in cluster.all_health().values())

    status, reply = post_run(follower, PLAN.encode(), token=TOKEN)
    sha = hashlib.sha256(PLAN.encode()).hexdigest()
    assert (status, reply["accepted"], reply["sha256"]) == (200, True, sha), reply
    assert reply["leader_id"] == leader_id
    wait_for(
        lambda: all(
            (doc.get("config") or {}).get("sha256") == sha for doc in cluster.all_health().values()
        ),
        timeout=TIMEOUT_S,
        what="the posted plan committed on every node",
    )
    assert cluster.node(0).health()["config"]["source"].startswith("api POST /runs from ")

    status, reply = post_run(follower, b"target: {url: 'http://h/'}\nload: {modle: Rps}\n", TOKEN)
    assert status == 400 and not reply["accepted"]
    assert "unknown key 'load.modle'; did you mean 'model'?" in reply["error"]
    assert post_run(follower, b"x" * ((1 << 20) + 1), TOKEN)[0] == 413
    assert all(doc["config"]["sha256"] == sha for doc in cluster.all_health().values())


def test_without_a_token_configured_the_endpoint_is_off_and_says_how_to_enable_it(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    cluster = make_cluster()
    (node,) = cluster.start(1)
    cluster.wait_for_agreement(TIMEOUT_S)
    status, reply = post_run(node, PLAN.encode(), token="anything")
    assert status == 403 and "set CLUSTER_API_TOKEN" in reply["error"]
    assert "config" not in node.health()
