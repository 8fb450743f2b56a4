"""A test node: the gRPC server and RaftConsensus, nothing else.

    .venv/bin/python -m tests.cluster.raft_node --bind 127.0.0.21:7000 \
        --peers 127.0.0.21:7000,127.0.0.22:7000 --node-id n1 --data-dir DIR --secret S

Prints one JSON line per status change on stdout; reads JSON commands on stdin:
``{"cmd": "propose", "command": {...}}`` and ``{"cmd": "committed"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from loadtest_supervisor.cluster.contracts import NodeStatus, Peer
from loadtest_supervisor.cluster.grpc_server import start_grpc_server
from loadtest_supervisor.cluster.identity import node_context
from loadtest_supervisor.cluster.peer_auth import PeerAuth
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.logs import configure_logging
from loadtest_supervisor.plugins import raft


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


def on_status(status: NodeStatus) -> None:
    emit(
        "status",
        state=status.state,
        term=status.term,
        leader=status.leader,
        leader_id=status.leader_id,
        members=list(status.members),
        has_quorum=status.has_quorum,
        node_ids=status.node_ids,
    )


async def serve_commands(consensus: Any) -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        request = json.loads(line)
        if request["cmd"] == "propose":
            try:
                await consensus.propose(request["command"])
                emit("proposed", ok=True)
            except Exception as e:
                emit("proposed", ok=False, error=f"{type(e).__name__}: {e}")
        elif request["cmd"] == "committed":
            emit("committed", state=consensus.committed())


async def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--bind", "--peers", "--node-id", "--data-dir", "--secret"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    configure_logging("INFO")
    settings = NodeSettings(
        enabled=True,
        bind_addr=args.bind,
        node_id=args.node_id,
        nodes=args.peers.split(","),
        secret=args.secret,
        data_dir=args.data_dir,
    )
    context = node_context(settings, hook=None, version="test")
    auth = PeerAuth.from_settings(settings, args.node_id)
    plugin = raft.RaftPlugin()
    consensus = plugin.loadtest_make_consensus(context)
    server = await start_grpc_server(
        args.bind,
        auth,
        lambda s: plugin.loadtest_register_grpc_services(s, context),
        max_message_bytes=settings.grpc_max_message_bytes,
        max_streams=settings.grpc_max_streams,
        node_id=args.node_id,
        advertise_addr=args.bind,
        version="test",
    )
    await consensus.start([Peer(a) for a in settings.nodes], on_status)
    emit("started", port=server.port)
    await serve_commands(consensus)
    await consensus.stop()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
