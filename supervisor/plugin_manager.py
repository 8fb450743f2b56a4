"""Builds the pluggy plugin manager: hook specs, then the plugins chosen by name.

Every plugin, the built-in ones included, comes from an entry point of one of the
groups in ``supervisor/hookspecs.py``, so ours are loaded exactly like a third
party's. A discovery, consensus or config source plugin is picked by name; every
``loadtest_supervisor.hooks`` plugin is loaded.
"""

from __future__ import annotations

import logging
import os
import reprlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from loadtest_supervisor import hookspecs
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.hooks")

GROUP_PREFIX = f"{hookspecs.PROJECT}."

# Hook arguments include the whole NodeContext; a trace line must stay one readable line.
_brief = reprlib.Repr()
_brief.maxstring = _brief.maxother = 80
_brief.maxlevel = 2


_LABELS = {"config_sources": "config source"}
KINDS = ("discovery", "consensus", "config_sources", "hooks")


class PluginError(Exception):
    """A plugin was named that is not installed, or could not be loaded."""


def build_plugin_manager(
    settings: NodeSettings, consensus: str = "raft", environ: Mapping[str, str] = os.environ
) -> pluggy.PluginManager:
    """The plugin manager for a cluster node with these NodeSettings.

    Raises PluginError naming the setting and the installed choices.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    _register(pm, "discovery", settings.discovery_mode, "DISCOVERY_MODE={!r}")
    _register(pm, "consensus", consensus, "consensus {!r}")
    if settings.config_source is not None:
        _register(pm, "config_sources", settings.config_source, "CLUSTER_CONFIG_SOURCE={!r}")
    for entry_point in entry_points(group=GROUP_PREFIX + "hooks"):
        pm.register(_load(entry_point, "hooks"), name=f"hooks:{entry_point.name}")
    if environ.get("LOADTEST_TRACE_HOOKS", "").strip().lower() in ("1", "true", "yes"):
        pm.add_hookcall_monitoring(_trace_call, _trace_result)
    return pm


def declared_settings() -> list[PluginSettings]:
    """The settings every installed plugin declares (``loadtest_declare_settings``).

    Raises PluginError when an installed plugin cannot be loaded: its settings
    would otherwise go unchecked.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    seen = set()
    for kind in KINDS:
        for entry_point in entry_points(group=GROUP_PREFIX + kind):
            if entry_point.value not in seen:
                seen.add(entry_point.value)
                pm.register(_load(entry_point, kind), name=f"{kind}:{entry_point.name}")
    declared: dict[str, PluginSettings] = {}
    for found in pm.hook.loadtest_declare_settings():
        if found is not None:
            declared.setdefault(found.section, found)
    return list(declared.values())


def installed(kind: str) -> list[str]:
    """Names installed in the ``loadtest_supervisor.<kind>`` entry-point group."""
    return sorted({ep.name for ep in entry_points(group=GROUP_PREFIX + kind)})


def _register(pm: pluggy.PluginManager, kind: str, name: str, setting: str) -> None:
    found = entry_points(group=GROUP_PREFIX + kind).select(name=name)
    if not found:
        names = ", ".join(installed(kind)) or "(none)"
        label = _LABELS.get(kind, kind)
        raise PluginError(f"{setting.format(name)}: no such {label} plugin; installed: {names}")
    entry_point = next(iter(found))
    pm.register(_load(entry_point, kind), name=f"{kind}:{name}")


def _load(entry_point: EntryPoint, kind: str) -> Any:
    """The plugin object: the module itself, or a new instance when it names a class."""
    try:
        found = entry_point.load()
        return found() if isinstance(found, type) else found
    except Exception as exc:  # a broken third-party plugin must be named, not dumped
        raise PluginError(
            f"cannot load {kind} plugin {entry_point.name!r} ({entry_point.value}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _trace_call(hook_name: str, hook_impls: list[Any], kwargs: Mapping[str, Any]) -> None:
    args = {key: _brief.repr(value) for key, value in kwargs.items()}
    plugins = [impl.plugin_name for impl in hook_impls]
    log_event(log, "hook_call", hook=hook_name, plugins=plugins, args=args)


def _trace_result(
    outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: Mapping[str, Any]
) -> None:
    if outcome.exception is not None:
        log_event(log, "hook_error", hook=hook_name, error=repr(outcome.exception))
    else:
        log_event(log, "hook_result", hook=hook_name, result=_brief.repr(outcome.get_result()))
