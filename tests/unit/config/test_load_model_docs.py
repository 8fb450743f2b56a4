"""The README's settings table says what the load-model table says."""

from __future__ import annotations

from loadtest_supervisor.config.environment import PLAN_ENV
from loadtest_supervisor.config.load_models import LOAD_MODELS
from tests.services import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
ENV_FOR_LOAD_KEY = {path[1]: var for var, path in PLAN_ENV.items() if path[0] == "load"}


def test_the_model_variable_lists_every_model() -> None:
    (row,) = [line for line in README if line.startswith("| `LOAD_MODEL_TYPE`")]
    assert all(f"`{name}`" in row for name in LOAD_MODELS)


def test_each_model_row_names_exactly_its_required_variables() -> None:
    for model in LOAD_MODELS.values():
        rows = [line for line in README if f"required for `{model.name}`" in line]
        if not model.required:
            assert rows == []
            continue
        (row,) = rows
        named = {var for var in ENV_FOR_LOAD_KEY.values() if f"`{var}`" in row.split("|")[1]}
        assert named == {ENV_FOR_LOAD_KEY[key] for key in model.required}, model.name
