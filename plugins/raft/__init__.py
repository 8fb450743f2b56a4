"""The built-in consensus plugin ``raft``: pysyncobj over the node's gRPC server.

Registered through the project's own entry point, like any third-party plugin:

    [project.entry-points."loadtest_supervisor.consensus"]
    raft = "loadtest_supervisor.plugins.raft"
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

# The node runtime may ask for the servicer before or after the consensus; both
# belong to the one RaftConsensus of that node (keyed by its context object).
_by_context: dict[int, tuple[NodeContext, RaftConsensus]] = {}


def _consensus_for(context: NodeContext) -> RaftConsensus:
    entry = _by_context.get(id(context))
    if entry is None or entry[0] is not context:
        entry = _by_context[id(context)] = (context, RaftConsensus(context))
    return entry[1]


@hookimpl
def loadtest_make_consensus(context: NodeContext) -> RaftConsensus:
    """Raft elects the coordinator."""
    return _consensus_for(context)


@hookimpl
def loadtest_register_grpc_services(server: Any, context: NodeContext) -> None:
    """Raft traffic shares the node's one gRPC port."""
    loadtest_pb2_grpc.add_RaftServicer_to_server(_consensus_for(context).servicer, server)


@hookimpl
def loadtest_node_stopping(context: NodeContext) -> None:
    """Forget this node's consensus (the node runtime stops it)."""
    _by_context.pop(id(context), None)
