"""Structured logs: one logfmt line per event (``event=worker_died slot=0 exitcode=-9``).

Node-wide fields (node_id, and in cluster mode term and state) are bound once with
``bind_context`` and added to every line, so each event can be traced to its node.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from typing import Any

_context: dict[str, Any] = {}


def bind_context(**fields: Any) -> None:
    """Set fields that every following log line carries; None removes a field."""
    for key, value in fields.items():
        if value is None:
            _context.pop(key, None)
        else:
            _context[key] = value


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        fields = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            **_context,
            **getattr(record, "fields", {"msg": record.getMessage()}),
        }
        if record.exc_info and record.exc_info[1] is not None:
            # A library's logged exception (uvicorn's "Exception in ASGI application"),
            # kept on its one line: what failed, and where in our code or theirs.
            exc = record.exc_info[1]
            fields["error"] = repr(exc)
            frames = traceback.extract_tb(exc.__traceback__)
            if frames:
                fields["at"] = f"{frames[-1].filename}:{frames[-1].lineno}"
        return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with its fields as a single structured line."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": {"event": event, **fields}})


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the event.

    The live progress line swaps ``sys.stderr`` for a proxy that prints above the
    line; a handler holding the original stream would draw through it.
    """

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Send logfmt lines to stderr, keeping stdout for progress and results."""
    handler = _CurrentStderrHandler()
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
