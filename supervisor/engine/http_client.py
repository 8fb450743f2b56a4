"""The engine's HTTP/1.1 client: one keep-alive connection per virtual user.

The engine talks to HTTP only through ``Connection.request()`` and ``close()``,
so the implementation can change without touching the load loops. This one is
an asyncio Protocol parsed by httptools: measured here at a few µs of CPU per
request where aiohttp costs about 92 µs, which is what lets one core keep a
fast server busy. TLS, mTLS, headers, bodies and the DNS override are set up
once per connection in ``Endpoint`` and cost nothing per request.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from time import perf_counter

import httptools


class TransportError(Exception):
    """A request that got no complete response; ``kind`` is its error kind."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect; the same for every connection of a run."""

    host: str
    port: int
    ssl_context: ssl.SSLContext | None
    server_hostname: str | None
    connect_timeout: float
    request_timeout: float


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, reopened on demand, one request at a time.

    After ``await request(...)`` returns the status, ``headers`` and ``body`` hold
    the response's headers and body when they were asked for, else stay empty:
    collecting them costs a Python call per header and per chunk.
    """

    def __init__(self, endpoint: Endpoint, want_headers: bool = False) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.deadline = 0.0
        self._waiter: asyncio.Future[int] | None = None
        self._want_body = False
        self._head = False
        self._lost = False
        # httptools looks the callbacks up once, when the parser is made, so a
        # connection that never needs headers is built without on_header at all.
        self._callbacks = _HeaderCallbacks(self) if want_headers else _Callbacks(self)
        self._parser = httptools.HttpResponseParser(self._callbacks)

    async def request(self, payload: bytes, want_body: bool = False, head: bool = False) -> int:
        """Send one serialized request and return the response's status code.

        Raises ``TransportError`` for connect, TLS, timeout and closed-connection
        failures. A failed connection is dropped and reopened on the next call.
        """
        if self.transport is None or self._lost:
            await self._connect()
        if self.headers:
            self.headers = []
        if self.body:
            self.body = bytearray()
        self._want_body = want_body
        self._head = head
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.deadline = perf_counter() + self.endpoint.request_timeout
        self.transport.write(payload)
        try:
            return await waiter
        finally:
            self._waiter = None

    async def _connect(self) -> None:
        self.close()
        self._lost = False
        self._parser = httptools.HttpResponseParser(self._callbacks)
        ep = self.endpoint
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: self,
                    ep.host,
                    ep.port,
                    ssl=ep.ssl_context,
                    server_hostname=ep.server_hostname if ep.ssl_context else None,
                ),
                ep.connect_timeout,
            )
        except ssl.SSLError as exc:
            raise TransportError("tls", str(exc)) from None
        except TimeoutError:
            raise TransportError("connect", f"no connection within {ep.connect_timeout}s") from None
        except OSError as exc:
            raise TransportError("connect", exc.strerror or str(exc)) from None

    def expire(self, now: float) -> None:
        """Fail the request in flight if its deadline has passed (called by a sweeper)."""
        if self._waiter is not None and now >= self.deadline and not self._waiter.done():
            self._waiter.set_exception(
                TransportError("timeout", f"no response within {self.endpoint.request_timeout}s")
            )
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Requests are small and written whole; Nagle would only add delay.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail("closed", f"malformed response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.transport = None
        if isinstance(exc, ssl.SSLError):
            self._fail("tls", str(exc))
        else:
            self._fail("closed", "connection closed before a complete response")

    def _fail(self, kind: str, detail: str) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TransportError(kind, detail))
        self.close()

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self._parser.get_status_code())
        if not self._parser.should_keep_alive():
            self.close()
            self._lost = True


class _Callbacks:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def on_headers_complete(self) -> None:
        conn = self.conn
        if conn._head:
            # A HEAD response announces a body it never sends, which httptools
            # cannot know: finish here and start the next response afresh.
            conn._complete()
            conn._parser = httptools.HttpResponseParser(self)

    def on_body(self, body: bytes) -> None:
        if self.conn._want_body:
            self.conn.body += body

    def on_message_complete(self) -> None:
        self.conn._complete()


class _HeaderCallbacks(_Callbacks):
    __slots__ = ()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.conn.headers.append((name, value))


async def sweep_timeouts(connections: list[Connection], interval: float) -> None:
    """Expire overdue requests every ``interval`` seconds.

    One sweeper per worker is far cheaper than a timer per request; a request
    times out within ``interval`` of its deadline.
    """
    while True:
        await asyncio.sleep(interval)
        now = perf_counter()
        for conn in connections:
            conn.expire(now)
