"""Peer authentication on a real grpc.aio server (127.0.0.1): callers without valid
credentials get UNAUTHENTICATED, and nothing they send reaches the Raft codec; and
the codec never unpickles, even for an authenticated peer."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import pathlib
import pickle
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from loadtest_supervisor.cluster.grpc_server import start_grpc_server
from loadtest_supervisor.cluster.peer_auth import (
    AUTH_KEY,
    NODE_KEY,
    TS_KEY,
    ClusterSetupError,
    PeerAuth,
    _sign,
)
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.plugins.raft import codec
from loadtest_supervisor.plugins.raft.member_feed import MemberFeed
from loadtest_supervisor.plugins.raft.transport import HELLO_METHOD, STREAM_METHOD, RaftLinkServicer

SECRET = "correct horse battery staple"


class Exploit:
    """Unpickling this creates ``path``: the marker that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def exploit_payload(path: Path) -> bytes:
    return pickle.dumps({"type": "append_entries", "term": 99, "x": Exploit(path)})


def test_the_exploit_payload_really_runs_code_when_unpickled(tmp_path: Path) -> None:
    control = tmp_path / "control"
    pickle.loads(exploit_payload(control))  # noqa: S301 (this is the point)
    assert control.exists()


@dataclass
class Server:
    port: int
    servicer: RaftLinkServicer
    delivered: list[tuple[str, str | None, dict[str, Any]]]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def run_with_server(auth: PeerAuth, body: Callable[[Server], Awaitable[None]]) -> None:
    async def main() -> None:
        servicer = RaftLinkServicer(MemberFeed(lambda: None))
        delivered: list[tuple[str, str | None, dict[str, Any]]] = []
        servicer.attach(lambda *frame: delivered.append(frame))
        grpc_server = await start_grpc_server(
            "127.0.0.1:0",
            auth,
            lambda s: loadtest_pb2_grpc.add_RaftServicer_to_server(servicer, s),
            max_message_bytes=4 << 20,
            max_streams=100,
            node_id=auth.node_id,
            advertise_addr="127.0.0.1:0",
            version="test",
        )
        try:
            await body(Server(grpc_server.port, servicer, delivered))
        finally:
            await grpc_server.stop(0)

    asyncio.run(main())


async def hello(channel: grpc.aio.Channel, metadata: Any) -> loadtest_pb2.HelloReply:
    return await loadtest_pb2_grpc.PeerStub(channel).Hello(
        loadtest_pb2.HelloRequest(), metadata=metadata, timeout=5
    )


async def stream(
    channel: grpc.aio.Channel, metadata: Any, payload: bytes, sender: str = "n2"
) -> loadtest_pb2.StreamAck:
    frame = loadtest_pb2.RaftFrame(
        sender_address="127.0.0.1:1", sender_node_id=sender, message=payload
    )
    return await loadtest_pb2_grpc.RaftStub(channel).Stream(
        iter([frame]), metadata=metadata, timeout=5
    )


async def expect_code(code: grpc.StatusCode, call: Awaitable[Any]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()


# --- shared secret ---


def test_secret_rejects_missing_wrong_and_stale_credentials(tmp_path: Path) -> None:
    server_auth = PeerAuth("n1", SECRET.encode(), None)
    good = PeerAuth("n2", SECRET.encode(), None)
    wrong = PeerAuth("n2", b"not the secret", None)
    marker = tmp_path / "pwned"
    stale_ts = str(int((time.time() - 120) * 1000))
    stale = (
        (NODE_KEY, "n2"),
        (TS_KEY, stale_ts),
        (AUTH_KEY, _sign(SECRET.encode(), "n2", stale_ts, STREAM_METHOD)),
    )
    # A valid signature for Hello does not open the Raft stream.
    other_method = good.call_metadata(HELLO_METHOD)

    async def body(server: Server) -> None:
        async with grpc.aio.insecure_channel(server.address) as channel:
            await expect_code(grpc.StatusCode.UNAUTHENTICATED, hello(channel, ()))
            await expect_code(
                grpc.StatusCode.UNAUTHENTICATED,
                hello(channel, wrong.call_metadata(HELLO_METHOD)),
            )
            for metadata in ((), wrong.call_metadata(STREAM_METHOD), stale, other_method):
                await expect_code(
                    grpc.StatusCode.UNAUTHENTICATED,
                    stream(channel, metadata, exploit_payload(marker)),
                )
            # Rejected before the codec ever saw a byte of the payload.
            assert server.servicer.decode_attempts == 0

            reply = await hello(channel, good.call_metadata(HELLO_METHOD))
            assert reply.node.node_id == "n1"

            # Authenticated, the codec gets the pickle, refuses it, and runs no code.
            ack = await stream(channel, good.call_metadata(STREAM_METHOD), exploit_payload(marker))
            assert ack.frames == 0 and server.servicer.decode_attempts == 1
            assert server.delivered == []

            # A real Raft message from an authenticated peer is delivered.
            vote = {"type": "response_vote", "term": 3}
            ack = await stream(channel, good.call_metadata(STREAM_METHOD), codec.encode(vote))
            assert ack.frames == 1
            assert server.delivered == [("127.0.0.1:1", "n2", vote)]

            # A peer cannot speak for another node in its frames.
            await expect_code(
                grpc.StatusCode.PERMISSION_DENIED,
                stream(channel, good.call_metadata(STREAM_METHOD), b"", sender="n3"),
            )

    run_with_server(server_auth, body)
    assert not marker.exists()


# --- mTLS ---


@dataclass
class Pki:
    ca: Path
    certs: dict[str, tuple[Path, Path]]  # name -> (cert, key)


def _issue(
    directory: Path,
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    sans: list[x509.GeneralName],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = _issue(directory, "cluster-ca", None, [])
    rogue_ca = _issue(directory, "rogue-ca", None, [])
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    for name, issuer in (("n1", ca), ("n2", ca), ("rogue", rogue_ca)):
        _issue(directory, name, issuer, [x509.DNSName(name), loopback])
    certs = {n: (directory / f"{n}.crt", directory / f"{n}.key") for n in ("n1", "n2", "rogue")}
    return Pki(directory / "cluster-ca.crt", certs)


def mtls_auth(pki: Pki, node_id: str, cert_of: str) -> PeerAuth:
    cert, key = pki.certs[cert_of]
    settings = NodeSettings(
        node_id=node_id, tls_cert=str(cert), tls_key=str(key), tls_ca=str(pki.ca)
    )
    return PeerAuth.from_settings(settings, node_id)


def test_mtls_checks_the_claimed_node_id_against_the_certificate(pki: Pki, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    n2 = mtls_auth(pki, "n2", "n2")
    impostor = mtls_auth(pki, "n3", "n2")  # n2's certificate, claiming to be n3
    rogue = mtls_auth(pki, "rogue", "rogue")  # signed by another CA

    async def body(server: Server) -> None:
        async with n2.channel(server.address) as channel:
            reply = await hello(channel, n2.call_metadata(HELLO_METHOD))
            assert reply.node.node_id == "n1"
            await expect_code(grpc.StatusCode.UNAUTHENTICATED, hello(channel, ()))
        async with impostor.channel(server.address) as channel:
            await expect_code(
                grpc.StatusCode.UNAUTHENTICATED,
                hello(channel, impostor.call_metadata(HELLO_METHOD)),
            )
            await expect_code(
                grpc.StatusCode.UNAUTHENTICATED,
                stream(
                    channel,
                    impostor.call_metadata(STREAM_METHOD),
                    exploit_payload(marker),
                    sender="n3",
                ),
            )
            assert server.servicer.decode_attempts == 0
        async with rogue.channel(server.address) as channel:
            # No TLS session without a certificate from the cluster CA.
            await expect_code(
                grpc.StatusCode.UNAVAILABLE, hello(channel, rogue.call_metadata(HELLO_METHOD))
            )
        async with n2.channel(server.address) as channel:
            vote = {"type": "request_vote", "term": 1, "last_log_index": 1, "last_log_term": 0}
            ack = await stream(channel, n2.call_metadata(STREAM_METHOD), codec.encode(vote))
            assert ack.frames == 1 and server.delivered == [("127.0.0.1:1", "n2", vote)]

    run_with_server(mtls_auth(pki, "n1", "n1"), body)
    assert not marker.exists()


# --- settings ---


def test_no_authentication_configured_refuses_to_start() -> None:
    with pytest.raises(ClusterSetupError) as info:
        PeerAuth.from_settings(NodeSettings(node_id="n1"), "n1")
    message = str(info.value)
    for name in ("CLUSTER_SECRET", "CLUSTER_TLS_CERT", "CLUSTER_INSECURE"):
        assert name in message


def test_insecure_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        auth = PeerAuth.from_settings(NodeSettings(node_id="n1", insecure=True), "n1")
    assert auth.scheme == "insecure"
    assert [r.fields["event"] for r in caplog.records] == ["insecure_cluster"]  # type: ignore[attr-defined]


def test_the_secret_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        auth = PeerAuth.from_settings(NodeSettings(node_id="n1", secret=SECRET), "n1")
        text = repr(auth) + str(auth.call_metadata(STREAM_METHOD))
    assert SECRET not in text and SECRET not in caplog.text
