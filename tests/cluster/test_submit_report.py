"""``submit --wait --report`` on a real 3-node cluster: the cluster's HTML report opens
from disk in headless Chromium offline, with every chart drawn and a row per node; a
report path that cannot be written costs none of the results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from loadtest_supervisor.exit_codes import ExitCode
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_run import three_nodes
from tests.cluster.test_submit_cli import client, urls
from tests.report.report_page import CLUSTER_CHARTS, open_offline, table_rows
from tests.services import Nginx
from tests.support.browser import Browser

SECONDS = 5


def _plan(tmp_path: Path, url: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"target: {{url: '{url}/'}}\n"
        f"load: {{model: Rps, target_rps: 90, duration: {SECONDS}s, workers: 1}}\n"
        "thresholds: ['p99 < 2s', 'error_rate < 1%']\n"
    )
    return plan


def test_submit_wait_writes_the_clusters_report(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx, browser: Browser, tmp_path: Path
) -> None:
    cluster, leader, followers = three_nodes(make_cluster)
    out = tmp_path / "results.json"
    report = tmp_path / "cluster-report.html"
    done = client(
        ["submit", "--cluster", urls(followers), str(_plan(tmp_path, nginx.url)), "--wait"]
        + ["--out", str(out), "--report", str(report)],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"report written to {report}" in done.stdout
    results = json.loads(out.read_text())
    node_ids = sorted(node.node_id for node in cluster.nodes)

    charts = {chart["id"]: chart for chart in open_offline(browser, report)}
    assert set(charts) == CLUSTER_CHARTS
    for chart_id in ("node-throughput", "node-distribution"):
        assert sorted(s["name"] for s in charts[chart_id]["series"]) == node_ids, chart_id
    # About a point a second (the leader closes a second once every live part has).
    assert charts["throughput"]["series"][0]["points"] >= SECONDS - 1
    rows = table_rows(browser, "nodes-table")
    assert sorted(row[0] for row in rows) == node_ids
    for row in rows:
        node = results["nodes"][row[0]]
        assert row[1] == node["state"] and row[3] == f"{node['requests_total']:,}"
    assert browser.evaluate("return document.getElementById('verdict').textContent") == "PASSED"
    browser.screenshot("cluster-report")


def test_submit_wait_with_an_unwritable_report_path_keeps_the_results(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx, tmp_path: Path
) -> None:
    _, leader, _ = three_nodes(make_cluster)
    out = tmp_path / "results.json"
    # sysfs takes no new file, root included.
    report = Path("/sys/loadtest-cluster-report.html")
    done = client(
        ["submit", "--cluster", urls([leader]), str(_plan(tmp_path, nginx.url)), "--wait"]
        + ["--out", str(out), "--report", str(report)],
        tmp_path,
    )
    assert done.returncode == ExitCode.CANNOT_RUN, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert (
        f"loadtest-supervisor submit: cannot write the report to {report}: Permission denied"
        in done.stdout
    )
    assert "PASSED" in done.stdout and "Nodes" in done.stdout
    assert json.loads(out.read_text())["run"]["final"]
