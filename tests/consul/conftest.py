"""Fixtures for the Consul discovery plugin tests: one node in the test process, no Raft.

Each test uses its own service name, so tests sharing the session agent never
see each other's registrations; tests that restart or start the agent own it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from loadtest_supervisor.logs import LogfmtFormatter

FAST = {
    "CONSUL_CHECK_INTERVAL": "1s",
    "CONSUL_CHECK_TIMEOUT": "500ms",
    "CONSUL_DEREGISTER_AFTER": "90s",
    "CONSUL_ANTI_ENTROPY_INTERVAL": "1s",
    "CONSUL_BOOTSTRAP_EXPECT": "1",
}


@pytest.fixture
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short Consul timings and no token from the caller's shell.

    Not autouse: test_consul_cluster.py, in this folder too, runs nodes on the defaults.
    """
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONSUL_HTTP_TOKEN", raising=False)


@pytest.fixture
def service() -> str:
    return f"lt-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line the plugin writes, formatted exactly as a node writes it."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)
