"""Loading a config the way a user does, and reading the lines the user is shown.

Everything is real: the installed plugins' declared settings are passed as the CLI
passes them (they are read in cluster mode only), the environment is a plain dict,
configs are files in the working directory (conftest.py gives each test its own
tmp_path), named ``test.yaml`` so that messages can be compared in full, exactly as
a user reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import Settings, load_settings
from loadtest_supervisor.plugin_manager import declared_settings

URL = "http://127.0.0.1:8080/path"
ENV = {"TARGET_URL": URL}


def config(text: str, name: str = "test.yaml") -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def problems(
    path: str | None, env: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env or {}, overrides, declared_settings)
    message = str(info.value)
    assert "Traceback" not in message
    return message.splitlines()


def load(path: str | None = None, **env: str) -> Settings:
    return load_settings(path, {**ENV, **env}, None, declared_settings)
