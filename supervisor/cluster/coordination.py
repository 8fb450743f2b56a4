"""What only the leader does, asked of any node: commit a plan, stop the run.

A node that is not the leader forwards the call to the leader it knows over
``Coordination`` (authenticated like every call between nodes). A leader that changed in
between answers "not the leader", which the caller hears as "retry": a call is
forwarded once, never in a chain.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import grpc

from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.plan_keeper import CommitFailed, PlanKeeper
from loadtest_supervisor.cluster.run_keeper import NoRunInProgress, RunKeeper
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.config.errors import ConfigError

# Validation is quick and a commit takes a few heartbeats; more means the leader is stuck.
CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Answer:
    """What became of a call to the leader."""

    accepted: bool
    leader_id: str | None = None
    error: str | None = None
    retryable: bool = False  # no leader, no quorum, leader changed: try again
    sha256: str = ""  # a submitted plan's
    run_id: str = ""  # a stopped run's


class LeaderCalls:
    def __init__(
        self, plans: PlanKeeper, runs: RunKeeper, view: ClusterView, auth: PeerAuth
    ) -> None:
        self._plans = plans
        self._runs = runs
        self._view = view
        self._auth = auth

    async def submit(self, text: str, source: str) -> Answer:
        """Commit a plan and ask for a run of it (empty ``text``: of the committed plan)."""
        request = loadtest_pb2.SubmitConfigRequest(yaml=text, source=source)
        return await self._on_leader(
            lambda: self.submit_here(text, source), "SubmitConfig", request
        )

    async def stop_run(self, run_id: str = "") -> Answer:
        """Stop the run in progress (``run_id``: only if it is that one)."""
        request = loadtest_pb2.StopRunRequest(run_id=run_id)
        return await self._on_leader(lambda: self.stop_here(run_id), "StopRun", request)

    async def submit_here(self, text: str, source: str) -> Answer:
        async def commit() -> Answer:
            return Answer(True, sha256=await self._plans.submit(text, source))

        return await self._as_leader(commit)

    async def stop_here(self, run_id: str) -> Answer:
        async def stop() -> Answer:
            return Answer(True, run_id=await self._runs.stop_run(run_id))

        return await self._as_leader(stop)

    async def _as_leader(self, call: Callable[[], Awaitable[Answer]]) -> Answer:
        leader_id = self._view.leader_id()
        if node_state(self._view.status) != "leader":
            return Answer(False, leader_id=leader_id, error="not the leader", retryable=True)
        try:
            answer = await call()
        except (ConfigError, NoRunInProgress) as exc:
            return Answer(False, leader_id=leader_id, error=str(exc))
        except CommitFailed as exc:
            return Answer(False, leader_id=leader_id, error=f"not committed: {exc}", retryable=True)
        return replace(answer, leader_id=leader_id)

    async def _on_leader(
        self, here: Callable[[], Awaitable[Answer]], method: str, request: Any
    ) -> Answer:
        status = self._view.status
        state = node_state(status)
        if state == "leader":
            return await here()
        if state == "forming" or status.leader is None:
            return Answer(False, error="no leader with quorum now", retryable=True)
        async with self._auth.channel(status.leader) as channel:
            stub = loadtest_pb2_grpc.CoordinationStub(channel)
            try:
                reply = await getattr(stub, method)(
                    request,
                    timeout=CALL_TIMEOUT_S,
                    metadata=self._auth.call_metadata(f"/loadtest.v1.Coordination/{method}"),
                )
            except grpc.aio.AioRpcError as exc:
                error = f"the leader at {status.leader} did not answer: {exc.code().name}"
                return Answer(False, error=error, retryable=True)
        return Answer(
            reply.accepted,
            leader_id=reply.leader_id or None,
            error=reply.error or None,
            retryable=reply.retryable,
            sha256=getattr(reply, "sha256", ""),
            run_id=getattr(reply, "run_id", ""),
        )


class CoordinationServicer(loadtest_pb2_grpc.CoordinationServicer):
    def __init__(self, calls: LeaderCalls, view: ClusterView) -> None:
        self._calls = calls
        self._view = view

    async def Clock(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.ClockRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.ClockReply:
        return loadtest_pb2.ClockReply(wall_ns=time.time_ns())

    async def SubmitConfig(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.SubmitConfigRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.SubmitConfigReply:
        done = await self._calls.submit_here(request.yaml, request.source)
        return loadtest_pb2.SubmitConfigReply(sha256=done.sha256, **self._reply_fields(done))

    async def StopRun(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.StopRunRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.StopRunReply:
        done = await self._calls.stop_here(request.run_id)
        return loadtest_pb2.StopRunReply(run_id=done.run_id, **self._reply_fields(done))

    def _reply_fields(self, done: Answer) -> dict[str, Any]:
        return {
            "accepted": done.accepted,
            "term": self._view.status.term,
            "leader_id": done.leader_id or "",
            "error": done.error or "",
            "retryable": done.retryable,
        }
