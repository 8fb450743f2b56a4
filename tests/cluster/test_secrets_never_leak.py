"""Secrets never leak (issue 14, design §10): every secret a set of representative runs
is given (cluster secret, API token, Consul token, TLS private key) is looked for in
everything those runs produce, and found nowhere.

What is scanned: a standalone run's stdout, stderr and results file, and its
--print-config; a configuration error with every secret set; a 3-node cluster (shared
secret and mTLS both, API token, Consul token) through a run posted to a follower: each
node's log, every node's /health/cluster, /results (cluster and node scope) and
/metrics, each node's results files in its data dir, the API's refusal of a wrong
token, a plan refused by validation, and each node's --print-config. And, by
``test_no_suite_secret_in_the_session_s_logs``, every ``*.log`` the tests of this
session wrote under pytest's base temp dir before it runs (so with ``tests/cluster``
first, the cluster tests' node logs), for the fixed secrets the suite uses.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from cryptography import x509

from tests.cluster import test_peer_auth
from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.conftest import SECRET
from tests.cluster.harness import ClusterHarness, NodeProcess, node_host
from tests.engine.cli import run_cli
from tests.services.http_target import HttpTarget
from tests.support import wait_for

TIMEOUT_S = 30


def tls_files(directory: Path, node_ids: list[str]) -> tuple[Path, Path, Path]:
    """A cluster CA and one certificate naming every node (its id and its address)."""
    ca = test_peer_auth._issue(directory, "ca", None, [])
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in node_ids]
    names += [x509.IPAddress(ipaddress.ip_address(node_host(i))) for i in range(len(node_ids))]
    test_peer_auth._issue(directory, node_ids[0], ca, names)
    return directory / f"{node_ids[0]}.crt", directory / f"{node_ids[0]}.key", directory / "ca.crt"


def key_material(key_path: Path) -> list[str]:
    """What of a PEM private key would show if it leaked: each base64 line, and the raw
    key bytes in hex."""
    lines = [ln for ln in key_path.read_text().splitlines() if ln and not ln.startswith("-----")]
    raw = base64.b64decode("".join(lines))
    return [*lines, raw.hex(), raw[-32:].hex()]


def find_secrets(texts: Iterable[tuple[str, str]], secret_values: Iterable[str]) -> list[str]:
    """Where each secret was found: ``what: secret…``."""
    found = []
    for where, text in texts:
        for value in secret_values:
            if value and value in text:
                found.append(f"{where}: {value[:6]}…")
    return found


def get(node: NodeProcess, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{node.health_addr}{path}", timeout=5) as resp:
            return resp.read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()


def test_no_secret_in_what_standalone_and_cluster_runs_produce(
    tmp_path: Path, http_target: HttpTarget, make_cluster: Callable[..., ClusterHarness]
) -> None:
    node_ids = [f"node-{11 + i}" for i in range(3)]
    cert, key, ca = tls_files(tmp_path, node_ids)
    given = {
        "CLUSTER_SECRET": f"cluster-{secrets.token_hex(16)}",
        "CLUSTER_API_TOKEN": f"api-{secrets.token_hex(16)}",
        "CONSUL_HTTP_TOKEN": f"consul-{secrets.token_hex(16)}",
    }
    env = {
        **given,
        "CLUSTER_TLS_CERT": str(cert),
        "CLUSTER_TLS_KEY": str(key),
        "CLUSTER_TLS_CA": str(ca),
    }
    secret_values = [*given.values(), *key_material(key)]
    texts: list[tuple[str, str]] = []

    # Standalone: a short run, its config printed, and a configuration error.
    plan = f"target: {{url: '{http_target.url}'}}\nload: {{concurrency: 2, duration: 1s}}\n"
    (tmp_path / "plan.yaml").write_text(plan)
    config = ["--config", str(tmp_path / "plan.yaml")]
    proc, results = run_cli([*config, "--workers", "1"], env, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    texts += [("standalone stdout", proc.stdout), ("standalone stderr", proc.stderr)]
    texts.append(("standalone results", str(results)))
    for extra in ({}, {"CLUSTER_ENABLED": "true"}):
        proc, _ = run_cli([*config, "--print-config"], {**env, **extra}, expect_results=False)
        assert proc.returncode == 0 and "CLUSTER_SECRET" in proc.stdout, proc.stderr
        texts.append((f"--print-config {extra}", proc.stdout + proc.stderr))
    bad = {**env, "CLUSTER_ENABLED": "true", "CLUSTER_TLS_CA": str(tmp_path / "missing")}
    proc, _ = run_cli([*config, "--print-config"], bad, expect_results=False)
    assert proc.returncode == 2, proc.stderr
    texts.append(("configuration error", proc.stdout + proc.stderr))

    # A 3-node cluster through a run posted to a follower.
    cluster = make_cluster(env=env)
    nodes = cluster.start(3)
    leader_id, _ = cluster.wait_for_agreement(TIMEOUT_S)
    follower = next(n for n in nodes if n.node_id != leader_id)
    token = given["CLUSTER_API_TOKEN"]
    status, reply = post_run(follower, b"load: {modle: 1}\n", token)
    assert status == 400
    texts.append(("refused plan", str(reply)))
    status, reply = post_run(follower, b"x", given["CLUSTER_SECRET"])
    assert status == 401
    texts.append(("wrong token", str(reply)))
    run_plan = (
        f"target: {{url: '{http_target.url}'}}\n"
        "load: {model: Rps, target_rps: 5, duration: 2s, workers: 1}\n"
    )
    status, reply = post_run(follower, run_plan.encode(), token)
    assert status == 200, reply
    wait_for(
        lambda: (json.loads(get(follower, "/results")).get("run") or {}).get("final"),
        timeout=TIMEOUT_S,
        what="the run's final results",
    )
    for node in nodes:
        for path in ("/health/cluster", "/results", "/results?scope=node", "/metrics"):
            texts.append((f"{node.node_id} {path}", get(node, path)))
    for node in nodes:
        node.stop()
        texts.append((f"{node.node_id} log", node.log()))
        for file in node.data_dir.rglob("*.json"):
            texts.append((str(file), file.read_text(errors="replace")))
    assert any("results-" in where for where, _ in texts)  # the nodes' results files

    assert find_secrets(texts, secret_values) == []
    assert find_secrets([("control", f"token={token}")], secret_values)  # the scan works


def test_no_suite_secret_in_the_session_s_logs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every log the suite's tests wrote so far in this session, for the fixed secrets
    the suite hands its nodes."""
    base = tmp_path_factory.getbasetemp()
    logs = [(str(p), p.read_text(errors="replace")) for p in base.rglob("*.log") if p.is_file()]
    suite_secrets = [SECRET, TOKEN, test_peer_auth.SECRET]
    assert find_secrets(logs, suite_secrets) == []
