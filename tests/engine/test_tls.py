"""TLS, mTLS and the DNS override, end to end: the real CLI against an HTTPS demo target.

Certificates are made fresh for the session (a CA, a server cert for
loadtest.test/localhost/127.0.0.1, a client cert CN=loadtest-client), so the CA
is unknown to the system trust store: exactly the "internal CA" case users hit.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from loadtest_supervisor.demo.target import target_command
from tests.engine.cli import run_cli
from tests.support import LOOPBACK, ManagedProcess, free_port, port_accepts

CLIENT_CN = "loadtest-client"
SERVER_NAME = "loadtest.test"  # .test is reserved (RFC 2606): it never resolves in DNS


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: str,
    *,
    ca: bool = False,
    san: list[x509.GeneralName] | None = None,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey):
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("loadtest test CA", ca_key, ca_key, "loadtest test CA", ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue(
        SERVER_NAME,
        server_key,
        ca_key,
        "loadtest test CA",
        san=[
            x509.DNSName(SERVER_NAME),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue(
        CLIENT_CN, client_key, ca_key, "loadtest test CA", usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    server_cert, server_key_path = _write(directory, "server", server, server_key)
    client_cert, client_key_path = _write(directory, "client", client, client_key)
    return Pki(ca_path, server_cert, server_key_path, client_cert, client_key_path)


def _start_target(workdir: Path, pki: Pki, *, mtls: bool) -> tuple[ManagedProcess, int]:
    port = free_port()
    argv = target_command(
        LOOPBACK, port, "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)
    )
    if mtls:
        argv += ["--client-ca", str(pki.ca)]
    process = ManagedProcess(
        "tls_target", argv, log_path=workdir / "target.log", cwd=workdir
    ).start()
    process.wait_ready(lambda: port_accepts(LOOPBACK, port), timeout=30, what="TLS demo target")
    return process, port


@pytest.fixture(scope="module")
def https_port(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[int]:
    process, port = _start_target(tmp_path_factory.mktemp("https-target"), pki, mtls=False)
    try:
        yield port
    finally:
        process.stop()


@pytest.fixture(scope="module")
def mtls_port(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[int]:
    process, port = _start_target(tmp_path_factory.mktemp("mtls-target"), pki, mtls=True)
    try:
        yield port
    finally:
        process.stop()


@pytest.fixture(scope="module")
def alerting_mtls_port(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[int]:
    """`openssl s_server` demanding a client certificate: a server that sends TLS alerts.

    The demo target cannot be used to see how a rejected client is reported:
    asyncio (and uvloop) drop the fatal alert of a failed server-side handshake
    (python/cpython#98078), so its clients only see the connection close. Real
    mTLS servers send "certificate required", and that is what users meet.
    """
    workdir = tmp_path_factory.mktemp("s_server")
    port = free_port()
    argv = ["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-www", "-Verify", "1"]
    argv += ["-cert", str(pki.server_cert), "-key", str(pki.server_key), "-CAfile", str(pki.ca)]
    process = ManagedProcess("s_server", argv, log_path=workdir / "s_server.log", cwd=workdir)
    process.start()
    process.wait_ready(lambda: port_accepts(LOOPBACK, port), timeout=30, what="openssl s_server")
    try:
        yield port
    finally:
        process.stop()


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        "TARGET_URL": url,
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": "2",
        "TEST_DURATION": "2s",
        **extra,
    }


def _plan(tmp_path: Path, url: str, tls: dict[str, str], body_contains: str) -> str:
    doc = {
        "target": {"url": url, "tls": tls},
        "scenarios": [
            {"name": "s", "steps": [{"path": "/echo", "assert": {"body_contains": body_contains}}]}
        ],
        "load": {"model": "Concurrent", "concurrency": 2, "duration": "2s"},
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _assert_all_ok(results: dict) -> None:
    assert results["requests_total"] > 0
    assert results["errors_total"] == 0, results["errors"]
    assert results["status_codes"] == {"200": results["requests_total"]}


def _assert_all_tls_errors(proc, results: dict) -> None:
    """Every request failed its handshake, was counted as `tls`, and the run ended cleanly."""
    # Not a crash (3): the run ended and failed because nothing succeeded.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert results["requests_total"] > 0
    assert results["errors_total"] == results["requests_total"]
    assert results["errors"]["tls"] == results["errors_total"], results["errors"]
    assert "200" not in results["status_codes"]
    assert "tls" in proc.stdout  # the summary names the error kind


def _echo(port: int, ctx: ssl.SSLContext) -> dict:
    conn = http.client.HTTPSConnection(LOOPBACK, port, context=ctx, timeout=5)
    try:
        conn.request("GET", "/echo")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_demo_target_mtls(pki: Pki, mtls_port: int) -> None:
    """The target itself, with Python's own client: the CLI tests rely on it."""
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        _echo(mtls_port, ctx)  # no client certificate: no answer
    ctx.load_cert_chain(pki.client_cert, pki.client_key)
    assert _echo(mtls_port, ctx)["client_cn"] == CLIENT_CN


def test_https_with_ca(pki: Pki, https_port: int, tmp_path: Path) -> None:
    env = _env(f"https://127.0.0.1:{https_port}/", TLS_CA_PATH=str(pki.ca))
    proc, results = run_cli(["--workers", "1"], env, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_all_ok(results)


def test_unknown_ca_is_a_tls_error(https_port: int, tmp_path: Path) -> None:
    proc, results = run_cli(
        ["--workers", "1"], _env(f"https://127.0.0.1:{https_port}/"), tmp_path=tmp_path
    )
    _assert_all_tls_errors(proc, results)


def test_skip_tls_verify(https_port: int, tmp_path: Path) -> None:
    env = _env(f"https://127.0.0.1:{https_port}/", SKIP_TLS_VERIFY="true")
    proc, results = run_cli(["--workers", "1"], env, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_all_ok(results)


def test_mtls_presents_the_client_cert(pki: Pki, mtls_port: int, tmp_path: Path) -> None:
    tls = {
        "ca": str(pki.ca),
        "client_cert": str(pki.client_cert),
        "client_key": str(pki.client_key),
    }
    url = f"https://127.0.0.1:{mtls_port}"
    plan = _plan(tmp_path, url, tls, f'"client_cn": "{CLIENT_CN}"')
    proc, results = run_cli(["--config", plan, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_all_ok(results)

    # The same run asserting another CN must fail: the assertion really reads the body.
    plan = _plan(tmp_path, url, tls, '"client_cn": "someone-else"')
    proc, results = run_cli(["--config", plan, "--workers", "1"], {}, tmp_path=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert results["requests_total"] > 0
    assert results["errors"]["assertion"] == results["requests_total"]


def test_mtls_without_client_cert_is_a_tls_error(
    pki: Pki, alerting_mtls_port: int, tmp_path: Path
) -> None:
    env = _env(f"https://127.0.0.1:{alerting_mtls_port}/", TLS_CA_PATH=str(pki.ca))
    proc, results = run_cli(["--workers", "1"], env, tmp_path=tmp_path)
    _assert_all_tls_errors(proc, results)


def test_resolve_target_addr(pki: Pki, https_port: int, tmp_path: Path) -> None:
    # Success below is only possible through the override if the name cannot resolve.
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(SERVER_NAME, https_port)
    host = f"{SERVER_NAME}:{https_port}"
    # The certificate is checked against loadtest.test (TLS_CA_PATH, no skip), so the
    # SNI/hostname stay the URL's while the connection goes to 127.0.0.1.
    plan = _plan(tmp_path, f"https://{host}", {"ca": str(pki.ca)}, f'"Host": "{host}"')
    proc, results = run_cli(
        ["--config", plan, "--workers", "1"],
        {"RESOLVE_TARGET_ADDR": "127.0.0.1"},
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_all_ok(results)


def test_missing_client_cert_file_is_a_config_error(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-client.crt"
    env = _env(
        "https://127.0.0.1:9/",
        CLIENT_CERT_PATH=str(missing),
        CLIENT_KEY_PATH=str(pki.client_key),
    )
    proc, results = run_cli(["--workers", "1"], env, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "CLIENT_CERT_PATH" in proc.stderr
    assert results is None  # rejected before any load
