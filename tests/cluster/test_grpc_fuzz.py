"""Fuzzing the gRPC port of a running node (issue 14): random and truncated messages on
every method of every service (protos/loadtest.proto), with and without valid peer
credentials, oversized messages and many streams at once. The node must refuse an
unauthenticated call before decoding it (UNAUTHENTICATED even for bytes that are no
protobuf), never crash or log a traceback, and stay the healthy leader.

Longer runs: ``FUZZ_EXAMPLES=2000``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2
from tests.cluster.conftest import SECRET
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.support.fuzzing import fuzz_settings

TIMEOUT_S = 30
# Every method of every service, and whether the client streams (protos/loadtest.proto).
METHODS = {
    "/loadtest.v1.Peer/Hello": False,
    "/loadtest.v1.Raft/Stream": True,
    "/loadtest.v1.Coordination/PushMetrics": True,
    "/loadtest.v1.Coordination/SubmitConfig": False,
    "/loadtest.v1.Coordination/StopRun": False,
    "/loadtest.v1.Coordination/Results": False,
    "/loadtest.v1.Coordination/Clock": False,
}
# Valid messages, to be cut short: their prefixes are the truncated frames.
VALID = [
    loadtest_pb2.HelloRequest(node=loadtest_pb2.NodeInfo(node_id="fuzzer", address="a:1")),
    loadtest_pb2.RaftFrame(sender_address="127.0.0.1:1", sender_node_id="fuzzer", message=b"\x81"),
    loadtest_pb2.NodeSnapshot(node_id="fuzzer", run_id="r", seq=3),
    loadtest_pb2.SubmitConfigRequest(),
]
REFUSALS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.INTERNAL,  # gRPC's own: a request that does not parse
    grpc.StatusCode.UNKNOWN,  # gRPC's own: a handler raised on what it was given
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,  # a stream the node keeps open until we hang up
}
FUZZER = PeerAuth("fuzzer", SECRET.encode(), None)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    with ClusterHarness(
        tmp_path_factory.mktemp("grpc-fuzz"), env={"CLUSTER_SECRET": SECRET}
    ) as cluster:
        (node,) = cluster.start(1)
        cluster.wait_for_agreement(TIMEOUT_S)
        yield node
        assert node.running()
        assert "Traceback" not in node.log(), node.log_tail(60)


def call(node: NodeProcess, method: str, frames: list[bytes], signed: bool) -> grpc.StatusCode:
    metadata = FUZZER.call_metadata(method) if signed else ()
    with grpc.insecure_channel(node.grpc_addr) as channel:
        try:
            if METHODS[method]:
                channel.stream_unary(method)(iter(frames), metadata=metadata, timeout=2)
            else:
                channel.unary_unary(method)(frames[0], metadata=metadata, timeout=2)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


frames = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from(VALID), st.integers(0, 200)).map(
        lambda cut: cut[0].SerializeToString()[: cut[1]]
    ),
)


@fuzz_settings(150, deadline=None)
@given(st.sampled_from(sorted(METHODS)), st.lists(frames, min_size=1, max_size=4), st.booleans())
def test_random_and_truncated_frames_on_every_method(
    node: NodeProcess, method: str, payload: list[bytes], signed: bool
) -> None:
    code = call(node, method, payload, signed)
    if signed:
        assert code in REFUSALS, (method, code)
    else:
        assert code == grpc.StatusCode.UNAUTHENTICATED, (method, code)


def test_every_method_refuses_garbage_unauthenticated_and_the_node_stays_leader(
    node: NodeProcess,
) -> None:
    garbage = b"\xff\xfe not a protobuf \x00"
    decode_errors = node.log().count("DecodeError")
    rejected = node.log().count("event=peer_rejected")
    for method in METHODS:
        assert call(node, method, [garbage], signed=False) == grpc.StatusCode.UNAUTHENTICATED
    assert node.log().count("event=peer_rejected") == rejected + len(METHODS)
    assert node.log().count("DecodeError") == decode_errors  # not one was parsed
    for method in METHODS:
        assert call(node, method, [garbage], signed=True) in REFUSALS
    assert node.health()["state"] == "leader"


def test_oversized_messages_are_refused_on_every_method(node: NodeProcess) -> None:
    big = b"\x0a" + b"\xff" * (8 << 20)  # over CLUSTER_GRPC_MAX_MESSAGE_BYTES' default
    for method in METHODS:
        for signed in (True, False):
            code = call(node, method, [big], signed)
            assert code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAUTHENTICATED)
    assert node.health()["state"] == "leader"


def test_many_streams_at_once_leave_the_node_healthy(node: NodeProcess) -> None:
    """Three times the per-connection stream bound, held open on one connection, and as
    many again on connections of their own; health answers meanwhile."""
    held = 300
    method = "/loadtest.v1.Coordination/PushMetrics"

    async def main() -> list[grpc.StatusCode]:
        release = asyncio.Event()

        async def nothing_until_released() -> Callable[[], object]:
            await release.wait()
            return  # type: ignore[return-value]
            yield  # an async generator that sends nothing

        shared = grpc.aio.insecure_channel(node.grpc_addr)
        own = [grpc.aio.insecure_channel(node.grpc_addr) for _ in range(held // 10)]
        calls = [
            channel.stream_unary(method)(
                nothing_until_released(), metadata=FUZZER.call_metadata(method), timeout=30
            )
            for channel in [shared] * held + own * 10
        ]
        await asyncio.sleep(2)
        health = await asyncio.to_thread(node.health)
        assert health["state"] == "leader", health
        release.set()
        codes = []
        for pending in calls:
            try:
                await pending
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as error:
                codes.append(error.code())
        for channel in [shared, *own]:
            await channel.close()
        return codes

    codes = asyncio.run(main())
    assert set(codes) <= REFUSALS, set(codes)
    assert node.health()["state"] == "leader"
