"""The leader's last step before it sets a run's ``start_at``: every node's workers are up.

Every node spawns its workers for a plan when the plan is committed, but spawning takes
longer on some nodes than on others (a loaded machine, more workers). A ``start_at`` set
when only the leader's workers are up opens the run with the slow nodes' first requests
late (measured: p99 0.44 s on 5 nodes sharing 2 cores). So the leader asks each reachable
node, all at once, whether its workers are up, and each answers as soon as they are, or
after ``READY_WAIT_S``: a node that is stuck joins the run late rather than holding it.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic

import grpc

from loadtest_supervisor.cluster.health import ClusterView
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.cluster.wire import loadtest_pb2, loadtest_pb2_grpc
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.run")

PREPARED_METHOD = "/loadtest.v1.Coordination/Prepared"
READY_WAIT_S = 10.0


class PeerReadiness:
    def __init__(
        self, view: ClusterView, auth: PeerAuth, own_address: str, wait_s: float = READY_WAIT_S
    ) -> None:
        self._view = view
        self._auth = auth
        self._own_address = own_address
        self._wait_s = wait_s

    async def wait(self, plan_sha256: str) -> None:
        """Until every reachable node's workers for the plan are up, or the wait is over."""
        status = self._view.status
        peers = [address for address in status.reachable if address != self._own_address]
        started = monotonic()
        answers = await asyncio.gather(*(self._ask(peer, plan_sha256) for peer in peers))
        late = [
            status.node_ids.get(peer, peer)
            for peer, ready in zip(peers, answers, strict=True)
            if not ready
        ]
        log_event(
            log,
            "peers_prepared",
            level=logging.WARNING if late else logging.INFO,
            peers=len(peers),
            waited_ms=round((monotonic() - started) * 1000),
            **({"not_ready": ",".join(late)} if late else {}),
        )

    async def _ask(self, address: str, plan_sha256: str) -> bool:
        request = loadtest_pb2.PreparedRequest(
            plan_sha256=plan_sha256, wait_ms=int(self._wait_s * 1000)
        )
        try:
            async with self._auth.channel(address) as channel:
                reply = await loadtest_pb2_grpc.CoordinationStub(channel).Prepared(
                    request,
                    timeout=self._wait_s + 2.0,
                    metadata=self._auth.call_metadata(PREPARED_METHOD),
                )
        except grpc.aio.AioRpcError:
            return False  # gone, or cut off: it joins the run when it can
        return reply.ready
