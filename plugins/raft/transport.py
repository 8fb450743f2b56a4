"""pysyncobj's transport over the node's gRPC server.

Two threads meet here. pysyncobj's tick thread calls ``send()``, which must not block:
it encodes the message and hands it to the asyncio loop (``call_soon_threadsafe``)
into the peer's queue. On the loop, one long-lived client stream per peer
(``Raft.Stream``) drains that queue, reconnecting with backoff. Inbound frames arrive
on the loop through ``RaftLinkServicer`` (after peer authentication), are decoded
there, and are handed back to the tick thread through a queue plus pysyncobj's
``PipeNotifier`` on its poller, so pysyncobj only ever sees them on its own thread.

Links never go idle: gRPC keepalive pings every second keep follower-to-follower
streams open (pysyncobj's TCP transport drops the first message on a link idle for
3.5 s, which costs an election round), and a stalled peer is noticed within ~3 s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from pysyncobj.node import TCPNode
from pysyncobj.pipe_notifier import PipeNotifier
from pysyncobj.transport import Transport

from loadtest_supervisor.cluster.peer_auth import PeerAuth, authenticated_node_id
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.raft import codec
from loadtest_supervisor.plugins.raft.member_feed import MemberFeed

logger = logging.getLogger(__name__)

HELLO_METHOD = "/loadtest.v1.Peer/Hello"
STREAM_METHOD = "/loadtest.v1.Raft/Stream"
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 1.0
HELLO_TIMEOUT_S = 2.0
# A stalled peer is detected by keepalive within ~3 s; this bounds what piles up meanwhile.
MAX_QUEUED_FRAMES = 10_000

Deliver = Callable[[str, str | None, dict[str, Any]], None]


class RaftLinkServicer(loadtest_pb2_grpc.RaftServicer):
    """Receives peers' Raft streams. Registered on the gRPC server before Raft starts;
    frames that arrive before a transport is attached are dropped (Raft resends)."""

    def __init__(self, member_feed: MemberFeed) -> None:
        self._deliver: Deliver | None = None
        self._member_feed = member_feed
        # Frames handed to the codec: tests prove it stays 0 for unauthenticated callers.
        self.decode_attempts = 0

    def attach(self, deliver: Deliver | None) -> None:
        self._deliver = deliver

    async def Stream(  # noqa: N802 (gRPC method name)
        self,
        request_iterator: AsyncIterator[loadtest_pb2.RaftFrame],
        context: grpc.aio.ServicerContext,
    ) -> loadtest_pb2.StreamAck:
        node_id = authenticated_node_id(context)
        accepted = 0
        async for frame in request_iterator:
            if node_id is not None and frame.sender_node_id != node_id:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, "frame sender differs from the caller"
                )
            self.decode_attempts += 1
            try:
                message = codec.decode(frame.message)
            except codec.CodecError as e:
                log_event(
                    logger,
                    "raft_frame_rejected",
                    logging.WARNING,
                    peer=frame.sender_address,
                    peer_id=node_id,
                    reason=str(e),
                )
                continue
            accepted += 1
            if self._deliver is not None:
                self._deliver(frame.sender_address, node_id, message)
        return loadtest_pb2.StreamAck(frames=accepted)

    async def Follow(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.FollowRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[loadtest_pb2.FollowUpdate]:
        async for update in self._member_feed.follow(request, context):
            yield update


class _Link:
    """The outgoing stream to one peer, owned by the loop."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED_FRAMES)
        self.up = False
        self.task: asyncio.Task[None] | None = None


class GrpcTransport(Transport):
    """Built by SyncObj as ``transportClass(syncObj, selfNode, otherNodes)``; the rest
    comes in through ``functools.partial``."""

    def __init__(
        self,
        syncObj: Any,  # noqa: N803 (pysyncobj's argument names)
        selfNode: TCPNode,  # noqa: N803
        otherNodes: set[TCPNode],  # noqa: N803
        *,
        loop: asyncio.AbstractEventLoop,
        auth: PeerAuth,
        servicer: RaftLinkServicer,
        me: loadtest_pb2.NodeInfo,
        on_node_id: Callable[[str, str], None],
        on_workers: Callable[[str, int], None],
    ) -> None:
        super().__init__(syncObj, selfNode, otherNodes)
        self._loop = loop
        self._auth = auth
        self._servicer = servicer
        self._on_node_id = on_node_id
        self._on_workers = on_workers
        self._me = me  # this node, as its handshake tells peers (its address is selfNode's)
        # Tick-thread side: the Raft members we accept traffic from, and the inbox.
        self._members: dict[str, TCPNode] = {n.id: n for n in otherNodes}
        self._inbox: collections.deque[tuple[str, str, dict[str, Any] | None]] = collections.deque()
        self._notifier = PipeNotifier(syncObj._poller, self._drain_inbox)
        # Loop side: one link per peer address (read by send() on the tick thread).
        self._links: dict[str, _Link] = {}
        self._closed = False
        servicer.attach(self._on_frame)
        for node in otherNodes:
            loop.call_soon_threadsafe(self._open_link, node.id)

    # --- tick thread (called by pysyncobj) ---

    def send(self, node: TCPNode, message: dict[str, Any]) -> bool:
        link = self._links.get(node.id)
        if link is None or not link.up:
            return False
        frame = codec.encode(message)
        self._loop.call_soon_threadsafe(self._enqueue, link, frame)
        return True

    def addNode(self, node: TCPNode) -> None:  # noqa: N802 (pysyncobj's API)
        self._members[node.id] = node
        self._loop.call_soon_threadsafe(self._open_link, node.id)

    def dropNode(self, node: TCPNode) -> None:  # noqa: N802
        self._members.pop(node.id, None)
        self._loop.call_soon_threadsafe(self._close_link, node.id)

    def destroy(self) -> None:
        self._closed = True
        self._servicer.attach(None)
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self._close_all)

    def _drain_inbox(self) -> None:
        # Runs on the tick thread inside pysyncobj's poller, woken by the PipeNotifier.
        while self._inbox:
            kind, address, message = self._inbox.popleft()
            node = self._members.get(address)
            if node is None:
                continue  # not a member (yet, or any more): it must not sway elections
            if kind == "up":
                self._onNodeConnected(node)
            elif kind == "down":
                self._onNodeDisconnected(node)
            else:
                self._onMessageReceived(node, message)

    # --- loop side ---

    def _post(self, kind: str, address: str, message: dict[str, Any] | None = None) -> None:
        self._inbox.append((kind, address, message))
        # The pipe may be full of earlier wake-ups the tick thread has not read yet:
        # one pending byte is as good as many.
        with contextlib.suppress(BlockingIOError):
            self._notifier.notify()

    def _on_frame(self, address: str, node_id: str | None, message: dict[str, Any]) -> None:
        if node_id:
            self._on_node_id(address, node_id)
        self._post("message", address, message)

    def _enqueue(self, link: _Link, frame: bytes) -> None:
        try:
            link.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log_event(logger, "raft_frame_dropped", logging.WARNING, peer=link.address)

    def _open_link(self, address: str) -> None:
        if self._closed or address in self._links:
            return
        link = self._links[address] = _Link(address)
        link.task = self._loop.create_task(self._run_link(link), name=f"raft-link-{address}")

    def _close_link(self, address: str) -> None:
        link = self._links.pop(address, None)
        if link is not None and link.task is not None:
            link.task.cancel()

    def _close_all(self) -> None:
        for address in list(self._links):
            self._close_link(address)

    async def _run_link(self, link: _Link) -> None:
        backoff = RECONNECT_MIN_S
        while True:
            channel = self._auth.channel(link.address)
            try:
                await self._hello(channel, link.address)
                call = loadtest_pb2_grpc.RaftStub(channel).Stream(
                    metadata=self._auth.call_metadata(STREAM_METHOD)
                )
                await call.wait_for_connection()
                backoff = RECONNECT_MIN_S
                self._set_up(link, True)
                await self._pump(link, call)
            except grpc.aio.AioRpcError as e:
                # Expected whenever a peer is down or restarting: the next try says more.
                log_event(
                    logger, "raft_link_failed", logging.DEBUG, peer=link.address, why=e.code().name
                )
            except Exception as e:  # keep the link alive whatever broke this attempt
                log_event(
                    logger,
                    "raft_link_failed",
                    logging.WARNING,
                    peer=link.address,
                    why=type(e).__name__,
                )
            finally:
                self._set_up(link, False)
                await asyncio.shield(channel.close())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)

    async def _hello(self, channel: grpc.aio.Channel, address: str) -> None:
        reply = await loadtest_pb2_grpc.PeerStub(channel).Hello(
            loadtest_pb2.HelloRequest(node=self._me),
            metadata=self._auth.call_metadata(HELLO_METHOD),
            timeout=HELLO_TIMEOUT_S,
        )
        if reply.node.node_id:
            self._on_node_id(address, reply.node.node_id)
        if reply.node.workers:
            self._on_workers(address, reply.node.workers)

    async def _pump(self, link: _Link, call: Any) -> None:
        # The call finishes (or fails) when the peer ends the stream or the connection
        # dies; watch it while waiting for frames so a dead link is noticed at once.
        ended = asyncio.ensure_future(call)
        try:
            while True:
                next_frame = asyncio.ensure_future(link.queue.get())
                done, _ = await asyncio.wait(
                    {next_frame, ended}, return_when=asyncio.FIRST_COMPLETED
                )
                if ended in done:
                    next_frame.cancel()
                    ended.result()  # raises the RPC error, if any
                    return
                frame = loadtest_pb2.RaftFrame(
                    sender_address=self._me.address,
                    sender_node_id=self._me.node_id,
                    message=next_frame.result(),
                )
                await call.write(frame)
        finally:
            ended.cancel()

    def _set_up(self, link: _Link, up: bool) -> None:
        if link.up == up:
            return
        link.up = up
        if not up:
            # Frames queued for a dead stream are stale by the time it comes back.
            while not link.queue.empty():
                link.queue.get_nowait()
        log_event(logger, "raft_link_up" if up else "raft_link_down", peer=link.address)
        self._post("up" if up else "down", link.address)
