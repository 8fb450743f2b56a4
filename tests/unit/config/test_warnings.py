"""Settings that are given but have no effect are warned about, not rejected."""

from __future__ import annotations

from loadtest_supervisor.config.loading import load_settings
from tests.unit.config.loading import config


def test_warnings() -> None:
    path = config(
        """
target: {url: "http://h/"}
load: {model: Concurrent, target_rps: 50}
request: {method: POST}
scenarios: [{name: s, steps: [{path: /}]}]
"""
    )
    settings = load_settings(path, {"MIN_RPS": "3", "JSON_PAYLOAD": "{}", "CLUSTER_ENABLD": "true"})
    assert settings.warnings == (
        "JSON_PAYLOAD is ignored because SEND_JSON is not true",
        "test.yaml: load.target_rps is ignored because load.model is Concurrent",
        "test.yaml: request is ignored because scenarios are given",
        "environment variable CLUSTER_ENABLD is not a setting and is ignored; did you mean "
        "CLUSTER_ENABLED?",
    )
