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
    return _call(node, "POST", "/runs", body, token, {"Content-Type": "application/yaml"})


def stop_run(node: NodeProcess, token: str | None = None) -> tuple[int, dict[str, Any]]:
    return _call(node, "DELETE", "/runs/current", None, token, {})


def _call(
    node: NodeProcess,
    method: str,
    path: str,
    body: bytes | None,
    token: str | None,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    if token is not None:
        headers = {**headers, "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(
        f"http://{node.health_addr}{path}", data=body, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def node_results(node: NodeProcess, scope: str = "node", run_id: str = "") -> dict[str, Any] | None:
    """The node's /results document (its own, or the cluster's), or None while it has none."""
    url = f"http://{node.health_addr}/results?scope={scope}&run_id={run_id}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError:
        return None
