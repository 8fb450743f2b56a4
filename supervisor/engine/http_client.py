"""The engine's HTTP/1.1 client: one keep-alive connection per virtual user.

The engine talks to HTTP only through ``Connection.request()`` / ``send()`` and ``close()``,
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
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

import httptools


class TransportError(Exception):
    """A request that got no complete response; ``kind`` is its error kind."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


# Called once when a request sent with ``Connection.send()`` ends:
# (status, None) for a complete response, (0, error) for a failure.
OnDone = Callable[[int, "TransportError | None"], None]


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

    Two ways to use it. ``await request(...)`` connects when needed and returns the
    status. ``send(..., on_done)`` writes on a ``ready`` connection and calls
    ``on_done`` from the protocol's own callbacks when the request ends, which lets
    a load loop send its next request right there, with no task wake-up, Future or
    coroutine per request.

    When a request ends, ``headers`` and ``body`` hold the response's headers and
    body if they were asked for, else stay empty: collecting them costs a Python
    call per header and per chunk.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        want_headers: bool = False,
        want_bodies: bool = False,
        heads: bool = False,
        keep_alive: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.deadline = 0.0
        self._timeout = endpoint.request_timeout
        self._on_done: OnDone | None = None
        self._waiter: asyncio.Future[int] | None = None
        self._want_body = False
        self._head = False
        self._stale_losses = 0
        # A client that sent "Connection: close" must not reuse the connection,
        # even when the response does not say close (RFC 9112 §9.6).
        self._keep_alive = keep_alive
        # httptools looks the callbacks up once, when the parser is made, and calls
        # every one it finds: a run that never reads headers or bodies, or sends no
        # HEAD, gets a parser without those callbacks and no Python call for them.
        callbacks = _Callbacks()
        callbacks.on_message_complete = self._complete
        if want_headers:
            callbacks.on_header = self._on_header
        if want_bodies:
            callbacks.on_body = self._on_body
        if heads:
            callbacks.on_headers_complete = self._on_headers_complete
        self._callbacks = callbacks
        self._parser = httptools.HttpResponseParser(callbacks)

    @property
    def busy(self) -> bool:
        """A request is written and not answered yet."""
        return self._on_done is not None

    @property
    def ready(self) -> bool:
        """Connected, so ``send()`` may be called."""
        return self.transport is not None

    async def request(self, payload: bytes, want_body: bool = False, head: bool = False) -> int:
        """Send one serialized request and return the response's status code.

        Raises ``TransportError`` for connect, TLS, timeout and closed-connection
        failures. A failed connection is dropped and reopened on the next call.
        """
        if not self.ready:
            await self.connect()
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.send(payload, self._wake, want_body, head)
        return await waiter

    def _wake(self, status: int, error: TransportError | None) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is None or waiter.done():  # its task was cancelled
            return
        if error is None:
            waiter.set_result(status)
        else:
            waiter.set_exception(error)

    def send(
        self, payload: bytes, on_done: OnDone, want_body: bool = False, head: bool = False
    ) -> None:
        """Write one serialized request on a ``ready`` connection.

        ``on_done(status, None)`` is called once the response is complete, or
        ``on_done(0, error)`` when it fails; never both, never twice, and never
        after ``close()``. It may call ``send()`` again at once.
        """
        if self.headers:
            self.headers = []
        if self.body:
            self.body = bytearray()
        self._want_body = want_body
        self._head = head
        self._on_done = on_done
        self.deadline = perf_counter() + self._timeout
        self.transport.write(payload)  # type: ignore[union-attr]

    async def connect(self) -> None:
        """(Re)open the connection; raises ``TransportError``."""
        self.close()
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
        if self._on_done is not None and now >= self.deadline:
            self._fail("timeout", f"no response within {self._timeout}s")

    def close(self) -> None:
        """Drop the connection; a request in flight is abandoned without a call back."""
        self._on_done = None
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
            # The aborted transport still calls connection_lost later, when this
            # protocol may already be reconnecting: that call is not about the new
            # connection and must not touch it.
            self._stale_losses += 1

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
        if self._stale_losses:
            self._stale_losses -= 1
            return
        self.transport = None
        if isinstance(exc, ssl.SSLError):
            self._fail("tls", str(exc))
        else:
            self._fail("closed", "connection closed before a complete response")

    def _fail(self, kind: str, detail: str) -> None:
        on_done = self._on_done
        self.close()
        if on_done is not None:
            on_done(0, TransportError(kind, detail))

    def _on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def _on_body(self, body: bytes) -> None:
        if self._want_body:
            self.body += body

    def _on_headers_complete(self) -> None:
        if self._head:
            # A HEAD response announces a body it never sends, which httptools
            # cannot know: finish here and start the next response afresh.
            self._complete()
            self._parser = httptools.HttpResponseParser(self._callbacks)

    def _complete(self) -> None:
        parser = self._parser
        on_done = self._on_done
        self._on_done = None
        # Close before calling back, so that on_done sees whether it may send again.
        if not (self._keep_alive and parser.should_keep_alive()):
            self.close()
        if on_done is not None:
            on_done(parser.get_status_code(), None)


class _Callbacks:
    """The parser's callbacks: only those set on an instance exist for httptools."""


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
