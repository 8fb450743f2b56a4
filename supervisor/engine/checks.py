"""Response assertions and value extraction for scenario steps.

Both run only on steps that declare them, so the plain request path never
decodes a body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import parse as parse_jsonpath

_MISSING = object()


class CheckFailed(Exception):
    """An assertion did not hold or a value could not be extracted."""


def _json_values(expr: Any, doc: Any) -> list[Any]:
    return [match.value for match in expr.find(doc)]


@dataclass(frozen=True)
class Assertions:
    statuses: frozenset[int] | None
    body_contains: bytes | None
    json_paths: tuple[tuple[str, Any, Any], ...]  # (text, compiled, expected)

    @classmethod
    def build(cls, spec: Any) -> Assertions | None:
        if spec is None:
            return None
        status = spec.status
        statuses = None
        if status is not None:
            statuses = frozenset([status] if isinstance(status, int) else status)
        body_contains = spec.body_contains.encode() if spec.body_contains is not None else None
        json_paths = tuple(
            (path, parse_jsonpath(path), expected)
            for path, expected in (spec.json_path or {}).items()
        )
        return cls(statuses, body_contains, json_paths)

    @property
    def needs_body(self) -> bool:
        return self.body_contains is not None or bool(self.json_paths)

    def check(self, status: int, body: bytes, doc: Any = _MISSING) -> None:
        if self.statuses is not None and status not in self.statuses:
            raise CheckFailed(f"status {status} not in {sorted(self.statuses)}")
        if self.body_contains is not None and self.body_contains not in body:
            raise CheckFailed(f"body does not contain {self.body_contains!r}")
        if self.json_paths:
            doc = _decode_json(body) if doc is _MISSING else doc
            for text, expr, expected in self.json_paths:
                values = _json_values(expr, doc)
                if expected not in values:
                    raise CheckFailed(f"{text} is {values or 'missing'}, expected {expected!r}")


@dataclass(frozen=True)
class Extraction:
    var: str
    kind: str  # json_path | header | regex
    source: str
    compiled: Any

    @classmethod
    def build(cls, var: str, spec: Any) -> Extraction:
        if spec.json_path is not None:
            return cls(var, "json_path", spec.json_path, parse_jsonpath(spec.json_path))
        if spec.header is not None:
            return cls(var, "header", spec.header, spec.header.lower().encode())
        return cls(var, "regex", spec.regex, re.compile(spec.regex.encode()))

    def extract(self, headers: list[tuple[bytes, bytes]], body: bytes, doc: Any) -> str:
        if self.kind == "header":
            for name, value in headers:
                if name.lower() == self.compiled:
                    return value.decode("latin-1")
            raise CheckFailed(f"no header {self.source!r} to extract {self.var}")
        if self.kind == "regex":
            match = self.compiled.search(body)
            if match is None:
                raise CheckFailed(f"regex {self.source!r} found nothing for {self.var}")
            return match.group(1).decode("utf-8", "replace")
        values = _json_values(self.compiled, doc)
        if not values:
            raise CheckFailed(f"{self.source} is missing, cannot extract {self.var}")
        value = values[0]
        return value if isinstance(value, str) else json.dumps(value)


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise CheckFailed(f"body is not JSON: {exc}") from None


def decode_json_if(needed: bool, body: bytes) -> Any:
    """The body as JSON, decoded once per response for all checks that need it."""
    return _decode_json(body) if needed else _MISSING
