"""The key tree of a config file, read from the models: sections, keys and how they nest."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from loadtest_supervisor.config.models import NodeSettings, TestPlan
from loadtest_supervisor.config.variables import is_var_name
from loadtest_supervisor.results.thresholds import Threshold

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif is_var_name(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = _unwrap(options[0]) if len(options) == 1 else annotation
    return annotation


def section_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    # Threshold is a model but is written as a string, so it is no section.
    return annotation if is_model and annotation is not Threshold else None


def keys_of(model: type[BaseModel] | None) -> dict[str, Any]:
    """YAML key -> annotation; the top level of a config file when ``model`` is None."""
    if model is None:
        return {**keys_of(TestPlan), "cluster": NodeSettings}
    return {field.alias or name: field.annotation for name, field in model.model_fields.items()}


def nested_models(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """How a value of this type nests sections: ``model``, ``list`` of or ``dict`` of them."""
    if model := section_model(annotation):
        return "model", model
    annotation = _unwrap(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args and (model := section_model(args[0])):
        return "list", model
    if origin is dict and len(args) == 2 and (model := section_model(args[1])):
        return "dict", model
    return None


def model_at(path: Path) -> type[BaseModel] | None:
    keys = keys_of(None)
    model = None
    index = 0
    while index < len(path):
        nested = nested_models(keys.get(path[index])) if isinstance(path[index], str) else None
        if nested is None:
            return None
        kind, model = nested
        index += 1 if kind == "model" else 2
        keys = keys_of(model)
    return model
