"""Discovery from a file: ``DISCOVERY_MODE=file FILE_DISCOVERY_PATH=/etc/loadtest/peers``.

The file holds one peer ``host:port`` per line (blank lines and ``#`` comments are
ignored) and is re-read on every call, so editing it adds or removes peers. This
node's own address may be listed; consensus recognises it.

A complete third-party plugin: one hook implementation, exposed through the
``loadtest_supervisor.discovery`` entry point in this package's pyproject.toml.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from loadtest_supervisor.cluster.contracts import Discovery, NodeContext, Peer
from loadtest_supervisor.hookspecs import hookimpl

PATH_VAR = "FILE_DISCOVERY_PATH"


@hookimpl
def loadtest_make_discovery(context: NodeContext) -> FileDiscovery:
    path = os.environ.get(PATH_VAR)
    if not path:
        raise ValueError(f"DISCOVERY_MODE=file needs {PATH_VAR}: a file of host:port lines")
    return FileDiscovery(Path(path))


class FileDiscovery(Discovery):
    def __init__(self, path: Path) -> None:
        self.path = path

    async def start(self) -> None:
        pass

    async def peers(self) -> list[Peer]:
        # A thread, because the loop must never wait on the disk.
        text = await asyncio.to_thread(self.path.read_text)
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [Peer(address) for address in dict.fromkeys(line for line in lines if line)]

    async def stop(self) -> None:
        pass
