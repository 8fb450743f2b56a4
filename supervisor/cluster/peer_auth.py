"""Peer authentication for cluster gRPC: every call proves who sends it before any
request message is decoded (DESIGN.md §10).

Two schemes, either or both:

- shared secret (``CLUSTER_SECRET``): each call carries ``x-loadtest-node: <node_id>``,
  ``x-loadtest-ts: <unix ms>`` and ``x-loadtest-auth: hex(HMAC-SHA256(secret,
  "<node_id>|<ts>|<method>"))``. A timestamp more than 60 s off is refused, which
  bounds replay of a captured header to that window and that one method.
- mTLS (``CLUSTER_TLS_CERT/KEY/CA``): the server requires a client certificate signed
  by the cluster CA, and the node id a caller claims in ``x-loadtest-node`` must be
  its certificate's common name or one of its SANs. Each node's certificate names its
  node id and the host it advertises (peers dial by address and verify that host).

A rejected call gets UNAUTHENTICATED from a handler that never reads its request:
gRPC decodes request messages only inside the method handler, and the handler we
substitute has no deserializer and does not consume the request stream.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.logs import log_event

logger = logging.getLogger(__name__)

NODE_KEY = "x-loadtest-node"
TS_KEY = "x-loadtest-ts"
AUTH_KEY = "x-loadtest-auth"
MAX_CLOCK_SKEW_S = 60.0

# Keep idle links alive and notice a stalled peer within ~3 s: a ping after 1 s
# without reads, even without calls in flight, answered within 2 s. (gRPC 1.85 times
# a keepalive ping out after grpc.http2.ping_timeout_ms, default 60 s, not after
# keepalive_timeout_ms alone.) Reconnects start fast so a restarted peer is back quickly.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 1000),
    ("grpc.keepalive_timeout_ms", 2000),
    ("grpc.http2.ping_timeout_ms", 2000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


class ClusterSetupError(Exception):
    """Cluster mode cannot start with these settings; the message says what to set."""


@dataclass(frozen=True)
class _TlsFiles:
    cert: bytes = field(repr=False)
    key: bytes = field(repr=False)
    ca: bytes = field(repr=False)


class PeerAuth:
    """How this node proves itself to peers and checks the peers calling it."""

    def __init__(self, node_id: str, secret: bytes | None, tls: _TlsFiles | None) -> None:
        self.node_id = node_id
        self._secret = secret
        self._tls = tls

    def __repr__(self) -> str:
        return f"PeerAuth(node_id={self.node_id!r}, scheme={self.scheme!r})"

    @property
    def scheme(self) -> str:
        """``secret``, ``mtls``, ``mtls+secret`` or ``insecure``: safe to log."""
        parts = [name for name, on in (("mtls", self._tls), ("secret", self._secret)) if on]
        return "+".join(parts) or "insecure"

    @classmethod
    def from_settings(cls, settings: NodeSettings, node_id: str) -> PeerAuth:
        """Build from ``NodeSettings``; refuse to run unauthenticated unless told to."""
        secret = settings.secret.get_secret_value().encode() if settings.secret else None
        tls = None
        if settings.tls_cert or settings.tls_key or settings.tls_ca:
            tls = _TlsFiles(
                cert=_read(settings.tls_cert, "CLUSTER_TLS_CERT"),
                key=_read(settings.tls_key, "CLUSTER_TLS_KEY"),
                ca=_read(settings.tls_ca, "CLUSTER_TLS_CA"),
            )
        if secret is None and tls is None:
            if not settings.insecure:
                raise ClusterSetupError(
                    "cluster traffic must be authenticated: set CLUSTER_SECRET, or "
                    "CLUSTER_TLS_CERT, CLUSTER_TLS_KEY and CLUSTER_TLS_CA, or set "
                    "CLUSTER_INSECURE=true to run without authentication"
                )
            log_event(
                logger,
                "insecure_cluster",
                logging.WARNING,
                node_id=node_id,
                msg="cluster traffic is NOT authenticated (CLUSTER_INSECURE=true)",
            )
        return cls(node_id, secret, tls)

    # --- client side ---

    def call_metadata(self, method: str) -> tuple[tuple[str, str], ...]:
        """Metadata for one call to ``method`` (``/loadtest.v1.Raft/Stream``)."""
        if self._secret is None:
            return ((NODE_KEY, self.node_id),)
        ts = str(int(time.time() * 1000))
        return (
            (NODE_KEY, self.node_id),
            (TS_KEY, ts),
            (AUTH_KEY, _sign(self._secret, self.node_id, ts, method)),
        )

    def channel(self, address: str) -> grpc.aio.Channel:
        """A channel to a peer's ``host:port``, secure when mTLS is configured."""
        if self._tls is None:
            return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        creds = grpc.ssl_channel_credentials(
            root_certificates=self._tls.ca,
            private_key=self._tls.key,
            certificate_chain=self._tls.cert,
        )
        return grpc.aio.secure_channel(address, creds, options=CHANNEL_OPTIONS)

    # --- server side ---

    def server_port(self, server: grpc.aio.Server, addr: str) -> int:
        """Add the listening port (TLS requiring client certs when configured); returns
        the bound port. Raises RuntimeError when gRPC cannot bind."""
        if self._tls is None:
            return server.add_insecure_port(addr)
        creds = grpc.ssl_server_credentials(
            [(self._tls.key, self._tls.cert)],
            root_certificates=self._tls.ca,
            require_client_auth=True,
        )
        return server.add_secure_port(addr, creds)

    def server_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """Interceptors that refuse unauthenticated calls before their payload is read."""
        return [_AuthInterceptor(self)]

    def verify_metadata(self, method: str, metadata: dict[str, str]) -> str | None:
        """The caller's node id if its metadata authenticates it for ``method``;
        None otherwise. With mTLS the id must still be matched to the certificate."""
        node_id = metadata.get(NODE_KEY)
        if not node_id:
            return None
        if self._secret is None:
            return node_id
        ts, mac = metadata.get(TS_KEY, ""), metadata.get(AUTH_KEY, "")
        try:
            skew = abs(time.time() - int(ts) / 1000)
        except ValueError:
            return None
        if skew > MAX_CLOCK_SKEW_S:
            return None
        if not hmac.compare_digest(mac, _sign(self._secret, node_id, ts, method)):
            return None
        return node_id

    @property
    def checks_certificates(self) -> bool:
        return self._tls is not None


def authenticated_node_id(context: grpc.aio.ServicerContext) -> str | None:
    """The caller's node id, for a handler behind the auth interceptor (already checked)."""
    for key, value in context.invocation_metadata() or ():
        if key == NODE_KEY:
            return value
    return None


def _read(path: str | None, variable: str) -> bytes:
    if not path:
        raise ClusterSetupError(f"mTLS needs {variable} with the other CLUSTER_TLS_* files")
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ClusterSetupError(f"cannot read {variable} ({path}): {e.strerror}") from None


def _sign(secret: bytes, node_id: str, ts: str, method: str) -> str:
    return hmac.new(secret, f"{node_id}|{ts}|{method}".encode(), hashlib.sha256).hexdigest()


def _certificate_names(context: grpc.aio.ServicerContext) -> set[str]:
    auth = context.auth_context()
    names = auth.get("x509_common_name", []) + auth.get("x509_subject_alternative_name", [])
    return {n.decode() if isinstance(n, bytes) else n for n in names}


class _AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, auth: PeerAuth) -> None:
        self._auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        # continuation only looks the handler up; nothing has been read from the call yet.
        handler = await continuation(details)
        if handler is None:
            return None
        metadata = {k: v for k, v in details.invocation_metadata or () if isinstance(v, str)}
        node_id = self._auth.verify_metadata(details.method, metadata)
        if node_id is None:
            _log_rejected(details.method, metadata.get(NODE_KEY), "bad or missing credentials")
            return _replace_behavior(handler, _reject)
        if self._auth.checks_certificates:
            return _replace_behavior(handler, _certificate_check(handler, node_id, details.method))
        return handler


Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


def _log_rejected(method: str, claimed: str | None, reason: str) -> None:
    log_event(
        logger,
        "peer_rejected",
        logging.WARNING,
        method=method,
        claimed_node_id=claimed or "-",
        reason=reason,
    )


async def _reject(_request: Any, context: grpc.aio.ServicerContext) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "peer authentication failed")


def _certificate_check(handler: grpc.RpcMethodHandler, node_id: str, method: str) -> Behavior:
    """The original behavior, run only once the certificate names the claimed node id;
    the request is decoded here, after that check."""
    original = _behavior(handler)
    deserialize = handler.request_deserializer or (lambda raw: raw)

    async def check_then_decode(raw: Any, context: grpc.aio.ServicerContext) -> Any:
        if node_id not in _certificate_names(context):
            _log_rejected(method, node_id, "certificate does not name the claimed node id")
            await _reject(raw, context)
        if handler.request_streaming:
            return (deserialize(r) async for r in raw)
        return deserialize(raw)

    if handler.response_streaming:

        async def checked_stream(raw: Any, context: grpc.aio.ServicerContext) -> Any:
            async for response in original(await check_then_decode(raw, context), context):
                yield response

        return checked_stream

    async def checked(raw: Any, context: grpc.aio.ServicerContext) -> Any:
        return await original(await check_then_decode(raw, context), context)

    return checked


def _behavior(handler: grpc.RpcMethodHandler) -> Behavior:
    return (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )


def _replace_behavior(handler: grpc.RpcMethodHandler, behavior: Behavior) -> Any:
    """A handler of the same kind whose requests arrive undecoded (raw bytes)."""
    factories: dict[tuple[bool, bool], Callable[..., Any]] = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    factory = factories[(handler.request_streaming, handler.response_streaming)]
    return factory(
        behavior, request_deserializer=None, response_serializer=handler.response_serializer
    )
