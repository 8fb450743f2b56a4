"""Configuration: a YAML file, the environment and CLI flags, merged and validated up front.

Precedence (DESIGN §11): the file describes the test, the environment the
machine. For the test plan, CLI > YAML (for the keys it sets) > env > defaults;
for the node settings (the ``cluster:`` section), CLI > env > YAML > defaults.
Where every value came from is kept, so ``--print-config`` can show it.

Every problem is collected before anything is reported, and each message names
the key (dotted YAML path or environment variable), the value and what is
allowed. Secrets never appear in a message or in the printed config.
"""

from __future__ import annotations

import json
import os
import re
import socket
import types
import typing
from collections.abc import Iterator, Mapping
from difflib import get_close_matches
from typing import Any, NamedTuple

import yaml
from loadtest_supervisor.config_errors import (
    ConfigError,
    is_secret_name,
    mask_tree,
    show_value,
)
from loadtest_supervisor.config_models import (
    Assertions,
    Extraction,
    LoadSettings,
    NodeSettings,
    RequestSettings,
    Scenario,
    Step,
    TargetSettings,
    TestPlan,
    TLSSettings,
)
from loadtest_supervisor.config_types import PLACEHOLDER, VAR_NAME, Conflict, Missing, parse_bool
from loadtest_supervisor.durations import parse_duration
from loadtest_supervisor.thresholds import Threshold
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "Assertions",
    "ConfigError",
    "Extraction",
    "LoadSettings",
    "NodeSettings",
    "RequestSettings",
    "Scenario",
    "Settings",
    "Step",
    "TargetSettings",
    "TestPlan",
    "Threshold",
    "TLSSettings",
    "dump_plan",
    "load_plan_text",
    "load_settings",
    "parse_duration",
    "render_effective_config",
]

Path = tuple[str | int, ...]
Override = tuple[Path, str, Any]  # path, the flag as the user knows it, value

PLAN_ENV: dict[str, Path] = {
    "TARGET_URL": ("target", "url"),
    "RESOLVE_TARGET_ADDR": ("target", "resolve"),
    "CUSTOM_HEADERS": ("target", "headers"),
    "CONNECT_TIMEOUT": ("target", "connect_timeout"),
    "REQUEST_TIMEOUT": ("target", "request_timeout"),
    "KEEP_ALIVE": ("target", "keep_alive"),
    "SKIP_TLS_VERIFY": ("target", "tls", "verify"),
    "TLS_CA_PATH": ("target", "tls", "ca"),
    "CLIENT_CERT_PATH": ("target", "tls", "client_cert"),
    "CLIENT_KEY_PATH": ("target", "tls", "client_key"),
    "LOAD_MODEL_TYPE": ("load", "model"),
    "NUM_CONCURRENT_TASKS": ("load", "concurrency"),
    "TEST_DURATION": ("load", "duration"),
    "LOADTEST_WORKERS": ("load", "workers"),
    "TARGET_RPS": ("load", "target_rps"),
    "MIN_RPS": ("load", "min_rps"),
    "MAX_RPS": ("load", "max_rps"),
    "RAMP_DURATION": ("load", "ramp_duration"),
    "DAILY_MIN_RPS": ("load", "daily_min_rps"),
    "DAILY_MID_RPS": ("load", "daily_mid_rps"),
    "DAILY_MAX_RPS": ("load", "daily_max_rps"),
    "DAILY_CYCLE_DURATION": ("load", "daily_cycle_duration"),
    "REQUEST_TYPE": ("request", "method"),
    "JSON_PAYLOAD": ("request", "json"),
}
# SEND_JSON has no path of its own: it decides whether JSON_PAYLOAD is used.
_PLAN_ENV_SPECIAL = ("CUSTOM_HEADERS", "SKIP_TLS_VERIFY", "JSON_PAYLOAD")

NODE_ENV: dict[str, Path] = {
    "CLUSTER_ENABLED": ("cluster", "enabled"),
    "CLUSTER_BIND_ADDR": ("cluster", "bind_addr"),
    "CLUSTER_HEALTH_ADDR": ("cluster", "health_addr"),
    "HTTP_API_ENABLED": ("cluster", "http_api"),
    "CLUSTER_NODE_ID": ("cluster", "node_id"),
    "CLUSTER_REGION": ("cluster", "region"),
    "CLUSTER_ADVERTISE_ADDR": ("cluster", "advertise_addr"),
    "DISCOVERY_MODE": ("cluster", "discovery_mode"),
    "CLUSTER_NODES": ("cluster", "nodes"),
    "CONSUL_ADDR": ("cluster", "consul_addr"),
    "CONSUL_SERVICE_NAME": ("cluster", "consul_service_name"),
    "CONSUL_HTTP_TOKEN": ("cluster", "consul_token"),
    "CLUSTER_SECRET": ("cluster", "secret"),
    "CLUSTER_TLS_CERT": ("cluster", "tls_cert"),
    "CLUSTER_TLS_KEY": ("cluster", "tls_key"),
    "CLUSTER_TLS_CA": ("cluster", "tls_ca"),
    "CLUSTER_INSECURE": ("cluster", "insecure"),
    "CLUSTER_DATA_DIR": ("cluster", "data_dir"),
    "CLUSTER_MEMBER_REMOVE_AFTER": ("cluster", "member_remove_after"),
    "CLUSTER_CONFIG_SOURCE": ("cluster", "config_source"),
    "CLUSTER_CONFIG_GCS_URI": ("cluster", "config_gcs_uri"),
    "CLUSTER_CONFIG_CONSUL_KEY": ("cluster", "config_consul_key"),
}
_ENV_FOR_PATH = {path: var for var, path in {**PLAN_ENV, **NODE_ENV}.items()}
_ENV_FOR_PATH[("request", "json")] = "SEND_JSON=true with JSON_PAYLOAD"

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
# CLI flags with a name of their own; any other override key is a dotted YAML path.
_CLI_FLAGS: dict[str, Path] = {
    "workers": ("load", "workers"),
    "duration": ("load", "duration"),
    "target_url": ("target", "url"),
}
_MODEL_KEYS = {
    "Concurrent": set(),
    "Rps": {"target_rps"},
    "RampRps": {"min_rps", "max_rps", "ramp_duration"},
    "DailyTraffic": {"daily_min_rps", "daily_mid_rps", "daily_max_rps", "daily_cycle_duration"},
}
_HEADERS_SYNTAX = "Name:Value,Name2:Value2 (\\, escapes a comma inside a value)"


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


class Settings(BaseModel):
    """Everything ``load_settings`` produced.

    ``plan`` is None only in cluster mode when this node was given no plan (no
    plan sections in the file and no TARGET_URL): it then waits for the plan the
    leader commits.
    """

    model_config = ConfigDict(frozen=True)

    plan: TestPlan | None
    node: NodeSettings
    config_path: str | None
    sources: dict[str, str] = {}  # dotted YAML path -> "from env TARGET_RPS", "from test.yaml", …
    warnings: tuple[str, ...] = ()

    def source_of(self, path: Path) -> str:
        """Where the value at ``path`` (e.g. ``("load", "duration")``) came from."""
        for end in range(len(path), 0, -1):
            described = self.sources.get(_dotted(path[:end]))
            if described is not None:
                return described
        return "default"


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif VAR_NAME.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


# --- the schema, read from the models ------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = _unwrap(options[0]) if len(options) == 1 else annotation
    return annotation


def _section(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    # Threshold is a model but is written as a string, so it is no section.
    return annotation if is_model and annotation is not Threshold else None


def _keys(model: type[BaseModel] | None) -> dict[str, Any]:
    """YAML key -> annotation; the top level of a config file when ``model`` is None."""
    if model is None:
        return {**_keys(TestPlan), "cluster": NodeSettings}
    return {field.alias or name: field.annotation for name, field in model.model_fields.items()}


def _children(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """How a value of this type nests sections: ``model``, ``list`` of or ``dict`` of them."""
    if model := _section(annotation):
        return "model", model
    annotation = _unwrap(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args and (model := _section(args[0])):
        return "list", model
    if origin is dict and len(args) == 2 and (model := _section(args[1])):
        return "dict", model
    return None


def _model_at(path: Path) -> type[BaseModel] | None:
    keys = _keys(None)
    model = None
    index = 0
    while index < len(path):
        nested = _children(keys.get(path[index])) if isinstance(path[index], str) else None
        if nested is None:
            return None
        kind, model = nested
        index += 1 if kind == "model" else 2
        keys = _keys(model)
    return model


# --- reading the file ----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML that reports duplicate keys and leaves dates as strings.

    PyYAML keeps the last of two equal keys silently; in a config that hides an edit.
    Dates would otherwise become ``date`` objects, which no JSON body can carry.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                line = first_line.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # unhashable: the base class reports it
            if line != key_node.start_mark.line + 1:
                self.duplicates.append(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                    f"(first at line {line}); each key may appear once"
                )
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_yaml(text: str, label: str) -> tuple[dict[Any, Any], list[str]]:
    """The document and its non-fatal problems; raises ``ConfigError`` when unusable."""
    loader = _Loader(text)
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise ConfigError(
            f"{label}: YAML syntax error{where}: {exc.problem or exc.context}{context}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    if doc is None:
        return {}, []
    if not isinstance(doc, dict):
        kind = {list: "a list", str: "a string"}.get(type(doc), f"a {type(doc).__name__}")
        raise ConfigError(
            f"{label}: the top level must be a mapping of sections "
            f"({', '.join(sorted(_keys(None)))}), not {kind}"
        )
    return doc, [f"{label}: {problem}" for problem in loader.duplicates]


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read config file: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None


# --- merging the three sources -------------------------------------------------------------------


def _parse_headers_env(text: str) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    problems = []
    pairs = re.split(r"(?<!\\),", text)
    for number, raw in enumerate(pairs, 1):
        pair = raw.replace("\\,", ",").strip()
        if not pair:
            continue
        name, sep, value = pair.partition(":")
        if not sep or not name.strip():
            shown = show_value(pair, secret=is_secret_name(pair))
            problems.append(
                f"CUSTOM_HEADERS pair {number}={shown}: must be Name:Value; "
                f"allowed: {_HEADERS_SYNTAX}"
            )
            continue
        headers[name.strip()] = value.strip()
    return headers, problems


def _has(tree: dict[Any, Any], path: Path) -> bool:
    """Whether ``tree`` sets ``path``; a non-mapping on the way counts as set (and is an error)."""
    node: Any = tree
    for part in path:
        if not isinstance(node, dict):
            return True
        if part not in node:
            return False
        node = node[part]
    return True


class _Builder:
    """One load: the merged trees, where each value came from, and the problems found."""

    def __init__(self, label: str | None, base_dir: str | None) -> None:
        self.label = label
        self.base_dir = base_dir
        self.sources: dict[Path, Source] = {}
        self.problems: list[str] = []
        self.warnings: list[str] = []

    # -- keys ------------------------------------------------------------------

    def known_keys_only(
        self, tree: dict[Any, Any], model: type[BaseModel] | None, path: Path
    ) -> dict[Any, Any]:
        """``tree`` without the keys ``model`` does not have, each reported with a suggestion."""
        keys = _keys(model)
        kept = {}
        for key, value in tree.items():
            if key in keys:
                kept[key] = self._descend(value, keys[key], (*path, key))
            else:
                self._unknown_key(path, key, sorted(keys))
        return kept

    def _descend(self, value: Any, annotation: Any, path: Path) -> Any:
        nested = _children(annotation)
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
        where = f"in {_dotted(path)}" if path else "at the top level"
        shown = f"{_dotted(path)}.{key}" if path else str(key)
        hint = ""
        env_path = {**PLAN_ENV, **NODE_ENV}.get(str(key).upper())
        if env_path:
            hint = f"; did you mean '{_dotted(env_path)}'? ({str(key).upper()} is an env variable)"
        elif close := get_close_matches(str(key), allowed, n=1):
            hint = f"; did you mean '{close[0]}'?"
        self.problems.append(
            f"{self.label}: unknown key '{shown}'{hint or ';'} "
            f"allowed keys {where}: {', '.join(allowed)}"
        )

    # -- values ----------------------------------------------------------------

    def record_yaml(self, tree: dict[Any, Any], path: Path, model: type[BaseModel] | None) -> None:
        """Mark what the file sets: leaves of sections, and whole lists and data mappings."""
        keys = _keys(model)
        for key, value in tree.items():
            section = _section(keys.get(key))
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
            if var in env and var not in _PLAN_ENV_SPECIAL and not _has(tree, path):
                self.put(tree, path, env[var], Source("env", var, path))
        if "CUSTOM_HEADERS" in env and not _has(tree, PLAN_ENV["CUSTOM_HEADERS"]):
            headers, problems = _parse_headers_env(env["CUSTOM_HEADERS"])
            self.problems.extend(problems)
            path = PLAN_ENV["CUSTOM_HEADERS"]
            self.put(tree, path, headers, Source("env", "CUSTOM_HEADERS", path))
        if "SKIP_TLS_VERIFY" in env and not _has(tree, PLAN_ENV["SKIP_TLS_VERIFY"]):
            skip = self._env_bool(env, "SKIP_TLS_VERIFY")
            if skip is not None:
                path = PLAN_ENV["SKIP_TLS_VERIFY"]
                self.put(tree, path, not skip, Source("env", "SKIP_TLS_VERIFY", path))
        self._json_from_env(tree, env)

    def _json_from_env(self, tree: dict[Any, Any], env: Mapping[str, str]) -> None:
        # The file's body or json is the request body; the environment does not mix in.
        if _has(tree, ("request", "body")) or _has(tree, ("request", "json")):
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
            return f"{source.name}: {_dotted(path)}"
        if source.kind in ("env", "cli"):
            rest = _dotted(path[len(source.path) :])
            return source.name + (rest if not rest or rest.startswith("[") else f".{rest}")
        return _dotted(path)

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
            model = _model_at(path)
            keys = f" with keys: {', '.join(sorted(_keys(model)))}" if model else ""
            reason = f"must be a mapping{keys}"
        else:
            reason = error["msg"]
        last = next((p for p in reversed(path) if isinstance(p, str)), "")
        secret = is_secret_name(last) and "[key]" not in loc
        return f"{label}={show_value(error.get('input'), secret=secret)}: {reason}"

    def _where_to_set(self, path: Path) -> str:
        if self.source_of(path).kind != "default":
            return ""
        var = _ENV_FOR_PATH.get(path)
        if var is None:
            return ""
        in_file = self.label or "a --config file"
        return f"; set {_dotted(path)} in {in_file} or the {var} environment variable"

    # -- rules across a whole scenario -----------------------------------------

    def check_scenarios(self, scenarios: Any) -> None:
        """Unique names and ``${var}`` use; read from the raw tree so no other error hides them."""
        if not isinstance(scenarios, list):
            return
        first_index: dict[str, int] = {}
        for i, scenario in enumerate(scenarios):
            if not isinstance(scenario, dict):
                continue
            name = scenario.get("name")
            if isinstance(name, str):
                if name in first_index:
                    self.problems.append(
                        f"{self.label_of(('scenarios', i, 'name'))}={name!r}: must be unique; "
                        f"scenarios[{first_index[name]}] has the same name"
                    )
                first_index.setdefault(name, i)
            steps = scenario.get("steps")
            if isinstance(steps, list):
                self._check_steps(i, name, steps)

    def _check_steps(self, i: int, scenario: Any, steps: list[Any]) -> None:
        extracted_by: dict[str, int] = {}
        for j, step in enumerate(steps):
            extract = step.get("extract") if isinstance(step, dict) else None
            for var in extract if isinstance(extract, dict) else ():
                extracted_by.setdefault(var, j)
        defined: list[str] = []
        first_index: dict[str, int] = {}
        for j, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            name = _step_name(step)
            if name is not None:
                if name in first_index:
                    self.problems.append(
                        f"{self.label_of(('scenarios', i, 'steps', j, 'name'))}={name!r}: must "
                        f"be unique in scenario {scenario!r}; steps[{first_index[name]}] has "
                        "the same name (set name: to tell them apart)"
                    )
                first_index.setdefault(name, j)
            for field in ("path", "headers", "query", "body", "json"):
                for var in sorted(set(_placeholders(step.get(field)))):
                    reason = _undefined_var(var, j, defined, extracted_by)
                    if reason:
                        label = self.label_of(("scenarios", i, "steps", j, field))
                        where = f"in step {name!r} of scenario {scenario!r}"
                        self.problems.append(
                            f"{label}={show_value(step[field])}: ${{{var}}} {where} {reason}"
                        )
            extract = step.get("extract")
            for var in extract if isinstance(extract, dict) else ():
                if isinstance(var, str) and VAR_NAME.fullmatch(var) and var not in defined:
                    defined.append(var)

    def check_no_placeholders(self, tree: dict[Any, Any]) -> None:
        """``${var}`` outside scenario steps: no step has extracted anything there."""
        for path in (
            ("target", "url"),
            ("target", "headers"),
            ("request", "body"),
            ("request", "json"),
        ):
            node: Any = tree
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            for var in sorted(set(_placeholders(node))):
                self.problems.append(
                    f"{self.label_of(path)}={show_value(node)}: ${{{var}}} cannot be used here; "
                    "allowed: variables only in scenario steps, after the step that extracts them"
                )


def _undefined_var(var: str, j: int, defined: list[str], extracted_by: dict[str, int]) -> str:
    """Why step ``j`` cannot use ``${var}``, or "" when it can."""
    if not VAR_NAME.fullmatch(var):
        return "is not a variable name; allowed: letters, digits and _, e.g. ${token}"
    if var in defined:
        return ""
    later = extracted_by.get(var)
    why = ""
    if later == j:
        why = " (this step extracts it, so only later steps can use it)"
    elif later is not None:
        why = f" (steps[{later}] extracts it, but runs later)"
    available = ", ".join(defined) or "none yet"
    return (
        f"is not extracted by an earlier step{why}; "
        f"allowed: variables extracted by earlier steps ({available})"
    )


def _step_name(step: dict[Any, Any]) -> str | None:
    name, method, path = step.get("name"), step.get("method") or "GET", step.get("path")
    if isinstance(name, str):
        return name
    if isinstance(method, str) and isinstance(path, str):
        return f"{method.strip().upper()} {path}"
    return None


def _placeholders(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from PLACEHOLDER.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from _placeholders(item)


# --- loading -------------------------------------------------------------------------------------


def _clean_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with surrounding blanks removed; an empty variable counts as unset."""
    return {k: v.strip() for k, v in environ.items() if isinstance(v, str) and v.strip()}


def _override_paths(overrides: Mapping[str, Any] | None) -> list[Override]:
    """(path, flag, value) per CLI override; a None value means the flag was not given."""
    result = []
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in _CLI_FLAGS:
            result.append((_CLI_FLAGS[key], f"--{key}", value))
            continue
        path = tuple(key.split("."))
        parent = _model_at(path[:-1]) if len(path) > 1 else None
        if parent is None or path[-1] not in _keys(parent):
            allowed = ", ".join([*_CLI_FLAGS, "or a dotted key such as load.concurrency"])
            raise ValueError(f"unknown override {key!r}; allowed: {allowed}")
        result.append((path, f"override {key}", value))
    return result


def _derived_node_id(tree: dict[Any, Any]) -> tuple[str, str]:
    hostname = socket.gethostname() or "localhost"
    region = tree.get("region")
    if isinstance(region, str) and region.strip():
        return f"{hostname}-{region.strip()}", "derived from hostname and region"
    return hostname, "derived from hostname"


def _load_node(
    builder: _Builder,
    doc: dict[Any, Any],
    env: Mapping[str, str],
    cli: list[Override],
    *,
    config_given: bool,
) -> tuple[NodeSettings | None, bool, list[str]]:
    """The node settings, whether cluster mode is on (as best it can be told), and the problems."""
    cluster = doc.get("cluster", {})
    problems = []
    if not isinstance(cluster, dict):
        problems.append(
            f"{builder.label}: cluster={show_value(cluster)}: must be a mapping with keys: "
            f"{', '.join(sorted(_keys(NodeSettings)))}"
        )
        cluster = {}
    tree = {"cluster": cluster}
    builder.record_yaml(tree, (), None)
    builder.resolve_file_paths(tree, "cluster")
    for var, path in NODE_ENV.items():
        if var in env:
            builder.put(tree, path, env[var], Source("env", var, path))
    for path, flag, value in cli:
        if path[0] == "cluster":
            builder.put(tree, path, value, Source("cli", flag, path))
    if "node_id" not in cluster:
        cluster["node_id"], how = _derived_node_id(cluster)
        builder.sources[("cluster", "node_id")] = Source("derived", how, ())
    if "config_source" not in cluster and config_given:
        cluster["config_source"] = "file"
        builder.sources[("cluster", "config_source")] = Source(
            "default", "default (a --config file is given)", ()
        )
    node, node_problems = builder.validate(NodeSettings, cluster, ("cluster",))
    try:
        enabled = parse_bool(cluster.get("enabled", False))
    except ValueError:
        enabled = False
    return node, enabled, problems + node_problems


def _load_plan(
    builder: _Builder, plan_doc: dict[Any, Any], env: Mapping[str, str], cli: list[Override]
) -> TestPlan | None:
    builder.record_yaml(plan_doc, (), None)
    builder.resolve_file_paths(plan_doc, "target")
    builder.plan_from_env(plan_doc, env)
    for path, flag, value in cli:
        if path[0] != "cluster":
            builder.put(plan_doc, path, value, Source("cli", flag, path))
    plan_doc.setdefault("target", {})
    plan, problems = builder.validate(TestPlan, plan_doc)
    builder.problems.extend(problems)
    builder.check_scenarios(plan_doc.get("scenarios"))
    builder.check_no_placeholders(plan_doc)
    if plan is not None:
        _warn_unused(builder, plan)
    return plan


def _warn_unused(builder: _Builder, plan: TestPlan) -> None:
    """Warn about what the file sets in vain; the environment may set anything for any model."""
    model = plan.load.model
    unused = set().union(*_MODEL_KEYS.values()) - _MODEL_KEYS[model]
    for key in sorted(unused):
        if builder.source_of(("load", key)).kind == "yaml" and getattr(plan.load, key) is not None:
            builder.warnings.append(
                f"{builder.label}: load.{key} is ignored because load.model is {model}"
            )
    request_in_file = any(
        builder.source_of(("request", key)).kind == "yaml" for key in ("method", "body", "json")
    )
    if plan.scenarios and request_in_file:
        builder.warnings.append(f"{builder.label}: request is ignored because scenarios are given")


def _unknown_env_warnings(environ: Mapping[str, str]) -> list[str]:
    # Read elsewhere, not settings: the plugin manager's switch for hook tracing.
    known = [*PLAN_ENV, *NODE_ENV, "SEND_JSON", "LOADTEST_TRACE_HOOKS"]
    warnings = []
    for var in sorted(_clean_env(environ)):
        if var.startswith(("CLUSTER_", "LOADTEST_")) and var not in known:
            close = get_close_matches(var, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"environment variable {var} is not a setting and is ignored{hint}")
    return warnings


def _raise_if_problems(builder: _Builder) -> None:
    if builder.problems:
        raise ConfigError(list(dict.fromkeys(builder.problems)))


def load_settings(
    config_path: str | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, merge and validate the configuration; raises ``ConfigError`` listing every problem.

    ``overrides`` come from CLI flags: ``{"workers": 4, "duration": 600}`` or dotted
    YAML keys (``{"load.concurrency": 50}``); a None value is ignored.
    """
    doc: dict[Any, Any] = {}
    builder = _Builder(config_path, os.path.dirname(config_path) if config_path else None)
    if config_path is not None:
        doc, problems = _parse_yaml(_read_file(config_path), config_path)
        builder.problems.extend(problems)
    doc = builder.known_keys_only(doc, None, ())
    env = _clean_env(environ)
    cli = _override_paths(overrides)
    node, enabled, node_problems = _load_node(
        builder, doc, env, cli, config_given=config_path is not None
    )
    plan_doc = {k: v for k, v in doc.items() if k != "cluster"}
    plan = None
    # A cluster node given no plan is fine: it waits for the one the leader commits.
    if plan_doc or "TARGET_URL" in env or not enabled:
        plan = _load_plan(builder, plan_doc, env, cli)
    # The node's problems come last: the test is what a user reads first.
    builder.problems.extend(node_problems)
    _raise_if_problems(builder)
    assert node is not None  # no problems means the node settings validated
    return Settings(
        plan=plan,
        node=node,
        config_path=config_path,
        sources={_dotted(path): source.describe() for path, source in builder.sources.items()},
        warnings=(*builder.warnings, *_unknown_env_warnings(environ)),
    )


def load_plan_text(
    text: str,
    source: str,
    environ: Mapping[str, str] | None = None,
) -> TestPlan:
    """Validate a plan fetched by a cluster leader (GCS, Consul KV) or committed through Raft.

    ``source`` names it in messages. A ``cluster:`` section in it is checked for
    unknown keys but otherwise ignored: node settings belong to each machine.
    Pass ``environ`` to let environment variables fill keys the text leaves out.
    """
    builder = _Builder(source, None)
    doc, problems = _parse_yaml(text, source)
    builder.problems.extend(problems)
    doc = builder.known_keys_only(doc, None, ())
    plan_doc = {k: v for k, v in doc.items() if k != "cluster"}
    plan = _load_plan(builder, plan_doc, _clean_env(environ or {}), [])
    _raise_if_problems(builder)
    assert plan is not None
    return plan


# --- printing ------------------------------------------------------------------------------------


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
    for key, annotation in _keys(model).items():
        value = dumped.get(key)
        child = (*path, key)
        if _section(annotation) and isinstance(value, dict):
            lines.append(f"{'  ' * len(path)}{key}:")
            _emit_section(lines, settings, _section(annotation), value, child, notes)
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
    # Key names mask the secrets here too: consul_token and secret are secret-like names.
    dumped = mask_tree(settings.node.model_dump(mode="json"))
    _emit_section(lines, settings, NodeSettings, dumped, ("cluster",), notes)
    return "\n".join(lines) + "\n"


def dump_plan(plan: TestPlan) -> str:
    """The plan as YAML with nothing masked, for committing the exact plan a cluster runs."""
    return yaml.safe_dump(
        plan.model_dump(mode="json", by_alias=True, exclude_none=False),
        sort_keys=False,
        allow_unicode=True,
        width=1 << 30,
    )
