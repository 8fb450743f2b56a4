"""The bounds on what the network may hand a node (docs/design.md §10 "Limits"), each
hit on a real node: a clear refusal, and /health/cluster answering throughout."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable

import grpc

from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.http_header_timeout import HEADER_TIMEOUT_S
from tests.cluster.api_client import TOKEN, post_run
from tests.cluster.conftest import SECRET
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.support import wait_for

TIMEOUT_S = 30
MAX_BODY = 4000
MAX_PLAN = 3000
MAX_CONNECTIONS = 20
# The smallest message bound the plan bound allows (NodeSettings._plan_fits_a_frame).
MAX_MESSAGE = MAX_PLAN + (1 << 20) + (64 << 10)
LIMITS = {
    "CLUSTER_API_TOKEN": TOKEN,
    "CLUSTER_HTTP_MAX_BODY_BYTES": str(MAX_BODY),
    "CLUSTER_MAX_PLAN_BYTES": str(MAX_PLAN),
    "CLUSTER_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "CLUSTER_GRPC_MAX_MESSAGE_BYTES": str(MAX_MESSAGE),
}
PLAN = "target: {url: 'http://127.0.0.1:9/'}\nload: {model: Rps, target_rps: 1, duration: 1s}\n"


def one_node(make_cluster: Callable[..., ClusterHarness]) -> NodeProcess:
    cluster = make_cluster(env=LIMITS)
    (node,) = cluster.start(1)
    cluster.wait_for_agreement(TIMEOUT_S)
    return node


def request(node: NodeProcess, method: str, path: str, **kwargs: object) -> tuple[int, dict]:
    host, port = node.health_addr.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path, **kwargs)  # type: ignore[arg-type]
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def raw_request(node: NodeProcess, data: bytes) -> tuple[int, dict]:
    host, port = node.health_addr.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_bodies_and_plans_over_their_bounds_are_refused_by_name(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    node = one_node(make_cluster)
    status, reply = post_run(node, b"#" * (MAX_BODY + 1), TOKEN)
    assert status == 413 and "CLUSTER_HTTP_MAX_BODY_BYTES=4000" in reply["error"]
    # No Content-Length: counted as it arrives. (The refusal closes the connection,
    # so the whole request goes out first, as a client's buffers would hold it.)
    chunk = b"3e8\r\n" + b"#" * 1000 + b"\r\n"
    head = (
        f"POST /runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status, reply = raw_request(node, head + chunk * 5 + b"0\r\n\r\n")
    assert status == 413 and "CLUSTER_HTTP_MAX_BODY_BYTES" in reply["error"]
    # A read-only route takes no body, and none of this size either.
    assert request(node, "GET", "/results", body=b"x" * (MAX_BODY + 1))[0] == 413

    padded = PLAN + "#" * (MAX_PLAN + 1 - len(PLAN)) + "\n"
    status, reply = post_run(node, padded.encode(), TOKEN)
    assert status == 400 and not reply["accepted"]
    assert f"is {len(padded)} bytes, more than CLUSTER_MAX_PLAN_BYTES=3000" in reply["error"]
    assert "config" not in node.health()
    assert post_run(node, PLAN.encode(), TOKEN)[0] == 200


def test_health_answers_while_idle_and_slow_connections_fill_the_api(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    """Slowloris: connections that never finish a request, and ones that send nothing,
    beyond the bound. Other routes are refused with a reason; health is not; and the
    node closes every one of them once its headers are past their deadline."""
    node = one_node(make_cluster)
    host, port = node.health_addr.split(":")
    held: list[socket.socket] = []
    try:
        for i in range(MAX_CONNECTIONS * 3):
            sock = socket.create_connection((host, int(port)), timeout=5)
            if i % 2:
                sock.sendall(b"GET /results HTTP/1.1\r\nHost: x\r\n")
            held.append(sock)
        deadline = time.monotonic() + 8  # past uvicorn's keep-alive timeout (5 s)
        polls = 0
        while time.monotonic() < deadline:
            for sock in held[1::2]:
                sock.sendall(b"X-a: b\r\n")  # one more header line: never the end
            assert node.health(timeout=2)["state"] == "leader"
            polls += 1
            time.sleep(0.2)
        assert polls >= 20
        status, reply = request(node, "GET", "/results")
        assert status == 503 and "CLUSTER_HTTP_MAX_CONNECTIONS=20" in reply["error"], reply
        status, reply = post_run(node, PLAN.encode(), TOKEN)
        assert status == 503 and "CLUSTER_HTTP_MAX_CONNECTIONS" in reply["error"]
        # The node closes them itself: no request's headers ended within the deadline.
        for sock in held:
            sock.settimeout(HEADER_TIMEOUT_S + 5)
            assert closed_by_peer(sock), sock
        wait_for(
            lambda: request(node, "GET", "/results")[0] == 404,
            timeout=10,
            what="/results answering again once the node closed the connections",
        )
    finally:
        for sock in held:
            sock.close()


def closed_by_peer(sock: socket.socket) -> bool:
    """Read until the peer closes (True), or the socket's timeout passes (False)."""
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_a_grpc_message_over_the_bound_is_refused_and_the_node_stays_healthy(
    make_cluster: Callable[..., ClusterHarness],
) -> None:
    node = one_node(make_cluster)
    auth = PeerAuth("fuzzer", SECRET.encode(), None)
    method = "/loadtest.v1.Peer/Hello"
    with grpc.insecure_channel(node.grpc_addr) as channel:
        hello = channel.unary_unary(method)
        for metadata in (auth.call_metadata(method), ()):
            try:
                hello(b"\x0a" + b"\xff" * (MAX_MESSAGE + 1), metadata=metadata, timeout=10)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
                assert "larger than max" in (error.details() or "")
            else:
                raise AssertionError("an oversized message was answered")
    assert node.health()["state"] == "leader"
    assert node.running()
