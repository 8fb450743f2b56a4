"""A plan's data in a cluster: the leader reads it beside the plan, commits it with the plan,
and with ``split: per-node`` every node sends rows of its own; nginx's access log shows
which node sent which row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from tests.cluster.api_client import node_results
from tests.cluster.harness import ClusterHarness
from tests.engine.cli import cli_path
from tests.services import Nginx
from tests.support import wait_for

TIMEOUT_S = 30
ROWS = 30  # 3 nodes x 2 workers: 5 rows a worker, each sent about 6 times


def _rows_by_node(nginx: Nginx) -> dict[str, set[str]]:
    """/data/<node_index>/<user>: the users each node index sent."""
    sent: dict[str, set[str]] = defaultdict(set)
    for uri in (hit.path for hit in nginx.hits()):
        if uri.startswith("/data/"):
            _, _, node_index, user = uri.split("/")
            sent[node_index].add(user)
    return sent


def test_per_node_rows_are_disjoint_across_nodes_and_cover_the_file(
    make_cluster: Callable[..., ClusterHarness], logged_nginx: Nginx, tmp_path: Path
) -> None:
    plan, users = tmp_path / "plan.yaml", tmp_path / "users.csv"
    load = f"target: {{url: '{logged_nginx.url}'}}\nload: {{model: Rps, workers: 2, "
    plan.write_text(load + "target_rps: 5, duration: 1s}\nrun: {start: api}\n")
    cluster = make_cluster(command=[cli_path(), "--config", str(plan)])
    cluster.start(3)
    cluster.wait_for_agreement(TIMEOUT_S)
    node = cluster.node(0)
    first = wait_for(lambda: node.health().get("config"), timeout=TIMEOUT_S, what="a plan")

    # The plan now names data that is not there yet: a config error on every node.
    plan.write_text(
        load + "target_rps: 60, duration: 3s}\n"
        "data: {file: users.csv, split: per-node}\n"
        "scenarios: [{name: s, steps: [{path: '/data/${node_index}/${user}'}]}]\n"
    )
    wait_for(
        lambda: all(
            "data.file='users.csv'" in doc.get("config_error", "")
            for doc in cluster.all_health().values()
        ),
        timeout=TIMEOUT_S,
        what="the missing data file reported on every node",
    )
    users.write_text("user\n" + "".join(f"u{i}\n" for i in range(ROWS)))
    committed = wait_for(
        lambda: (config := node.health().get("config")) and config != first and config,
        timeout=TIMEOUT_S,
        what="the plan committed with its data",
    )
    wait_for(
        lambda: all(node_results(n) for n in cluster.nodes),
        timeout=TIMEOUT_S,
        what="every node's results",
    )

    sent = _rows_by_node(logged_nginx)
    assert sorted(sent) == ["0", "1", "2"], sent
    for index, rows in sent.items():  # node i sends exactly its block of ten rows
        assert rows == {f"u{i}" for i in range(10 * int(index), 10 * int(index) + 10)}, sent
    # Disjoint across nodes, and together the whole file.
    assert sum(len(rows) for rows in sent.values()) == len(set().union(*sent.values())) == ROWS

    # New data is a new plan: the committed SHA-256 covers it.
    users.write_text("user\n" + "".join(f"v{i}\n" for i in range(ROWS)))
    wait_for(
        lambda: node.health()["config"]["sha256"] != committed["sha256"],
        timeout=TIMEOUT_S,
        what="the new data committed as a new plan",
    )
