"""Every node's side of cluster results: send its cumulative reports to the leader.

Every ``CLUSTER_METRICS_INTERVAL`` the node takes the reports of its runs (the one going
on, and one that ended until its final document is committed) and sends them to the
leader over one ``Coordination.PushMetrics`` stream; the leader node hands them to its
own ``ResultsKeeper``. The stream follows the leader: when the leader changes, or ends
the stream refusing (not the leader, a stale term), the next interval opens a stream to
the leader the node knows then, and the first reports on it are the latest ones, so a
new leader hears everything it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import grpc

from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.node_snapshot import NodeReport, to_wire
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.results_keeper import ResultsKeeper
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.metrics")

PUSH_METHOD = "/loadtest.v1.Coordination/PushMetrics"


class _Stream:
    """One PushMetrics call to one leader, fed from a queue."""

    def __init__(self, leader: str, auth: PeerAuth, view: ClusterView) -> None:
        self.leader = leader
        self._view = view
        self._queue: asyncio.Queue[loadtest_pb2.NodeSnapshot | None] = asyncio.Queue()
        self._sent: dict[str, NodeReport] = {}  # the last report of each part on this stream
        # Timeline seconds before this t went on this stream already, by part: the leader
        # keeps each until its point is made, so only a new stream (a new leader) needs
        # them again.
        self._seconds_until: dict[str, int] = {}
        self._channel = auth.channel(leader)
        stub = loadtest_pb2_grpc.CoordinationStub(self._channel)
        self._call = stub.PushMetrics(self._items(), metadata=auth.call_metadata(PUSH_METHOD))
        self.done = asyncio.ensure_future(self._wait())

    def send(self, report: NodeReport) -> None:
        sent_until = self._seconds_until.get(report.key, 0)
        new = tuple(second for second in report.seconds if second.t >= sent_until)
        if new:
            self._seconds_until[report.key] = new[-1].t + 1
        snapshot = to_wire(replace(report, seconds=new), since=self._sent.get(report.key))
        self._sent[report.key] = report
        self._view.metrics_sent_bytes += snapshot.ByteSize()
        self._queue.put_nowait(snapshot)

    async def _items(self) -> AsyncIterator[loadtest_pb2.NodeSnapshot]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def _wait(self) -> str:
        """Why the stream ended."""
        try:
            ack = await self._call
        except grpc.aio.AioRpcError as exc:
            return f"the leader at {self.leader} did not answer: {exc.code().name}"
        finally:
            await self._channel.close()
        return ack.reason or "closed"

    async def close(self) -> None:
        self._queue.put_nowait(None)
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.done


class MetricsPusher:
    def __init__(
        self,
        view: ClusterView,
        auth: PeerAuth,
        own_address: str,
        reports: Callable[[int], list[NodeReport]],
        keeper: ResultsKeeper,
        interval: float,
    ) -> None:
        self._view = view
        self._auth = auth
        self._own_address = own_address
        self._reports = reports  # this node's reports to send now, stamped with a term
        self._keeper = keeper
        self._interval = interval
        self._stream: _Stream | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._keep())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _keep(self) -> None:
        while True:
            # The leader hands its own report over (and commits it) twice an interval:
            # no other node holds it, and its workers' snapshots are up to 0.25 s old,
            # so its death loses under one interval of it (bench.cluster_metrics,
            # "Failover reconciliation"); each commit is replicated to every follower.
            leading = self._view.status.leader == self._own_address
            await asyncio.sleep(self._interval / 2 if leading else self._interval)
            try:
                await self.push()
            except Exception as exc:  # the next interval tries again
                log_event(log, "metrics_push_failed", level=logging.WARNING, error=repr(exc))

    async def push(self) -> None:
        status = self._view.status
        reports = self._reports(status.term)
        if not reports:
            await self._close()
            return
        if node_state(status) == "forming" or status.leader is None:
            return  # no leader now: the next one gets the latest reports
        if status.leader == self._own_address:
            await self._close()
            for report in reports:
                self._keeper.offer(report)
            return
        stream = self._stream
        if stream is not None and (stream.leader != status.leader or stream.done.done()):
            if stream.done.done():
                log_event(log, "metrics_redirected", leader=status.leader, why=stream.done.result())
            await self._close()
        if self._stream is None:
            self._stream = _Stream(status.leader, self._auth, self._view)
        for report in reports:
            self._stream.send(report)

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()
