"""Settings that plugins declare: their own variables and their ``cluster.<section>:`` keys.

A plugin answers ``loadtest_declare_settings`` with a ``PluginSettings``: a pydantic
model (types, defaults, rules; ``SecretStr`` fields are secret), the environment
variable of each field, and the prefix of the variables it owns. The core loads them
exactly like its own node settings (the environment wins over the file), names the
key, the value and what is allowed when one is wrong, shows them with their source in
``--print-config`` with secrets masked, and warns about a variable that carries the
prefix but is no setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches

from pydantic import BaseModel


@dataclass(frozen=True)
class PluginSettings:
    """One plugin's settings, as it declares them."""

    section: str  # the YAML key under cluster:, e.g. "consul"
    model: type[BaseModel]
    env: Mapping[str, str] = field(default_factory=dict)  # variable -> field of ``model``
    env_prefix: str | None = None  # e.g. "CONSUL_": unknown variables with it get a warning


def unknown_plugin_variables(
    environ: Mapping[str, str], declared: Sequence[PluginSettings]
) -> list[str]:
    """Warnings for variables that carry a plugin's prefix but are none of its settings."""
    warnings = []
    for settings in declared:
        if not settings.env_prefix:
            continue
        known = sorted(settings.env)
        for var in sorted(environ):
            if var.startswith(settings.env_prefix) and var not in settings.env:
                close = get_close_matches(var, known, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                warnings.append(
                    f"environment variable {var} is not a setting of the {settings.section} "
                    f"plugin and is ignored{hint}"
                )
    return warnings
