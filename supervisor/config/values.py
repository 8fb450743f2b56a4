"""Field types of the configuration models: each parses one value or says why not.

Every parser raises ``ValueError`` whose text is the "what is allowed" part of
the user-facing message; ``settings`` prefixes the key and the value. Values
arrive either from YAML (already typed) or from the environment (strings), so
each parser accepts both spellings.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from difflib import get_close_matches
from typing import Annotated, Any
from urllib.parse import urlsplit

from jsonpath_ng import parse as parse_jsonpath
from pydantic import BeforeValidator, PlainSerializer, SecretStr

from loadtest_supervisor.config.addresses import host_port, peer_list, resolve_addr
from loadtest_supervisor.config.cron import CRON_ALLOWED, cron_trigger
from loadtest_supervisor.config.data_feed import SPLITS
from loadtest_supervisor.config.durations import duration_seconds, format_duration
from loadtest_supervisor.config.load_models import LOAD_MODELS
from loadtest_supervisor.config.variables import VAR_NAME_ALLOWED, is_var_name
from loadtest_supervisor.results.thresholds import Threshold, threshold_problem


class Missing(ValueError):
    """A required value is absent; the message names where to set it, not a value."""


class Conflict(ValueError):
    """Values that are fine alone but not together; the message names them all."""


BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
BOOL_ALLOWED = "must be a boolean; allowed: true, false, 1, 0, yes, no"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# RFC 9110 token: the characters a header name may use.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else parse(value)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
        return BOOL_WORDS[value.strip().lower()]
    raise ValueError(BOOL_ALLOWED)


def _int_at_least(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number: Any = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            number = int(value)
        if number is None or number < minimum:
            raise ValueError(f"must be an integer >= {minimum}")
        return number

    return parse


def _odd_at_least_1(value: Any) -> int:
    # A voting set of even size tolerates no more failures than the odd size below it
    # and needs one more vote for every commit.
    try:
        number = _int_at_least(1)(value)
    except ValueError:
        number = 0
    if number % 2 == 0:
        raise ValueError("must be an odd integer >= 1 (3 or 5 for most fleets)")
    return number


def _number(*, positive: bool) -> Callable[[Any], float]:
    # "finite": inf and nan parse as floats, and "inf is a number > 0" would puzzle.
    allowed = "a finite number > 0" if positive else "a finite number >= 0"

    def parse(value: Any) -> float:
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number) or number < 0 or (positive and not number):
            raise ValueError(f"must be {allowed}")
        return number

    return parse


def _duration(*, positive: bool) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        seconds = duration_seconds(value)
        if positive and seconds <= 0:
            raise ValueError("must be a duration > 0")
        return seconds

    return parse


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _choice(choices: tuple[str, ...], fold: Callable[[str], str]) -> Callable[[Any], str]:
    """Accept ``choices`` in any spelling ``fold`` maps together; suggest near misses."""
    by_fold = {fold(c): c for c in choices}

    def parse(value: Any) -> str:
        if isinstance(value, str) and fold(value) in by_fold:
            return by_fold[fold(value)]
        hint = ""
        if isinstance(value, str):
            close = get_close_matches(fold(value), list(by_fold), n=1, cutoff=0.5)
            hint = f" (did you mean '{by_fold[close[0]]}'?)" if close else ""
        raise ValueError(f"allowed: {', '.join(choices)}{hint}")

    return parse


def _existing_file(value: Any) -> str:
    path = _text(value)
    if not os.path.exists(path):
        raise ValueError("file not found; allowed: a path to an existing file")
    if not os.path.isfile(path):
        raise ValueError("not a regular file; allowed: a path to an existing file")
    return path


def _http_url(value: Any) -> str:
    allowed = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/path"
    if not isinstance(value, str) or any(c.isspace() for c in value.strip()):
        raise ValueError(allowed)
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535
    except ValueError:
        raise ValueError(allowed) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(allowed)
    return url


def _secret(value: Any) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    return SecretStr(_text(value))


def _scalar_text(what: str) -> Callable[[Any], str]:
    """Header and query values: YAML numbers are fine, booleans are a YAML accident."""

    def parse(value: Any) -> str:
        if isinstance(value, bool):
            raise ValueError("must be a string; quote it (YAML reads yes/no/on/off as booleans)")
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise ValueError(f"must be a string {what}")
        if what == "header value" and ("\r" in value or "\n" in value):
            raise ValueError("must not contain line breaks")
        if what == "header value":
            # HTTP/1.1 sends a header as bytes 0-255: anything else cannot be sent.
            wide = next((c for c in value if ord(c) > 255), None)
            if wide is not None:
                raise ValueError(
                    f"contains {wide!r} (U+{ord(wide):04X}); allowed: Latin-1 characters "
                    "only (percent-encode anything else)"
                )
        return value

    return parse


def _header_name(value: Any) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(
            "not a valid HTTP header name; allowed: letters, digits and !#$%&'*+-.^_`|~"
        )
    return value


def _mapping(what: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping of {what}")
        return value

    return parse


def _method(value: Any) -> str:
    return _choice(METHODS, str.upper)(value)


def _load_model(value: Any) -> str:
    return _choice(
        tuple(LOAD_MODELS), lambda s: s.strip().lower().replace("_", "").replace("-", "")
    )(value)


def _status(value: Any) -> tuple[int, ...]:
    allowed = "must be an HTTP status 100..599 or a list of them"
    codes = value if isinstance(value, list) else [value]
    if not codes:
        raise ValueError(allowed)
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise ValueError(allowed)
    return tuple(codes)


def _step_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("must be a string starting with '/', e.g. /login or /users/${user_id}")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain whitespace; percent-encode it (%20)")
    return value


def _jsonpath(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a JSONPath string, e.g. $.user.id")
    try:
        parse_jsonpath(value)
    except Exception as exc:  # jsonpath_ng raises bare Exception subclasses of several kinds
        raise ValueError(f"not a valid JSONPath ({exc}); e.g. $.user.id or $.items[0].id") from None
    return value


def _regex_with_group(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a regular expression string with a group, e.g. id=(\\d+)")
    try:
        # The engine matches response bodies as bytes, so compile what it compiles.
        groups = re.compile(value.encode()).groups
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    if groups < 1:
        raise ValueError("needs a capture group for the value, e.g. id=(\\d+)")
    return value


def _var_name(value: Any) -> str:
    if not isinstance(value, str) or not is_var_name(value):
        raise ValueError(f"not a variable name; allowed: {VAR_NAME_ALLOWED}, e.g. token")
    return value


def _json_value(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON-compatible ({exc})") from None
    return value


def _body(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string (use json: for a structured body)")
    return value


def _threshold(value: Any) -> Threshold:
    if isinstance(value, Threshold):
        return value
    result = threshold_problem(value)
    if isinstance(result, str):
        raise ValueError(result)
    return result


def _cron(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(CRON_ALLOWED)
    cron_trigger(value)
    return " ".join(value.split())


def _non_empty_list(what: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise ValueError(f"must be a non-empty list of {what}")
        return value

    return parse


def _list_of(what: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"must be a list of {what}")
        return value

    return parse


def _serialize_duration(seconds: float | None) -> str | None:
    return None if seconds is None else format_duration(seconds)


_AS_DURATION = PlainSerializer(_serialize_duration, return_type=str | None, when_used="json")

Bool = Annotated[bool, BeforeValidator(parse_bool)]
Int1 = Annotated[int, BeforeValidator(_int_at_least(1))]
OddInt1 = Annotated[int, BeforeValidator(_odd_at_least_1)]
OptInt1 = Annotated[int | None, BeforeValidator(_optional(_int_at_least(1)))]
OptPositive = Annotated[float | None, BeforeValidator(_optional(_number(positive=True)))]
OptNonNegative = Annotated[float | None, BeforeValidator(_optional(_number(positive=False)))]
Duration = Annotated[float, BeforeValidator(_duration(positive=True)), _AS_DURATION]
OptDuration = Annotated[
    float | None, BeforeValidator(_optional(_duration(positive=True))), _AS_DURATION
]
Pause = Annotated[float, BeforeValidator(_duration(positive=False)), _AS_DURATION]
Text = Annotated[str, BeforeValidator(_text)]
OptText = Annotated[str | None, BeforeValidator(_optional(_text))]
OptFile = Annotated[str | None, BeforeValidator(_optional(_existing_file))]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
ListenAddr = Annotated[str, BeforeValidator(host_port(listen=True))]
PeerAddr = Annotated[str, BeforeValidator(host_port(listen=False))]
OptPeerAddr = Annotated[str | None, BeforeValidator(_optional(host_port(listen=False)))]
PeerList = Annotated[list[PeerAddr], BeforeValidator(peer_list)]
OptResolve = Annotated[str | None, BeforeValidator(_optional(resolve_addr))]
OptSecret = Annotated[SecretStr | None, BeforeValidator(_optional(_secret))]
Method = Annotated[str, BeforeValidator(_method)]
LoadModel = Annotated[str, BeforeValidator(_load_model)]
HeaderName = Annotated[str, BeforeValidator(_header_name)]
Headers = Annotated[
    dict[HeaderName, Annotated[str, BeforeValidator(_scalar_text("header value"))]],
    BeforeValidator(_mapping("header name to value")),
]
Query = Annotated[
    dict[
        Annotated[str, BeforeValidator(_text)],
        Annotated[str, BeforeValidator(_scalar_text("value"))],
    ],
    BeforeValidator(_mapping("parameter name to value")),
]
OptBody = Annotated[str | None, BeforeValidator(_optional(_body))]
OptCron = Annotated[str | None, BeforeValidator(_optional(_cron))]
RunStart = Annotated[str | None, BeforeValidator(_optional(_choice(("auto", "api"), str.lower)))]
DataSplit = Annotated[str, BeforeValidator(_choice(SPLITS, lambda s: s.strip().lower()))]
JsonValue = Annotated[Any, BeforeValidator(_json_value)]
OptStatus = Annotated[tuple[int, ...] | None, BeforeValidator(_optional(_status))]
OptJsonPath = Annotated[str | None, BeforeValidator(_optional(_jsonpath))]
JsonPathKey = Annotated[str, BeforeValidator(_jsonpath)]
OptRegex = Annotated[str | None, BeforeValidator(_optional(_regex_with_group))]
OptHeaderName = Annotated[str | None, BeforeValidator(_optional(_header_name))]
VarName = Annotated[str, BeforeValidator(_var_name)]
StepPath = Annotated[str, BeforeValidator(_step_path)]
ThresholdItem = Annotated[Threshold, BeforeValidator(_threshold)]
ThresholdList = Annotated[list[ThresholdItem], BeforeValidator(_list_of("threshold strings"))]


def non_empty_list(what: str, *, optional: bool = False) -> BeforeValidator:
    parse = _non_empty_list(what)
    return BeforeValidator(_optional(parse) if optional else parse)


def optional_mapping(what: str) -> BeforeValidator:
    return BeforeValidator(_optional(_mapping(what)))
