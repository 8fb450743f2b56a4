"""Reading config YAML safely, and writing a plan back as YAML."""

from __future__ import annotations

from typing import Any

import yaml

from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.config.schema import keys_of

# A plan is a few levels deep and a few hundred values; these bound what a hostile or
# broken document may cost to read (anchors and aliases expanded).
MAX_DEPTH = 64
MAX_NODES = 200_000
# A --config file is its operator's own, so it has a bound of its own, above a cluster's
# CLUSTER_MAX_PLAN_BYTES: reading YAML costs seconds per MB.
MAX_FILE_CHARS = 4 << 20


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
    try:
        # The reader checks the characters as it is built: a NUL byte raises here.
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"{label}: not YAML text: character #x{exc.character:04x} at position "
            f"{exc.position}; allowed: printable Unicode, tabs and line breaks"
        ) from None
    try:
        node = loader.get_single_node()
        _check_shape(node, label)
        doc = None if node is None else loader.construct_document(node)
    except RecursionError:
        raise ConfigError(
            f"{label}: the YAML is nested too deeply to read; allowed: at most {MAX_DEPTH} levels"
        ) from None
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


def _check_shape(root: yaml.Node | None, label: str) -> None:
    """Refuse a document too deep or too large once its aliases are expanded, before it
    is built: a few lines of anchors ("billion laughs") stand for billions of values,
    which every later step (validation, printing, committing) would walk."""
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"{label}: the YAML is nested more than {MAX_DEPTH} levels deep "
                f"(line {node.start_mark.line + 1}); allowed: at most {MAX_DEPTH}"
            )
        if id(node) in sizes:
            return sizes[id(node)]
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(expanded(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                size += expanded(key, depth + 1) + expanded(value, depth + 1)
        sizes[id(node)] = size
        if size > MAX_NODES:
            raise ConfigError(
                f"{label}: the YAML holds more than {MAX_NODES} values once its aliases are "
                f"expanded (line {node.start_mark.line + 1}); allowed: at most {MAX_NODES}"
            )
        return size

    if root is not None:
        expanded(root, 0)


def read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_FILE_CHARS + 1)
        if len(text) > MAX_FILE_CHARS:
            raise ConfigError(
                f"{path}: the config file is larger than {MAX_FILE_CHARS} characters; a plan "
                "is a few KB (a plan's rows belong in its data: file)"
            )
        return text
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
