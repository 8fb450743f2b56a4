"""uvicorn's httptools protocol with a deadline for a request's headers.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but not one that
opened and sends nothing, nor a request whose headers never end: a slowloris client
holds a connection and its file descriptor for as long as it likes, and enough of them
exhaust the process's descriptors. This protocol closes a connection whose request
headers have not ended ``HEADER_TIMEOUT_S`` after it opened or after that request began
(docs/design.md §10 "Limits"). A body is not bounded in time here: it is read only
once the headers are in, by a handler that checks the token first.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.http")

HEADER_TIMEOUT_S = 10.0


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes a connection stuck before its headers' end."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            host, port = self.client or ("unknown", 0)
            log_event(log, "http_headers_timed_out", logging.DEBUG, client=f"{host}:{port}")
            self.transport.close()
