"""The node's one gRPC server: Raft, the peer handshake and coordination share one port
(``CLUSTER_BIND_ADDR``), every call behind peer authentication."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable

import grpc

from loadtest_supervisor.cluster.peer_auth import ClusterSetupError, PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.logs import log_event

logger = logging.getLogger(__name__)

SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    # gRPC sets SO_REUSEPORT by default, so a second node on a taken port would bind
    # "successfully" and share its traffic; we want a clear error instead.
    ("grpc.so_reuseport", 0),
    # Accept the clients' one-second keepalive pings (peer_auth.CHANNEL_OPTIONS) and
    # ping idle clients ourselves, so dead inbound links are noticed too.
    ("grpc.http2.min_ping_interval_without_data_ms", 500),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.keepalive_time_ms", 1000),
    ("grpc.keepalive_timeout_ms", 2000),
    ("grpc.http2.ping_timeout_ms", 2000),
)


class GrpcServer:
    """A started server: ``port`` is the bound port (useful when binding to port 0)."""

    def __init__(self, server: grpc.aio.Server, port: int) -> None:
        self._server = server
        self.port = port

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop accepting calls, let running ones finish for ``grace`` seconds."""
        await self._server.stop(grace)


class _PeerServicer(loadtest_pb2_grpc.PeerServicer):
    def __init__(self, me: loadtest_pb2.NodeInfo) -> None:
        self._me = me

    async def Hello(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.HelloRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.HelloReply:
        return loadtest_pb2.HelloReply(node=self._me)


async def start_grpc_server(
    bind_addr: str,
    auth: PeerAuth,
    register: Callable[[grpc.aio.Server], None],
    *,
    max_message_bytes: int,
    max_streams: int,
    node_id: str,
    advertise_addr: str,
    version: str,
    workers: int = 0,
) -> GrpcServer:
    """Start the authenticated gRPC server on ``bind_addr`` with ``Peer.Hello`` and the
    servicers ``register`` adds (the plugins' ``loadtest_register_grpc_services``), taking
    messages of at most ``max_message_bytes`` and ``max_streams`` streams per connection."""
    # gRPC itself refuses a larger message (RESOURCE_EXHAUSTED) before any handler
    # decodes it, and holds a peer's extra streams until one ends.
    limits = (
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_concurrent_streams", max_streams),
    )
    server = grpc.aio.server(
        interceptors=auth.server_interceptors(), options=SERVER_OPTIONS + limits
    )
    me = loadtest_pb2.NodeInfo(
        node_id=node_id, address=advertise_addr, version=version, workers=workers
    )
    loadtest_pb2_grpc.add_PeerServicer_to_server(_PeerServicer(me), server)
    register(server)
    try:
        port = auth.server_port(server, bind_addr)
    except RuntimeError:
        port = 0
    if port == 0:
        raise ClusterSetupError(f"cluster: cannot listen on {bind_addr}: {_bind_error(bind_addr)}")
    await server.start()
    log_event(
        logger, "grpc_listening", node_id=node_id, addr=bind_addr, port=port, auth=auth.scheme
    )
    return GrpcServer(server, port)


def _bind_error(addr: str) -> str:
    """Why gRPC could not bind (it only logs the reason): try the bind ourselves."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, int(port)))
    except OSError as e:
        return "address in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e)).lower()
    except ValueError:
        return "not a host:port address"
    return "bind failed"
