"""The cluster tests' node harness fixture, for the DNS discovery cluster tests."""

from tests.cluster.conftest import make_cluster as make_cluster  # noqa: F401  (fixture)
