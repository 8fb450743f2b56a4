"""Merging the file, the environment and CLI flags, remembering where each value came from.

Every problem is collected before anything is reported, and each message names
the key (dotted YAML path or environment variable), the value and what is
allowed. Secrets never appear in a message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from loadtest_supervisor.config.environment import (
    CLI_FLAGS,
    ENV_FOR_PATH,
    NODE_ENV,
    PLAN_ENV,
    PLAN_ENV_SPECIAL,
    parse_headers_env,
)
from loadtest_supervisor.config.errors import is_secret_name, show_value
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.config.schema import (
    Path,
    dotted,
    keys_of,
    model_at,
    nested_models,
    section_model,
)
from loadtest_supervisor.config.values import Conflict, Missing, parse_bool

Override = tuple[Path, str, Any]  # path, the flag as the user knows it, value

# Relative paths written in a config file are relative to that file, so the file
# works from any working directory; paths from the environment stay as given.
_FILE_PATHS = {
    ("target", "tls", "ca"),
    ("target", "tls", "client_cert"),
    ("target", "tls", "client_key"),
    ("cluster", "tls_cert"),
    ("cluster", "tls_key"),
    ("cluster", "tls_ca"),
    ("cluster", "data_dir"),
}


class Source(NamedTuple):
    kind: str  # yaml | env | cli | default | derived
    name: str  # the file, the variable, the flag, or what a derived value comes from
    path: Path

    def describe(self) -> str:
        if self.kind in ("yaml", "cli"):
            return f"from {self.name}"
        if self.kind == "env":
            return f"from env {self.name}"
        return self.name


def has(tree: dict[Any, Any], path: Path) -> bool:
    """Whether ``tree`` sets ``path``; a non-mapping on the way counts as set (and is an error)."""
    node: Any = tree
    for part in path:
        if not isinstance(node, dict):
            return True
        if part not in node:
            return False
        node = node[part]
    return True


class Builder:
    """One load: the merged trees, where each value came from, and the problems found."""

    def __init__(
        self,
        label: str | None,
        base_dir: str | None,
        plugins: Sequence[PluginSettings] = (),
        *,
        cluster_mode: bool = True,
    ) -> None:
        self.label = label
        self.base_dir = base_dir
        # Plugin sections nest under cluster: like the core's own keys.
        self.plugins = {p.section: p for p in plugins}
        self.cluster_mode = cluster_mode
        self.env_for_path = dict(ENV_FOR_PATH)
        for plugin in plugins:
            for var, name in plugin.env.items():
                self.env_for_path[("cluster", plugin.section, name)] = var
        self.sources: dict[Path, Source] = {}
        self.problems: list[str] = []
        self.warnings: list[str] = []

    # -- keys ------------------------------------------------------------------

    def keys_of(self, model: type[BaseModel] | None) -> dict[str, Any]:
        """The keys of ``model``'s section; the node settings' include the plugins' sections."""
        keys = keys_of(model)
        if model is NodeSettings:
            keys.update({section: p.model for section, p in self.plugins.items()})
        return keys

    def known_keys_only(
        self, tree: dict[Any, Any], model: type[BaseModel] | None, path: Path
    ) -> dict[Any, Any]:
        """``tree`` without the keys ``model`` does not have, each reported with a suggestion."""
        keys = self.keys_of(model)
        kept = {}
        for key, value in tree.items():
            if key in keys:
                kept[key] = self._descend(value, keys[key], (*path, key))
            elif model is NodeSettings and isinstance(value, dict) and not self.cluster_mode:
                # A plugin's section; plugins are loaded only in cluster mode.
                self.warnings.append(
                    f"{self.label}: {dotted((*path, key))} is not read in standalone mode "
                    "(plugin settings are read when cluster.enabled is true)"
                )
            else:
                self._unknown_key(path, key, sorted(keys))
        return kept

    def _descend(self, value: Any, annotation: Any, path: Path) -> Any:
        nested = nested_models(annotation)
        if nested is None:
            return value
        kind, model = nested
        if kind == "model" and isinstance(value, dict):
            return self.known_keys_only(value, model, path)
        if kind == "list" and isinstance(value, list):
            return [
                self.known_keys_only(item, model, (*path, i)) if isinstance(item, dict) else item
                for i, item in enumerate(value)
            ]
        if kind == "dict" and isinstance(value, dict):
            return {
                k: self.known_keys_only(v, model, (*path, k)) if isinstance(v, dict) else v
                for k, v in value.items()
            }
        return value

    def _unknown_key(self, path: Path, key: Any, allowed: list[str]) -> None:
        where = f"in {dotted(path)}" if path else "at the top level"
        shown = f"{dotted(path)}.{key}" if path else str(key)
        hint = ""
        env_path = {**PLAN_ENV, **NODE_ENV}.get(str(key).upper())
        if env_path:
            hint = f"; did you mean '{dotted(env_path)}'? ({str(key).upper()} is an env variable)"
        elif close := get_close_matches(str(key), allowed, n=1):
            hint = f"; did you mean '{close[0]}'?"
        self.problems.append(
            f"{self.label}: unknown key '{shown}'{hint or ';'} "
            f"allowed keys {where}: {', '.join(allowed)}"
        )

    # -- values ----------------------------------------------------------------

    def record_yaml(self, tree: dict[Any, Any], path: Path, model: type[BaseModel] | None) -> None:
        """Mark what the file sets: leaves of sections, and whole lists and data mappings."""
        keys = self.keys_of(model)
        for key, value in tree.items():
            section = section_model(keys.get(key))
            if section is not None and isinstance(value, dict):
                self.record_yaml(value, (*path, key), section)
            else:
                self.sources[(*path, key)] = Source("yaml", str(self.label), (*path, key))

    def put(self, tree: dict[Any, Any], path: Path, value: Any, source: Source) -> None:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return  # the file gave a scalar where a section belongs; reported as such
        node[path[-1]] = value
        self.sources[path] = source

    def resolve_file_paths(self, tree: dict[Any, Any], section: str) -> None:
        if not self.base_dir:
            return
        for path in _FILE_PATHS:
            if path[0] != section or self.source_of(path).kind != "yaml":
                continue
            parent: Any = tree
            for part in path[:-1]:
                parent = parent.get(part) if isinstance(parent, dict) else None
            value = parent.get(path[-1]) if isinstance(parent, dict) else None
            if isinstance(value, str) and value and not os.path.isabs(value):
                parent[path[-1]] = os.path.join(self.base_dir, value)

    def plan_from_env(self, tree: dict[Any, Any], env: Mapping[str, str]) -> None:
        for var, path in PLAN_ENV.items():
            if var in env and var not in PLAN_ENV_SPECIAL and not has(tree, path):
                self.put(tree, path, env[var], Source("env", var, path))
        if "CUSTOM_HEADERS" in env and not has(tree, PLAN_ENV["CUSTOM_HEADERS"]):
            headers, problems = parse_headers_env(env["CUSTOM_HEADERS"])
            self.problems.extend(problems)
            path = PLAN_ENV["CUSTOM_HEADERS"]
            self.put(tree, path, headers, Source("env", "CUSTOM_HEADERS", path))
        if "SKIP_TLS_VERIFY" in env and not has(tree, PLAN_ENV["SKIP_TLS_VERIFY"]):
            skip = self._env_bool(env, "SKIP_TLS_VERIFY")
            if skip is not None:
                path = PLAN_ENV["SKIP_TLS_VERIFY"]
                self.put(tree, path, not skip, Source("env", "SKIP_TLS_VERIFY", path))
        self._json_from_env(tree, env)

    def _json_from_env(self, tree: dict[Any, Any], env: Mapping[str, str]) -> None:
        # The file's body or json is the request body; the environment does not mix in.
        if has(tree, ("request", "body")) or has(tree, ("request", "json")):
            return
        send = self._env_bool(env, "SEND_JSON") if "SEND_JSON" in env else False
        payload = env.get("JSON_PAYLOAD")
        if not send:
            if payload is not None and "SEND_JSON" not in env:
                self.warnings.append("JSON_PAYLOAD is ignored because SEND_JSON is not true")
            return
        if payload is None:
            self.problems.append(
                f"SEND_JSON={env['SEND_JSON']!r}: needs JSON_PAYLOAD, the JSON body to send"
            )
            return
        try:
            body = json.loads(payload)
        except ValueError as exc:
            shown = show_value(payload, secret=is_secret_name(payload))
            self.problems.append(
                f"JSON_PAYLOAD={shown}: not valid JSON ({exc}); allowed: a JSON document, "
                'e.g. {"a": 1}'
            )
            return
        path = ("request", "json")
        self.put(tree, path, body, Source("env", "JSON_PAYLOAD", path))

    def _env_bool(self, env: Mapping[str, str], var: str) -> bool | None:
        try:
            return parse_bool(env[var])
        except ValueError as exc:
            self.problems.append(f"{var}={env[var]!r}: {exc}")
            return None

    # -- validation ------------------------------------------------------------

    def validate(
        self, model: type[BaseModel], tree: Any, prefix: Path = ()
    ) -> tuple[Any, list[str]]:
        try:
            return model.model_validate(tree), []
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            return None, [self._message((*prefix, *e["loc"]), e) for e in errors]

    def source_of(self, path: Path) -> Source:
        for end in range(len(path), 0, -1):
            if path[:end] in self.sources:
                return self.sources[path[:end]]
        return Source("default", "default", ())

    def label_of(self, path: Path) -> str:
        source = self.source_of(path)
        if source.kind == "yaml":
            return f"{source.name}: {dotted(path)}"
        if source.kind in ("env", "cli"):
            rest = dotted(path[len(source.path) :])
            return source.name + (rest if not rest or rest.startswith("[") else f".{rest}")
        return dotted(path)

    def _message(self, loc: Path, error: Any) -> str:
        # A dict key's own error has the marker "[key]" after the key.
        path = tuple(part for part in loc if part != "[key]")
        label = self.label_of(path)
        cause = error.get("ctx", {}).get("error")
        if error["type"] == "missing" or isinstance(cause, Missing):
            reason = str(cause) if isinstance(cause, Missing) else "required"
            return f"{label}: {reason}{self._where_to_set(path)}"
        if isinstance(cause, Conflict):
            return f"{label}: {cause}"
        if isinstance(cause, ValueError):
            reason = str(cause)
        elif error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            model = model_at(path)
            keys = f" with keys: {', '.join(sorted(keys_of(model)))}" if model else ""
            reason = f"must be a mapping{keys}"
        else:
            reason = error["msg"]
        last = next((p for p in reversed(path) if isinstance(p, str)), "")
        secret = is_secret_name(last) and "[key]" not in loc
        return f"{label}={show_value(error.get('input'), secret=secret)}: {reason}"

    def _where_to_set(self, path: Path) -> str:
        if self.source_of(path).kind != "default":
            return ""
        var = self.env_for_path.get(path)
        if var is None:
            return ""
        in_file = self.label or "a --config file"
        return f"; set {dotted(path)} in {in_file} or the {var} environment variable"


def override_paths(overrides: Mapping[str, Any] | None) -> list[Override]:
    """(path, flag, value) per CLI override; a None value means the flag was not given."""
    result = []
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in CLI_FLAGS:
            result.append((CLI_FLAGS[key], f"--{key}", value))
            continue
        path = tuple(key.split("."))
        parent = model_at(path[:-1]) if len(path) > 1 else None
        if parent is None or path[-1] not in keys_of(parent):
            allowed = ", ".join([*CLI_FLAGS, "or a dotted key such as load.concurrency"])
            raise ValueError(f"unknown override {key!r}; allowed: {allowed}")
        result.append((path, f"override {key}", value))
    return result
