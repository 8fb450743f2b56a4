"""The cluster tests' node harness fixture, for the cluster dashboard tests."""

from tests.cluster.conftest import make_cluster as make_cluster  # noqa: F401  (fixture)
