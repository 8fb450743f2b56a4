"""Reading config YAML safely, and writing a plan back as YAML."""

from __future__ import annotations

from typing import Any

import yaml

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.config.schema import keys_of


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


def parse_yaml(text: str, label: str) -> tuple[dict[Any, Any], list[str]]:
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
            f"({', '.join(sorted(keys_of(None)))}), not {kind}"
        )
    return doc, [f"{label}: {problem}" for problem in loader.duplicates]


def read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read config file: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None


def dump_plan(plan: TestPlan) -> str:
    """The plan as YAML with nothing masked, for committing the exact plan a cluster runs."""
    return yaml.safe_dump(
        plan.model_dump(mode="json", by_alias=True, exclude_none=False),
        sort_keys=False,
        allow_unicode=True,
        width=1 << 30,
    )
