"""RecordingConsulProxy: a recording stub in front of a real Consul agent.

The test agent runs without ACLs, so it would accept any token or none; this stub
records the X-Consul-Token header of every request and forwards the request
unchanged to the real agent, so the plugin still does its real work.
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from tests.support import LOOPBACK

TOKEN_HEADER = "X-Consul-Token"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    token: str | None
    body: bytes


class RecordingConsulProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[Recorded] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                token = self.headers.get(TOKEN_HEADER)
                stub.requests.append(Recorded(self.command, self.path, token, body or b""))
                request = urllib.request.Request(
                    stub.upstream + self.path, data=body, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, headers, payload = (
                            response.status,
                            response.headers,
                            response.read(),
                        )
                except urllib.error.HTTPError as error:
                    status, headers, payload = error.code, error.headers, error.read()
                self.send_response(status)
                for name in ("Content-Type", "X-Consul-Index"):
                    if headers.get(name):
                        self.send_header(name, headers[name])
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _forward  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_port}"

    def start(self) -> RecordingConsulProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
