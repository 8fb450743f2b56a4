"""Fixtures for multi-process cluster tests (see tests/cluster/harness.py).

make_cluster(env={...}) -> ClusterHarness   every one is killed at teardown
fault_cluster(env={...}) -> FaultHarness    the same, with faults and health pollers
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.fault_harness import FaultHarness
from tests.cluster.faults import Faults
from tests.cluster.faults import faults_fixture as faults_fixture  # noqa: F401  (fixture)
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


@pytest.fixture
def fault_cluster(tmp_path: Path, faults: Faults) -> Iterator[Callable[..., FaultHarness]]:
    """FaultHarnesses for this test; closed (nodes killed) before ``faults`` heals and
    removes the rules, pass or fail."""
    made: list[FaultHarness] = []

    def make(**kwargs: Any) -> FaultHarness:
        workdir = tmp_path / f"faulty-{len(made)}"
        workdir.mkdir()
        env = {"CLUSTER_SECRET": SECRET, **kwargs.pop("env", {})}
        harness = FaultHarness(workdir, faults, env=env, **kwargs)
        made.append(harness)
        return harness

    try:
        yield make
    finally:
        for harness in made:
            harness.close()
