"""``loadtest-supervisor submit --wait`` and ``status``, as a person runs them against a real
cluster: one verdict for the whole cluster, judged on its totals, and the exit code a
standalone run of the plan would give."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.cluster.api_client import TOKEN
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.cluster.test_cluster_run import three_nodes
from tests.engine.cli import cli_path
from tests.services import HttpTarget, Nginx

SECONDS = 5
TIMEOUT_S = 90


def client(args: list[str], cwd: Path, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    if token is not None:
        env["CLUSTER_API_TOKEN"] = token
    return subprocess.run(
        [str(cli_path()), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def urls(nodes: list[NodeProcess]) -> str:
    return ",".join(f"http://{node.health_addr}" for node in nodes)


def test_submit_waits_for_the_cluster_verdict_and_status_shows_the_run(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx, tmp_path: Path
) -> None:
    cluster, leader, followers = three_nodes(make_cluster)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"target: {{url: '{nginx.url}/'}}\n"
        f"load: {{model: Rps, target_rps: 90, duration: {SECONDS}s, workers: 1}}\n"
        "thresholds: ['p99 < 500ms', 'error_rate < 1%']\n"
    )
    out = tmp_path / "results.json"
    # A dead node first in the list: the command goes on with the next.
    dead = "http://127.0.0.1:9"
    done = client(
        [
            "submit",
            "--cluster",
            f"{dead},{urls(followers)}",
            str(plan),
            "--wait",
            "--out",
            str(out),
            "--csv",
            str(tmp_path / "run"),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    results = json.loads(out.read_text())
    # --csv: Locust's files from the cluster's document, a history row per second.
    history = list(csv.DictReader((tmp_path / "run_history.csv").open()))
    assert len(history) == len(results["timeline"]["points"]) == SECONDS
    assert all(row["Nodes Live"] == "3" for row in history), history
    assert int(history[-1]["Total Request Count"]) == results["requests_total"]
    stats = list(csv.DictReader((tmp_path / "run_stats.csv").open()))
    assert stats[-1]["Name"] == "Aggregated"
    assert int(stats[-1]["Request Count"]) == results["requests_total"]
    assert (tmp_path / "run_failures.csv").read_text().startswith("Method,Name,Error")
    assert results["passed"] and results["run"]["final"]
    assert set(results["nodes"]) == {node.node_id for node in cluster.nodes}
    assert abs(results["requests_total"] - 90 * SECONDS) <= 0.03 * 90 * SECONDS
    assert "Nodes" in done.stdout and "PASSED" in done.stdout
    assert all(node.node_id in done.stdout for node in cluster.nodes)
    assert f"leader {leader.node_id}" in done.stdout

    shown = client(["status", "--cluster", urls([followers[1]])], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"leader {leader.node_id}" in shown.stdout
    assert f"run       {results['run']['run_id']} finished" in shown.stdout
    assert f"{results['requests_total']:,} requests" in shown.stdout and "final" in shown.stdout


def test_thresholds_are_judged_on_the_cluster_totals_and_fail_submit(
    make_cluster: Callable[..., ClusterHarness], http_target: HttpTarget, tmp_path: Path
) -> None:
    _, leader, _ = three_nodes(make_cluster)
    rate = 60
    # Node i's requests take i00 ms: node 2's (200 ms) set the cluster's p99, and the
    # cluster sends three nodes' requests where each sends a third.
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"target: {{url: '{http_target.url}'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {SECONDS}s, workers: 1}}\n"
        "scenarios: [{name: slow, steps: [{path: '/slow?ms=${node_index}00'}]}]\n"
        f"thresholds: ['p99 < 150ms', 'requests < {rate * SECONDS // 2}']\n"
    )
    out = tmp_path / "results.json"
    done = client(
        ["submit", "--cluster", urls([leader]), str(plan), "--wait", "--out", str(out)], tmp_path
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    results = json.loads(out.read_text())
    failed = {t["threshold"] for t in results["thresholds"] if not t["passed"]}
    assert failed == {"p99 < 150ms", f"requests < {rate * SECONDS // 2}"}
    by_index = sorted(results["nodes"].values(), key=lambda node: node["latency_ms"]["p50"])
    # Alone, every node sends under half the requests, and nodes 0 and 1 meet the p99.
    assert all(node["requests_total"] < rate * SECONDS // 2 for node in by_index)
    assert [node["latency_ms"]["p99"] < 150 for node in by_index] == [True, True, False]


def test_submit_without_a_token_or_with_a_bad_plan_says_why(
    make_cluster: Callable[..., ClusterHarness], tmp_path: Path
) -> None:
    _, leader, _ = three_nodes(make_cluster)
    plan = tmp_path / "plan.yaml"
    plan.write_text("target: {url: 'http://127.0.0.1:9/'}\nload: {modle: Rps}\n")
    refused = client(["submit", "--cluster", urls([leader]), str(plan)], tmp_path, token=None)
    assert refused.returncode == 2 and "missing or wrong bearer token" in refused.stdout
    invalid = client(["submit", "--cluster", urls([leader]), str(plan)], tmp_path)
    assert invalid.returncode == 2
    assert "unknown key 'load.modle'; did you mean 'model'?" in invalid.stdout
    missing = client(["submit", "--cluster", urls([leader]), "nope.yaml"], tmp_path)
    assert missing.returncode == 2 and "cannot read nope.yaml" in missing.stdout
    nobody = client(["status", "--cluster", "http://127.0.0.1:9"], tmp_path)
    assert nobody.returncode == 3 and "no node answered" in nobody.stdout
    assert all("Traceback" not in r.stderr for r in (refused, invalid, missing, nobody))


def test_submit_without_wait_returns_and_status_watch_follows_the_run(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx, tmp_path: Path
) -> None:
    _, _, followers = three_nodes(make_cluster)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"target: {{url: '{nginx.url}/'}}\n"
        f"load: {{model: Rps, target_rps: 60, duration: {SECONDS}s, workers: 1}}\n"
    )
    sent = client(["submit", "--cluster", urls(followers), str(plan)], tmp_path)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    run_id = sent.stdout.split()[1]
    watched = client(["status", "--cluster", urls(followers[1:]), "--watch"], tmp_path)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert f"run       {run_id} running" in watched.stdout
    # The progress line, plain (not a terminal): at least the last one, with live nodes.
    progress = [line for line in watched.stdout.splitlines() if " requests " in line]
    assert progress and "nodes 3/3  finished" in progress[-1], watched.stdout
    requests = int(progress[-1].split()[1].replace(",", ""))
    assert abs(requests - 60 * SECONDS) <= 0.03 * 60 * SECONDS, progress[-1]
