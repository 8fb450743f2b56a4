"""The shipped examples/ configs load cleanly and between them use every feature."""

from __future__ import annotations

import pytest

from loadtest_supervisor.config.loading import load_settings
from loadtest_supervisor.config.rendering import render_effective_config
from tests.services import REPO_ROOT as ROOT


@pytest.mark.parametrize("name", ["standalone.yaml", "scenario.yaml", "data.yaml"])
def test_examples_are_valid(name: str) -> None:
    settings = load_settings(str(ROOT / "examples" / name), {})
    assert settings.plan is not None
    assert settings.warnings == ()
    render_effective_config(settings)


def test_examples_cover_the_features() -> None:
    standalone = load_settings(str(ROOT / "examples" / "standalone.yaml"), {}).plan
    scenario = load_settings(str(ROOT / "examples" / "scenario.yaml"), {}).plan
    assert standalone is not None and scenario is not None and scenario.scenarios is not None
    assert standalone.load.model == "RampRps" and scenario.load.model == "DailyTraffic"
    assert standalone.target.resolve and standalone.target.headers
    assert standalone.request.json_body is not None
    assert {t.metric for t in standalone.thresholds} >= {"p99", "error_rate", "rps", "requests"}
    steps = [step for s in scenario.scenarios for step in s.steps]
    kinds = {
        kind
        for step in steps
        for e in step.extract.values()
        for kind in ("json_path", "header", "regex")
        if getattr(e, kind)
    }
    assert kinds == {"json_path", "header", "regex"}
    assert any(step.assertions.json_path for step in steps)
    assert any(step.assertions.body_contains for step in steps)
    assert any(step.query for step in steps) and any(step.body for step in steps)
    assert any(step.think_time for step in steps)
    assert len({s.weight for s in scenario.scenarios}) > 1


def test_the_data_example_feeds_its_columns() -> None:
    plan = load_settings(str(ROOT / "examples" / "data.yaml"), {}).plan
    assert plan is not None and plan.data is not None
    assert plan.data.table.columns == ("user", "password") and len(plan.data.table.rows) == 4
