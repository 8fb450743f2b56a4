"""Getting a plan to the leader from any node: locally on the leader, over gRPC elsewhere.

A node that is not the leader forwards a submitted plan to the leader it knows with
``Coordination.SubmitConfig`` (authenticated like every call between nodes); the leader
validates and commits it. A leader that changed in between answers "not the leader",
which the caller hears as "retry": a submission is forwarded once, never in a chain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc

from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.plan_keeper import CommitFailed, PlanKeeper
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.config.errors import ConfigError

SUBMIT_METHOD = "/loadtest.v1.Coordination/SubmitConfig"
# Validation is quick and a commit takes a few heartbeats; more means the leader is stuck.
SUBMIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Submitted:
    """What became of a submitted plan."""

    accepted: bool
    sha256: str = ""
    leader_id: str | None = None
    error: str | None = None
    retryable: bool = False  # no leader, no quorum, leader changed: try again


class PlanSubmission:
    def __init__(self, keeper: PlanKeeper, view: ClusterView, auth: PeerAuth) -> None:
        self._keeper = keeper
        self._view = view
        self._auth = auth

    async def submit(self, text: str, source: str) -> Submitted:
        """From the HTTP API of any node."""
        status = self._view.status
        state = node_state(status)
        if state == "leader":
            return await self.on_leader(text, source)
        if state == "forming" or status.leader is None:
            return Submitted(False, error="no leader with quorum now", retryable=True)
        return await self._forward(status.leader, text, source)

    async def on_leader(self, text: str, source: str) -> Submitted:
        leader_id = self._view.leader_id()
        if node_state(self._view.status) != "leader":
            return Submitted(False, leader_id=leader_id, error="not the leader", retryable=True)
        try:
            sha = await self._keeper.submit(text, source)
        except ConfigError as exc:
            return Submitted(False, leader_id=leader_id, error=str(exc))
        except CommitFailed as exc:
            return Submitted(
                False, leader_id=leader_id, error=f"not committed: {exc}", retryable=True
            )
        return Submitted(True, sha256=sha, leader_id=leader_id)

    async def _forward(self, leader: str, text: str, source: str) -> Submitted:
        request = loadtest_pb2.SubmitConfigRequest(yaml=text, source=source)
        async with self._auth.channel(leader) as channel:
            stub = loadtest_pb2_grpc.CoordinationStub(channel)
            try:
                reply = await stub.SubmitConfig(
                    request,
                    timeout=SUBMIT_TIMEOUT_S,
                    metadata=self._auth.call_metadata(SUBMIT_METHOD),
                )
            except grpc.aio.AioRpcError as exc:
                error = f"the leader at {leader} did not answer: {exc.code().name}"
                return Submitted(False, error=error, retryable=True)
        return Submitted(
            reply.accepted,
            sha256=reply.sha256,
            leader_id=reply.leader_id or None,
            error=reply.error or None,
            retryable=reply.retryable,
        )


class CoordinationServicer(loadtest_pb2_grpc.CoordinationServicer):
    def __init__(self, submission: PlanSubmission, view: ClusterView) -> None:
        self._submission = submission
        self._view = view

    async def Clock(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.ClockRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.ClockReply:
        return loadtest_pb2.ClockReply(wall_ns=time.time_ns())

    async def SubmitConfig(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.SubmitConfigRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.SubmitConfigReply:
        done = await self._submission.on_leader(request.yaml, request.source)
        return loadtest_pb2.SubmitConfigReply(
            accepted=done.accepted,
            sha256=done.sha256,
            term=self._view.status.term,
            leader_id=done.leader_id or "",
            error=done.error or "",
            retryable=done.retryable,
        )
