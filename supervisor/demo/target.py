"""A small HTTP server to aim a load test at: the main job's target, and the tests'.

It serves the behaviours a load tester must measure correctly, which a static
server cannot fake: slow answers, error statuses, dropped connections and
requests that are never answered.

    GET /               200, a small body
    GET /slow?ms=N      200 after N milliseconds
    GET /slow/stats     {"in_flight", "answered"}: /slow requests waiting for their
                        answer now, and answered so far (a closed model's users in
                        flight, counted where they arrive)
    GET /status/<code>  that status
    GET /drop           the connection is closed without an answer
    GET /hang           never answered
    GET /json           {"token": "abc123", "items": [{"id": 1}, {"id": 2}]}
    ANY /echo           method, path, headers and body as JSON (and client_cn under mTLS)

With --access-log FILE it writes each request there as it arrives: its wall-clock
time (Unix seconds) and its path, a line each (tests read when a run's first request
came). With --tls-cert/--tls-key it serves HTTPS; adding --client-ca makes it demand a
client certificate signed by that CA (mTLS). A client without one is turned away
without a TLS alert (asyncio and uvloop drop the alert of a failed server-side
handshake: python/cpython#98078), so it sees a closed connection, not a TLS error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import sys
import time
from http import HTTPStatus
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

import httptools

from loadtest_supervisor.event_loop import run_loop

JSON_DOC = {"token": "abc123", "items": [{"id": 1}, {"id": 2}]}


def _response(status: int, body: bytes, content_type: bytes = b"text/plain") -> bytes:
    reason = HTTPStatus(status).phrase.encode() if status in HTTPStatus._value2member_map_ else b""
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        % (status, reason, content_type, len(body))
        + body
    )


OK_RESPONSE = _response(200, b"ok\n")

# /slow requests of every connection: waiting now, and answered since the start.
SLOW = {"in_flight": 0, "answered": 0}
ACCESS_LOG: list[TextIO] = []  # the --access-log file, when given


class _TargetProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.client_cn: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # Read once per connection: under mTLS the handshake, and so the verified
        # client certificate, is done before the protocol sees the connection.
        self.client_cn = _common_name(transport.get_extra_info("peercert"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(_response(400, b"bad request\n"))
            self.transport.close()

    # httptools parser callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = bytearray()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        parts = urlsplit(self.url.decode("latin-1"))
        path = parts.path
        for access_log in ACCESS_LOG:
            access_log.write(f"{time.time():.6f} {path}\n")
        if path == "/":
            transport.write(OK_RESPONSE)
        elif path == "/slow":
            ms = float(parse_qs(parts.query).get("ms", ["100"])[0])
            SLOW["in_flight"] += 1
            asyncio.get_running_loop().call_later(ms / 1000, self._answer_slow)
        elif path == "/slow/stats":
            transport.write(_response(200, json.dumps(SLOW).encode(), b"application/json"))
        elif path.startswith("/status/"):
            code = path.rsplit("/", 1)[1]
            status = int(code) if code.isdigit() and 100 <= int(code) <= 599 else 400
            transport.write(_response(status, b"status %d\n" % status))
        elif path == "/drop":
            transport.close()
        elif path == "/hang":
            pass
        elif path == "/json":
            transport.write(_response(200, json.dumps(JSON_DOC).encode(), b"application/json"))
        elif path == "/echo":
            doc = {
                "method": self.parser.get_method().decode(),
                "path": path,
                "query": parts.query,
                "headers": self.headers,
                "body": self.body.decode("utf-8", "replace"),
            }
            if self.client_cn is not None:
                doc["client_cn"] = self.client_cn
            transport.write(_response(200, json.dumps(doc).encode(), b"application/json"))
        else:
            transport.write(_response(404, b"not found\n"))
        if not self.parser.should_keep_alive() and path not in ("/slow", "/hang"):
            transport.close()

    def _answer_slow(self) -> None:
        SLOW["in_flight"] -= 1
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(OK_RESPONSE)
            SLOW["answered"] += 1


def _common_name(peercert: dict | None) -> str | None:
    """The subject CN of a verified peer certificate (``SSLSocket.getpeercert()`` form)."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


def tls_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """A server context for HTTPS; with ``client_ca``, clients must present a cert it signed."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def serve(
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve until cancelled; prints the bound address once listening."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_TargetProtocol, host, port, backlog=1024, ssl=ssl_context)
    bound = server.sockets[0].getsockname()
    scheme = "https" if ssl_context is not None else "http"
    print(f"listening on {scheme}://{bound[0]}:{bound[1]}", flush=True)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def target_command(host: str, port: int, *options: str) -> list[str]:
    """The argv that runs this server in a process of its own; ``port`` 0 picks a free one.

    ``options`` are more of ``main``'s flags, e.g. ``--tls-cert``.
    """
    return [sys.executable, "-m", __name__, "--host", host, "--port", str(port), *options]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--access-log", metavar="FILE", help="log each request's time and path")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="private key of --tls-cert")
    parser.add_argument(
        "--client-ca", metavar="FILE", help="require client certificates signed by this CA (mTLS)"
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        parser.error("--client-ca needs --tls-cert and --tls-key")
    ssl_context = (
        tls_context(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
    )
    if args.access_log:
        # Line-buffered: a test reads it while the server runs.
        ACCESS_LOG.append(open(args.access_log, "a", buffering=1))  # noqa: SIM115
    # SIGTERM ends the server the same quiet way as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run_loop(serve(args.host, args.port, ssl_context=ssl_context))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
