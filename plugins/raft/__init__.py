"""The built-in consensus plugin ``raft``: pysyncobj over the node's gRPC server.

Registered through the project's own entry point, like any third-party plugin:

    [project.entry-points."loadtest_supervisor.consensus"]
    raft = "loadtest_supervisor.plugins.raft:RaftPlugin"
"""

from __future__ import annotations

import socket
from typing import Any

# pysyncobj 0.3.17 (win_inet_pton.py) replaces socket.inet_ntop with a Windows-only
# stand-in on every platform, breaking it for the whole process (psutil, ssl, ...).
# Import it once here, before anything else of ours does, and put the real one back.
_inet_ntop = socket.inet_ntop
import pysyncobj  # noqa: E402,F401

socket.inet_ntop = _inet_ntop

from loadtest_supervisor.cluster.contracts import NodeContext  # noqa: E402
from loadtest_supervisor.cluster.wire import loadtest_pb2_grpc  # noqa: E402
from loadtest_supervisor.hookspecs import hookimpl  # noqa: E402
from loadtest_supervisor.plugins.raft.consensus import RaftConsensus  # noqa: E402


class RaftPlugin:
    """One per node (the core registers an instance): the node's one RaftConsensus.

    The node runtime may ask for the servicer before or after the consensus; both
    belong to the same RaftConsensus.
    """

    def __init__(self) -> None:
        self._consensus: RaftConsensus | None = None

    def _consensus_for(self, context: NodeContext) -> RaftConsensus:
        if self._consensus is None:
            self._consensus = RaftConsensus(context)
        return self._consensus

    @hookimpl
    def loadtest_make_consensus(self, context: NodeContext) -> RaftConsensus:
        """Raft elects the coordinator."""
        return self._consensus_for(context)

    @hookimpl
    def loadtest_register_grpc_services(self, server: Any, context: NodeContext) -> None:
        """Raft traffic shares the node's one gRPC port."""
        loadtest_pb2_grpc.add_RaftServicer_to_server(self._consensus_for(context).servicer, server)
