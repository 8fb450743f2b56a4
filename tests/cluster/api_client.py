"""A node's HTTP API as a person or a script calls it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests.cluster.harness import NodeProcess

TOKEN = "api-token-for-tests"


def post_run(
    node: NodeProcess, body: bytes, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/yaml"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://{node.health_addr}/runs", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def node_results(node: NodeProcess) -> dict[str, Any] | None:
    """The node's /results document, or None while it has none."""
    try:
        with urllib.request.urlopen(f"http://{node.health_addr}/results", timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError:
        return None
