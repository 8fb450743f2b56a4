"""The test services are the real thing: each test drives one through its real protocol."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import consul as consul_api
import dns.resolver
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.services import ConsulAgent, ConsulTemplate, FakeGcs, HttpTarget, Nginx, binary
from tests.support import ServiceError, wait_for

pytestmark = pytest.mark.timeout(120)


def unique(prefix: str) -> str:
    # The shared agent and emulator outlive each test: names must not collide.
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def http_put(url: str, body: bytes) -> Any:
    req = urllib.request.Request(url, data=body, method="PUT")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def check_of(agent: ConsulAgent, service_id: str) -> dict[str, Any] | None:
    checks = agent.client.agent.checks()
    return next((c for c in checks.values() if c["ServiceID"] == service_id), None)


def register(
    agent: ConsulAgent, name: str, tag: str, check_url: str, *, initial: str | None = None
) -> None:
    check = consul_api.Check.http(check_url, interval="1s", timeout="1s")
    if initial is not None:
        # Consul starts a new check as critical; starting it as passing means
        # that seeing it critical later can only come from a real probe.
        check["status"] = initial
    agent.client.agent.service.register(
        name, service_id=name, address="127.0.0.1", port=8080, tags=[tag], check=check
    )


def wait_check(agent: ConsulAgent, service_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        check = check_of(agent, service_id)
        return check if check is not None and check["Status"] == status else None

    return wait_for(reached, timeout=15, interval=0.1, what=f"check of {service_id} -> {status}")


# --------------------------------------------------------------------- Consul


def test_consul_http_check_goes_passing_then_critical(
    consul: ConsulAgent, http_target: HttpTarget
) -> None:
    name = unique("lt-check")
    try:
        register(consul, name, "forming", f"{http_target.url}/")
        passing = wait_check(consul, name, "passing")
        # Consul's own probe result, as "HTTP GET <url>: <status> Output: <body>".
        assert ": 200 OK Output:" in passing["Output"]
        assert consul.client.agent.services()[name]["Tags"] == ["forming"]

        register(consul, name, "forming", f"{http_target.url}/status/500", initial="passing")
        critical = wait_check(consul, name, "critical")
        assert ": 500 Internal Server Error Output:" in critical["Output"]
        # The health API that discovery reads agrees with the agent.
        _, passing_nodes = consul.client.health.service(name, passing=True)
        assert passing_nodes == []
    finally:
        consul.client.agent.service.deregister(name)


def test_consul_dns_resolves_the_leader_tag(consul: ConsulAgent, http_target: HttpTarget) -> None:
    name = unique("lt-dns")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = consul.dns_port
    resolver.lifetime = 2.0

    def a_records(qname: str) -> list[str] | None:
        try:
            return [r.address for r in resolver.resolve(qname, "A")]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None

    try:
        register(consul, name, "forming", f"{http_target.url}/")
        wait_check(consul, name, "passing")
        assert wait_for(lambda: a_records(f"forming.{name}.service.consul"), timeout=10)

        register(consul, name, "leader", f"{http_target.url}/", initial="passing")
        records = wait_for(
            lambda: a_records(f"leader.{name}.service.consul"), timeout=10, what="leader tag in DNS"
        )
        assert records == ["127.0.0.1"]
        # Re-registering replaced the tag: the old one no longer resolves.
        assert a_records(f"forming.{name}.service.consul") is None
    finally:
        consul.client.agent.service.deregister(name)


def test_consul_kv_raw_base64_and_blocking_query(consul: ConsulAgent) -> None:
    key = unique("loadtest/test-kv")
    kv_url = f"{consul.url}/v1/kv/{key}"
    assert http_put(kv_url, b"first: 1\n") is True

    status, raw, _ = http_get(f"{kv_url}?raw")
    assert (status, raw) == (200, b"first: 1\n")

    status, body, headers = http_get(kv_url)
    entry = json.loads(body)[0]
    assert status == 200
    assert base64.b64decode(entry["Value"]) == b"first: 1\n"
    index = int(headers["X-Consul-Index"])
    assert index == entry["ModifyIndex"]

    woke: dict[str, Any] = {}

    def block() -> None:
        started = time.monotonic()
        _, body, headers = http_get(f"{kv_url}?index={index}&wait=20s", timeout=30)
        woke.update(at=time.monotonic(), took=time.monotonic() - started, body=body, hdr=headers)

    watcher = threading.Thread(target=block, daemon=True)
    watcher.start()
    time.sleep(0.5)
    assert watcher.is_alive(), "the blocking query returned before anything changed"

    put_at = time.monotonic()
    assert http_put(kv_url, b"second: 2\n") is True
    watcher.join(10)
    assert not watcher.is_alive(), "the put did not wake the blocking query"

    new_entry = json.loads(woke["body"])[0]
    assert base64.b64decode(new_entry["Value"]) == b"second: 2\n"
    assert int(woke["hdr"]["X-Consul-Index"]) > index
    # Woken by the put, not by the 20 s wait running out.
    assert woke["at"] >= put_at
    assert woke["took"] < 5


def test_consul_template_renders_a_kv_key(
    consul: ConsulAgent, consul_template: ConsulTemplate, tmp_path: Path
) -> None:
    key = unique("loadtest/template")
    consul.client.kv.put(key, "rate: 100")
    template = f'# rendered\n{{{{ key "{key}" }}}}\n'

    once = tmp_path / "once.yaml"
    assert consul_template.render_once(template, once) == "# rendered\nrate: 100\n"

    # As a daemon it follows the key.
    live = tmp_path / "live.yaml"
    consul_template.start(template, live)
    wait_for(lambda: live.exists() and "rate: 100" in live.read_text(), timeout=15)
    consul.client.kv.put(key, "rate: 250")
    wait_for(lambda: "rate: 250" in live.read_text(), timeout=15, what="re-render")


def test_consul_template_once_fails_loudly_on_a_missing_key(
    consul_template: ConsulTemplate, tmp_path: Path
) -> None:
    key = unique("loadtest/never-written")
    with pytest.raises(ServiceError, match="did not finish"):
        consul_template.render_once(f'{{{{ key "{key}" }}}}', tmp_path / "x", timeout=1)
    assert not (tmp_path / "x").exists()


def test_consul_restart_keeps_ports_and_loses_state(
    consul_factory: Callable[[], ConsulAgent],
) -> None:
    agent = consul_factory()
    http_addr, dns_port = agent.http_addr, agent.dns_port
    agent.client.kv.put("loadtest/before-restart", "x")
    agent.client.agent.service.register("lt-restart", service_id="lt-restart", port=1)

    agent.restart()

    assert (agent.http_addr, agent.dns_port) == (http_addr, dns_port)
    assert agent.leader()
    _, entry = agent.client.kv.get("loadtest/before-restart")
    assert entry is None
    assert "lt-restart" not in agent.client.agent.services()


# ------------------------------------------------------------------------ GCS


def test_gcs_upload_then_download_same_bytes(gcs: FakeGcs) -> None:
    client = gcs.client()
    bucket = client.create_bucket(unique("lt-bucket"))
    payload = os.urandom(256 * 1024) + b"\x00tail"
    bucket.blob("plans/test.yaml").upload_from_string(payload)

    blob = client.bucket(bucket.name).get_blob("plans/test.yaml")
    assert blob is not None and blob.size == len(payload)
    # Download links must lead back to the emulator, never to the real GCS.
    assert blob.media_link.startswith(gcs.url + "/")
    assert blob.download_as_bytes() == payload
    assert [b.name for b in client.list_blobs(bucket.name)] == ["plans/test.yaml"]


def test_gcs_reached_through_storage_emulator_host(
    gcs: FakeGcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Product code builds its own client; the environment variable is how a
    # test points it at the emulator.
    bucket_name = unique("lt-env")
    gcs.client().create_bucket(bucket_name).blob("c.yaml").upload_from_string(b"from env\n")
    for name, value in gcs.env().items():
        monkeypatch.setenv(name, value)
    client = storage.Client(project="test", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    assert client.bucket(bucket_name).blob("c.yaml").download_as_bytes() == b"from env\n"


# -------------------------------------------------------------- HTTP targets


def test_nginx_serves_200_with_keep_alive(nginx: Nginx) -> None:
    conn = http.client.HTTPConnection(nginx.host, nginx.port, timeout=5)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, nginx.body)
        assert first.getheader("Connection", "").lower() != "close"
        sock, local = conn.sock, conn.sock.getsockname()

        conn.request("GET", "/")
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, nginx.body)
        # Same socket, same local port: the connection was reused, not reopened.
        assert conn.sock is sock and conn.sock.getsockname() == local
    finally:
        conn.close()


def raw_request(target: HttpTarget, path: str, timeout: float) -> bytes:
    """Send one GET and return whatever arrives before the peer closes."""
    with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_http_target_behaviours(http_target: HttpTarget) -> None:
    status, body, _ = http_get(f"{http_target.url}/")
    assert status == 200 and body

    status, body, _ = http_get(f"{http_target.url}/json")
    assert json.loads(body) == {"token": "abc123", "items": [{"id": 1}, {"id": 2}]}

    started = time.monotonic()
    status, _, _ = http_get(f"{http_target.url}/slow?ms=300")
    took = time.monotonic() - started
    assert status == 200 and 0.3 <= took < 2.0

    assert http_get(f"{http_target.url}/status/503")[0] == 503

    # /drop: the connection ends with no bytes of an answer.
    assert raw_request(http_target, "/drop", timeout=2) == b""

    # /hang: nothing at all arrives, the client's own timeout ends it.
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        raw_request(http_target, "/hang", timeout=0.5)
    assert time.monotonic() - started < 2


# ----------------------------------------------------------- the helpers


def test_missing_binary_fails_loudly() -> None:
    with pytest.raises(ServiceError, match="run scripts/test-services"):
        binary("no-such-service")
