"""Fixtures for multi-process cluster tests (see tests/cluster/harness.py).

make_cluster(env={...}) -> ClusterHarness   every one is killed at teardown
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.harness import ClusterHarness

SECRET = "test-cluster-secret"


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., ClusterHarness]]:
    """Create harnesses (CLUSTER_SECRET set unless overridden); all closed at teardown."""
    harnesses: list[ClusterHarness] = []

    def make(env: dict[str, str] | None = None, **kwargs: Any) -> ClusterHarness:
        workdir = tmp_path / f"cluster-{len(harnesses)}"
        workdir.mkdir()
        harness = ClusterHarness(workdir, env={"CLUSTER_SECRET": SECRET, **(env or {})}, **kwargs)
        harnesses.append(harness)
        return harness

    try:
        yield make
    finally:
        for harness in harnesses:
            harness.close()
