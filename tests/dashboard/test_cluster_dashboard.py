"""The dashboard of real cluster nodes, in headless Chromium: a follower's page shows the
cluster as its leader sees it and follows a leader's death, and the stop button is there
only where the node takes a token, and stops the run."""

from __future__ import annotations

from collections.abc import Callable

from selenium.webdriver.common.by import By

from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.harness import ClusterHarness
from tests.cluster.test_cluster_run import rps_plan, three_nodes
from tests.dashboard.page import DashboardPage
from tests.services import Nginx
from tests.support import wait_for
from tests.support.browser import Browser

METRICS = {"CLUSTER_METRICS_INTERVAL": "1s", "CLUSTER_CHECKPOINT_INTERVAL": "5s"}
# Long enough to outlive the leader's death; the test stops it with the button.
RUN_S = 60
LEADER_SHOWN_WITHIN_S = 3.0


def test_a_followers_dashboard_shows_the_cluster_follows_the_leader_and_stops_the_run(
    make_cluster: Callable[..., ClusterHarness], nginx: Nginx, browser: Browser
) -> None:
    cluster, leader, (follower, other) = three_nodes(make_cluster, **METRICS)
    page = DashboardPage(browser, f"http://{follower.health_addr}")
    page.open()

    # Every node, as the leader sees them: itself leading, the two others following.
    expected = {
        (node.node_id, node.grpc_addr, "leader" if node is leader else "follower")
        for node in cluster.nodes
    }
    page.wait_for(
        lambda: (
            {(n["node_id"].rstrip(" ★"), n["address"], n["state"]) for n in page.nodes()}
            == expected
        ),
        what="the three nodes with their states",
    )
    assert page.text("leader") == leader.node_id
    assert page.text("view-source") == "as the leader sees it"

    assert post_run(follower, rps_plan(nginx, 150, RUN_S), TOKEN)[0] == 200
    sha = wait_for(lambda: follower.health().get("config", {}).get("sha256"), timeout=15)
    page.wait_for(lambda: page.text("run-state") == "running", what="the run shown running")
    assert page.text("plan-sha") == sha[:12]
    page.wait_for_moving_numbers()
    page.wait_for(lambda: page.chart_points("chart-nodes") >= 6, what="each node's req/s")
    shares = {n["node_id"].rstrip(" ★"): n["share"] for n in page.nodes()}
    assert shares == {node.node_id: "33.3 %" for node in cluster.nodes}
    browser.screenshot("follower-dashboard")

    leader.kill9()
    page.wait_for(
        lambda: page.text("leader") != leader.node_id,
        what="the leader shown to change",
        timeout=LEADER_SHOWN_WITHIN_S,
    )
    new_leader_id, _ = cluster.wait_for_agreement(timeout=30)
    page.wait_for(lambda: page.text("leader") == new_leader_id, what="the new leader shown")
    page.wait_for(
        lambda: (
            {n["node_id"].rstrip(" ★"): n["state"] for n in page.nodes()}.get(leader.node_id)
            in ("unreachable", "lost")
        ),
        what="the dead leader shown gone",
    )
    page.wait_for_moving_numbers()  # the run goes on under the new leader
    browser.screenshot("after-the-leader-died")

    # The stop: the token typed into the page, never sent by the server.
    assert TOKEN not in browser.evaluate("return document.documentElement.outerHTML")
    page.wait_for(
        lambda: page.browser.evaluate("return !document.getElementById('stop-button').disabled"),
        what="the stop button enabled",
    )
    browser.driver.find_element(By.ID, "stop-token").send_keys(TOKEN)
    browser.driver.find_element(By.ID, "stop-button").click()
    # The page retries while there is no leader with quorum (up to 10 s), then says.
    page.wait_for(
        lambda: not (page.text("stop-message") or "stopping").startswith("stopping"),
        what="the stop answered",
        timeout=15,
    )
    assert (page.text("stop-message") or "").startswith("stopped run "), page.text("stop-message")
    wait_for(
        lambda: follower.health()["run"]["state"] == "stopped",
        timeout=15,
        what="the run stopped",
    )
    page.wait_for(lambda: page.text("run-state") == "stopped", what="the run shown stopped")
    errors = browser.console_errors()

    assert other.health()["run"]["state"] == "stopped"
    assert errors == []


def test_without_a_token_the_dashboard_has_no_stop_button(
    make_cluster: Callable[..., ClusterHarness], browser: Browser
) -> None:
    cluster = make_cluster()  # no CLUSTER_API_TOKEN
    (node,) = cluster.start(1)
    cluster.wait_for_agreement(timeout=30)
    page = DashboardPage(browser, f"http://{node.health_addr}")
    page.open()
    page.wait_for(lambda: page.text("leader") == node.node_id, what="the node leading")

    assert not page.has_element("stop-button")
    assert not page.has_element("stop-token")
    assert browser.console_errors() == []
