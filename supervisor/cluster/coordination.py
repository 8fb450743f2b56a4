"""What only the leader does, asked of any node: commit a plan, stop the run, merge the
cluster's results, see every node.

A node that is not the leader forwards the call to the leader it knows over
``Coordination`` (authenticated like every call between nodes). A leader that changed in
between answers "not the leader", which the caller hears as "retry": a call is
forwarded once, never in a chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import grpc

from loadtest_supervisor.cluster.health import ClusterView, node_state
from loadtest_supervisor.cluster.node_snapshot import NodeReport, from_wire
from loadtest_supervisor.cluster.peer_auth import PeerAuth, authenticated_node_id
from loadtest_supervisor.cluster.plan_keeper import CommitFailed, PlanKeeper
from loadtest_supervisor.cluster.results_keeper import ResultsKeeper
from loadtest_supervisor.cluster.run_keeper import NoRunInProgress, RunKeeper
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.config.errors import ConfigError

# Validation is quick and a commit takes a few heartbeats; more means the leader is stuck.
CALL_TIMEOUT_S = 10.0
# A follower's GET /results waits this long for the leader, then answers from the log.
RESULTS_TIMEOUT_S = 2.0
RESULTS_METHOD = "/loadtest.v1.Coordination/Results"
# The dashboard asks every second: a leader slower than this is shown as not answering.
OVERVIEW_TIMEOUT_S = 1.0
OVERVIEW_METHOD = "/loadtest.v1.Coordination/Overview"
# A caller cannot hold a call (and this node's poll of its workers) open for longer.
MAX_PREPARED_WAIT_MS = 30_000


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
        self,
        plans: PlanKeeper,
        runs: RunKeeper,
        results: ResultsKeeper,
        view: ClusterView,
        auth: PeerAuth,
    ) -> None:
        self._plans = plans
        self._runs = runs
        self.results = results
        self._view = view
        self._auth = auth

    async def cluster_results(self, run_id: str = "") -> dict[str, Any] | None:
        """The cluster results of the latest run (or of ``run_id``, while the leader still
        knows it): the leader's live document, fetched from it on another node; the
        committed one when the leader cannot say. ``served_from`` says which."""
        status = self._view.status
        if node_state(status) == "leader":
            return _served(self.leader_document(run_id), "leader", self._view.leader_id())
        if node_state(status) == "follower" and status.leader is not None:
            async with self._auth.channel(status.leader) as channel:
                stub = loadtest_pb2_grpc.CoordinationStub(channel)
                try:
                    reply = await stub.Results(
                        loadtest_pb2.ResultsRequest(run_id=run_id),
                        timeout=RESULTS_TIMEOUT_S,
                        metadata=self._auth.call_metadata(RESULTS_METHOD),
                    )
                except grpc.aio.AioRpcError:
                    reply = None
            if reply is not None and reply.available:
                return _served(json.loads(reply.json), "leader", reply.leader_id)
        return _served(self.results.committed_document(run_id), "checkpoint", None)

    async def overview(self) -> dict[str, Any]:
        """The cluster overview (``overview.py``): the leader's, fetched from it on another
        node; this node's own when the leader cannot say. ``served_from`` says which."""
        status = self._view.status
        if node_state(status) == "follower" and status.leader is not None:
            async with self._auth.channel(status.leader) as channel:
                stub = loadtest_pb2_grpc.CoordinationStub(channel)
                try:
                    reply = await stub.Overview(
                        loadtest_pb2.OverviewRequest(),
                        timeout=OVERVIEW_TIMEOUT_S,
                        metadata=self._auth.call_metadata(OVERVIEW_METHOD),
                    )
                except grpc.aio.AioRpcError:
                    reply = None
            if reply is not None and reply.available:
                return {**json.loads(reply.json), "served_from": "leader"}
        leading = node_state(self._view.status) == "leader"
        return {**self._view.own_overview(), "served_from": "leader" if leading else "self"}

    def leader_document(self, run_id: str = "") -> dict[str, Any] | None:
        """On the leader: what it merged last, unless that is of another run."""
        live = self._view.cluster_results
        wanted = run_id or (self._view.committed.get("run") or {}).get("run_id")
        if live is not None and live["run"]["run_id"] == wanted:
            return live
        return self.results.committed_document(run_id)

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


def _served(
    document: dict[str, Any] | None, source: str, leader_id: str | None
) -> dict[str, Any] | None:
    if document is None:
        return None
    return {**document, "served_from": source, "leader_id": leader_id}


class CoordinationServicer(loadtest_pb2_grpc.CoordinationServicer):
    def __init__(
        self,
        calls: LeaderCalls,
        view: ClusterView,
        prepared_within: Callable[[str, float], Awaitable[bool]],
    ) -> None:
        self._calls = calls
        self._view = view
        self._prepared_within = prepared_within

    async def Prepared(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.PreparedRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.PreparedReply:
        wait_s = min(request.wait_ms, MAX_PREPARED_WAIT_MS) / 1000
        ready = await self._prepared_within(request.plan_sha256, wait_s)
        return loadtest_pb2.PreparedReply(ready=ready)

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

    async def PushMetrics(  # noqa: N802 (gRPC method name)
        self,
        request_iterator: AsyncIterator[loadtest_pb2.NodeSnapshot],
        context: grpc.aio.ServicerContext,
    ) -> loadtest_pb2.Ack:
        caller = authenticated_node_id(context)
        held: dict[str, NodeReport] = {}  # the last report of each part on this stream
        term = self._view.status.term
        async for snapshot in request_iterator:
            if caller is not None and snapshot.node_id != caller:
                return self._ack(False, f"a report of {snapshot.node_id} from {caller}")
            if self._view.status.term != term:
                # What the stream sent once (its timeline seconds) went to the keeper of
                # that term; a new stream sends it all again.
                return self._ack(False, f"the term changed from {term}: start a new stream")
            # Before the histograms are added to the held report's: from here it is taken.
            refused = self._calls.results.refusal(snapshot.term)
            if refused is not None:
                return self._ack(False, refused)
            try:
                report = from_wire(snapshot, held.get(f"{snapshot.node_id}/{snapshot.part_id}"))
            except ValueError as exc:
                return self._ack(False, str(exc))
            held[report.key] = report
            self._calls.results.offer(report)
        return self._ack(True, "")

    async def Results(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.ResultsRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.ResultsReply:
        document = None
        if node_state(self._view.status) == "leader":
            document = self._calls.leader_document(request.run_id)
        return loadtest_pb2.ResultsReply(
            available=document is not None,
            json=json.dumps(document) if document is not None else "",
            leader_id=self._view.leader_id() or "",
        )

    async def Overview(  # noqa: N802 (gRPC method name)
        self, request: loadtest_pb2.OverviewRequest, context: grpc.aio.ServicerContext
    ) -> loadtest_pb2.OverviewReply:
        if node_state(self._view.status) != "leader":
            return loadtest_pb2.OverviewReply(available=False)
        return loadtest_pb2.OverviewReply(
            available=True, json=json.dumps(self._view.own_overview())
        )

    def _ack(self, accepted: bool, reason: str) -> loadtest_pb2.Ack:
        status = self._view.status
        leader_id = self._view.leader_id() if node_state(status) != "forming" else None
        return loadtest_pb2.Ack(
            accepted=accepted, term=status.term, leader_id=leader_id or "", reason=reason
        )

    def _reply_fields(self, done: Answer) -> dict[str, Any]:
        return {
            "accepted": done.accepted,
            "term": self._view.status.term,
            "leader_id": done.leader_id or "",
            "error": done.error or "",
            "retryable": done.retryable,
        }
