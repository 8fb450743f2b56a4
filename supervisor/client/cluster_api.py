"""A cluster's HTTP API as a person's command calls it: any node will do.

``--cluster`` names one node or several (comma-separated). Every node answers for the
cluster (a follower forwards to the leader, or asks it), so one live node is enough; when
the one in use stops answering, the next is tried, so a command outlives the death of
the node it was talking to as well as a change of leader.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

# Per request; a node's API answers from memory, so more means it is gone or stalled.
REQUEST_TIMEOUT_S = 10.0


class ApiError(Exception):
    """No node answered, or the answer was not the cluster API's."""


class ClusterApi:
    def __init__(self, urls: str, token: str | None = None) -> None:
        self.urls = [url.strip().rstrip("/") for url in urls.split(",") if url.strip()]
        if not self.urls:
            raise ApiError("--cluster: give a node's API URL, e.g. http://127.0.0.1:8080")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ApiError(f"--cluster: {url!r} is not an http:// or https:// URL")
        self._token = token
        self._current = 0

    @property
    def url(self) -> str:
        return self.urls[self._current]

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer of the first node that answers."""
        failures = []
        for _ in range(len(self.urls)):
            try:
                return self._call_once(method, path, body)
            except (OSError, ValueError) as exc:  # refused, reset, timed out, not JSON
                failures.append(f"{self.url}: {_reason(exc)}")
                self._current = (self._current + 1) % len(self.urls)
        raise ApiError("no node answered: " + "; ".join(failures))

    def call_until(
        self, method: str, path: str, body: bytes | None, give_up_after: float
    ) -> tuple[int, dict[str, Any]]:
        """``call``, again while the answer is "retry" (503: no leader now) or no node
        answers, for up to ``give_up_after`` seconds."""
        deadline = time.monotonic() + give_up_after
        delay = 0.25
        while True:
            try:
                status, answer = self.call(method, path, body)
                if status != 503:
                    return status, answer
            except ApiError:
                if time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                return status, answer
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _call_once(self, method: str, path: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/yaml"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, json.JSONDecodeError):
        return "the answer is not JSON: is this a loadtest-supervisor node's API?"
    return str(exc) or type(exc).__name__
