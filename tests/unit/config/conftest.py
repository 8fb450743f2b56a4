"""Each config test runs in its own working directory, where its config files are written."""

from __future__ import annotations

from pathlib import Path

import pytest

# problems() asserts that no traceback reaches the user; rewritten, a failure shows the message.
pytest.register_assert_rewrite("tests.unit.config.loading")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
