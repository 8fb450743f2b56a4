"""The ``${var}`` grammar: one definition for the config rules and the engine.

A placeholder is ``${`` anything up to ``}``; the rules accept it only when what is
inside is a variable name, so the engine substitutes only validated names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VAR_NAME_ALLOWED = "letters, digits and _"
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# Every step may use these: the node's place in a cluster run (standalone: 0 of 1), so
# that a plan can tell its nodes' requests apart or pick per-node data by hand.
NODE_VARS = ("node_index", "node_count")


def is_var_name(text: str) -> bool:
    return bool(VAR_NAME.fullmatch(text))


def placeholders(value: Any) -> Iterator[str]:
    """What stands inside each ``${...}`` in a string, or in a JSON-like tree of them."""
    if isinstance(value, str):
        yield from PLACEHOLDER.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders(item)


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with each ``${name}`` replaced; every name must be in ``variables``."""
    return PLACEHOLDER.sub(lambda m: variables[m.group(1)], text)
