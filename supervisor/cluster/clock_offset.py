"""How far this node's wall clock is from the leader's, measured by round trips.

Run records carry the leader's wall-clock instants; a follower converts them with the
measured offset, so a node whose clock is off still starts with the others. The offset
is the leader's time minus the midpoint of the call, taken from the quickest of a few
round trips (the least queueing); it is measured again every few seconds and whenever
the leader changes. Beyond ``CLUSTER_MAX_CLOCK_SKEW`` the node says so in its health
and logs, and still runs, aligned.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.clock")

CLOCK_METHOD = "/loadtest.v1.Coordination/Clock"
SAMPLES = 5
EVERY_S = 5.0
CALL_TIMEOUT_S = 2.0


class ClockOffset:
    def __init__(self, view: ClusterView, auth: PeerAuth, max_skew: float) -> None:
        self._view = view
        self._auth = auth
        self._max_skew = max_skew
        self.offset = 0.0  # the leader's clock minus ours, in seconds
        self._measured_leader: str | None = None
        self._said_skewed = False
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def leader_time(self) -> float:
        """Now, on the leader's wall clock."""
        return time.time() + self.offset

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_measuring())

    def leader_changed(self) -> None:
        self._changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _keep_measuring(self) -> None:
        while True:
            self._changed.clear()
            status = self._view.status
            if node_state(status) == "leader":
                self._set(0.0, None, "leader")
            elif node_state(status) == "follower" and status.leader is not None:
                await self._measure(status.leader)
            try:
                await asyncio.wait_for(self._changed.wait(), EVERY_S)
            except TimeoutError:
                pass

    async def _measure(self, leader: str) -> None:
        best: tuple[float, float] | None = None  # (round trip, offset)
        async with self._auth.channel(leader) as channel:
            stub = loadtest_pb2_grpc.CoordinationStub(channel)
            for _ in range(SAMPLES):
                sent = time.time()
                try:
                    reply = await stub.Clock(
                        loadtest_pb2.ClockRequest(),
                        timeout=CALL_TIMEOUT_S,
                        metadata=self._auth.call_metadata(CLOCK_METHOD),
                    )
                except grpc.aio.AioRpcError:
                    return  # the leader is changing; measured again when it is known
                received = time.time()
                sample = (received - sent, reply.wall_ns / 1e9 - (sent + received) / 2)
                best = sample if best is None or sample[0] < best[0] else best
        if best is not None:
            self._set(best[1], best[0], leader)

    def _set(self, offset: float, round_trip: float | None, leader: str | None) -> None:
        self.offset = offset
        skewed = abs(offset) > self._max_skew
        self._view.clock = {
            "offset_ms": round(offset * 1000, 1),
            **({"round_trip_ms": round(round_trip * 1000, 2)} if round_trip is not None else {}),
        }
        self._view.clock_problem = (
            f"clock {offset * 1000:+.0f} ms from the leader's, beyond CLUSTER_MAX_CLOCK_SKEW "
            f"({self._max_skew * 1000:.0f} ms); runs are aligned by the measured offset"
            if skewed
            else None
        )
        if skewed != self._said_skewed or leader != self._measured_leader:
            log_event(
                log,
                "clock_skewed" if skewed else "clock_measured",
                level=logging.WARNING if skewed else logging.INFO,
                offset_ms=round(offset * 1000, 1),
                leader=leader,
            )
        self._said_skewed, self._measured_leader = skewed, leader
