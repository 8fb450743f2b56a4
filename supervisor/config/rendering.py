"""``--print-config``: the merged configuration as YAML, each value commented with its origin."""

from __future__ import annotations

import json
import os
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from loadtest_supervisor.config.errors import MASK, mask_tree
from loadtest_supervisor.config.loading import Settings
from loadtest_supervisor.config.models import NodeSettings, TestPlan
from loadtest_supervisor.config.schema import Path, keys_of, section_model


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 30)
    lines = [line for line in text.splitlines() if line != "..."]
    return lines[0] if len(lines) == 1 else json.dumps(value)


def _emit(lines: list[str], indent: int, key: str, value: Any, comment: str) -> None:
    pad = "  " * indent
    note = f"  # {comment}" if comment else ""
    if isinstance(value, dict | list) and value:
        lines.append(f"{pad}{key}:{note}")
        block = yaml.safe_dump(
            value, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1 << 30
        )
        lines.extend(f"{pad}  {line}" for line in block.splitlines())
    else:
        lines.append(f"{pad}{key}: {_scalar(value)}{note}")


def _emit_section(
    lines: list[str],
    settings: Settings,
    model: type[BaseModel],
    dumped: dict[str, Any],
    path: Path,
    notes: dict[Path, str],
) -> None:
    for key, annotation in keys_of(model).items():
        value = dumped.get(key)
        child = (*path, key)
        if section_model(annotation) and isinstance(value, dict):
            lines.append(f"{'  ' * len(path)}{key}:")
            _emit_section(lines, settings, section_model(annotation), value, child, notes)
            continue
        comment = settings.source_of(child)
        if child in notes:
            comment += f" ({notes[child]})"
        _emit(lines, len(path), key, value, comment)


def render_effective_config(settings: Settings) -> str:
    """The merged configuration as YAML, each value commented with its origin.

    Secrets (the Consul token, the cluster secret, credential-like headers and
    query or JSON keys, URL passwords) are printed as ``***``; apart from them
    the output can be fed back as a config file.
    """
    lines = [
        "# Effective configuration of loadtest-supervisor",
        f"# config file: {settings.config_path or 'none'}",
        "# secrets are shown as ***; comments say where each value came from",
    ]
    notes: dict[Path, str] = {}
    if settings.plan is not None and settings.plan.load.workers is None:
        notes[("load", "workers")] = f"null means os.cpu_count(), here {os.cpu_count()}"
    if settings.plan is None:
        lines.append("# no test plan on this node: it runs the plan the cluster leader commits")
    else:
        dumped = mask_tree(settings.plan.model_dump(mode="json", by_alias=True))
        _emit_section(lines, settings, TestPlan, dumped, (), notes)
    lines.append("cluster:")
    # Key names mask the secrets here too: secret is a secret-like name.
    dumped = mask_tree(settings.node.model_dump(mode="json"))
    _emit_section(lines, settings, NodeSettings, dumped, ("cluster",), notes)
    for section, model in settings.node.plugin_sections.items():
        lines.append(f"  {section}:")
        _emit_section(lines, settings, type(model), _masked(model), ("cluster", section), notes)
    return "\n".join(lines) + "\n"


def _masked(model: BaseModel) -> dict[str, Any]:
    """A plugin's settings as JSON values; its secrets, by type or by name, as ***."""
    dumped = mask_tree(model.model_dump(mode="json"))
    for name in type(model).model_fields:
        if isinstance(getattr(model, name), SecretStr):
            dumped[name] = MASK
    return dumped
