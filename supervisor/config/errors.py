"""The configuration error type and the value formatting shared by its messages.

Kept apart from ``settings`` so that ``durations`` and ``thresholds`` can raise
``ConfigError`` without importing the whole configuration layer.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# Substrings of a header, query or JSON key whose value must never be shown.
_SECRET_WORDS = (
    "authorization",
    "cookie",
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "apikey",
    "api_key",
)

_MAX_SHOWN = 120


class ConfigError(Exception):
    """An invalid configuration; ``str(e)`` is the whole message for the user.

    The message has one problem per line and never contains a secret.
    """

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def is_secret_name(name: object) -> bool:
    """Whether a header/query/JSON key names a credential (its value gets masked)."""
    lowered = str(name).lower()
    return any(word in lowered for word in _SECRET_WORDS)


def mask_url(url: str) -> str:
    """``url`` with the password of any ``user:password@`` part replaced by the mask."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")


def _mask_urls_in(text: str) -> str:
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)


def mask_tree(value: Any) -> Any:
    """``value`` with scalars under secret-like keys and URL passwords masked."""
    if isinstance(value, dict):
        return {
            k: MASK
            if is_secret_name(k) and v is not None and not isinstance(v, dict | list)
            else mask_tree(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_tree(v) for v in value]
    if isinstance(value, str):
        return _mask_urls_in(value)
    return value


def show_value(value: Any, *, secret: bool = False) -> str:
    """``value`` as shown after ``key=`` in a message: repr, masked, shortened.

    Containers, booleans and null get their YAML type name appended, because
    YAML turns ``yes`` into ``True`` and an empty value into ``None`` without
    telling the user.
    """
    if secret and value is not None:
        return repr(MASK)
    shown = repr(mask_tree(value))
    if len(shown) > _MAX_SHOWN:
        shown = shown[: _MAX_SHOWN - 5] + "…" + shown[-4:]
    suffix = {list: "list", tuple: "list", dict: "mapping", bool: "bool", type(None): "null"}
    kind = suffix.get(type(value))
    return f"{shown} ({kind})" if kind else shown
