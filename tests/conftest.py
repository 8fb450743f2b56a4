"""Fixtures for the real services the tests run against.

Binaries come from .cache/test-services/bin (scripts/test-services builds them;
the test command runs it first). Every fixture starts a real process on free
loopback ports and stops its whole process group at teardown, pass or fail.

    consul           shared dev agent (session): .http_addr .url .dns_port .client .restart()
    consul_factory   consul_factory() -> a new ConsulAgent of this test's own, stopped after it
    consul_template  ConsulTemplate bound to `consul`: .render_once(tpl, dest) .start(tpl, dest)
    gcs              fake-gcs-server (session): .emulator_host .url .env() .client()
    nginx            nginx (session): .url .port, serves Nginx.body at any path with keep-alive
    logged_nginx     nginx of this test's own that logs each request: .hits() (time, status, path)
    http_target      loadtest_supervisor.demo.target (session): .url .host .port
    http_target_factory  http_target_factory(access_log=False) -> a HttpTarget of this test's
    browser          headless Chromium of this test's own (tests/support/browser.py): .open(url)
                     .console_errors() .requests() .evaluate(js) .screenshot(name)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.services import ConsulAgent, ConsulTemplate, FakeGcs, HttpTarget, Nginx
from tests.support.browser import (
    browser,  # noqa: F401  (the fixture, defined there)
    summarise_artifacts,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    summarise_artifacts(terminalreporter)


@pytest.fixture(scope="session")
def consul(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsulAgent]:
    """One Consul dev agent shared by the session.

    Tests that restart the agent or need a clean catalog use `consul_factory`,
    so they cannot disturb the others.
    """
    with ConsulAgent(tmp_path_factory.mktemp("consul")) as agent:
        yield agent


@pytest.fixture
def consul_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], ConsulAgent]]:
    """Start agents owned by one test; all of them are stopped when it ends."""
    agents: list[ConsulAgent] = []

    def start() -> ConsulAgent:
        agent = ConsulAgent(tmp_path_factory.mktemp("consul-own"))
        agents.append(agent)
        return agent.start()

    try:
        yield start
    finally:
        for agent in agents:
            agent.stop()


@pytest.fixture
def consul_template(consul: ConsulAgent, tmp_path: Path) -> Iterator[ConsulTemplate]:
    """consul-template against the shared agent; daemons it started are stopped after the test."""
    runner = ConsulTemplate(consul.http_addr, tmp_path)
    try:
        yield runner
    finally:
        runner.stop_all()


@pytest.fixture(scope="session")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    """fake-gcs-server with an in-memory backend; bucket names should be unique per test."""
    with FakeGcs(tmp_path_factory.mktemp("gcs")) as server:
        yield server


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with Nginx(tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture
def logged_nginx(tmp_path: Path) -> Iterator[Nginx]:
    """Its own, so a test's access log holds only what its load sent."""
    with Nginx(tmp_path / "logged-nginx", access_log=True) as server:
        yield server


@pytest.fixture(scope="session")
def http_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpTarget]:
    with HttpTarget(tmp_path_factory.mktemp("http-target")) as target:
        yield target


@pytest.fixture
def http_target_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., HttpTarget]]:
    """Targets owned by one test (to kill, restart or overload); stopped when it ends.
    ``access_log=True`` makes one that logs each request's arrival."""
    targets: list[HttpTarget] = []

    def start(access_log: bool = False) -> HttpTarget:
        target = HttpTarget(tmp_path_factory.mktemp("http-target-own"), access_log=access_log)
        targets.append(target)
        return target.start()

    try:
        yield start
    finally:
        for target in targets:
            target.stop()
