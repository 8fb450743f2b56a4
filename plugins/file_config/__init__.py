"""The ``file`` config source: the plan in the leader's own ``--config`` file.

It is the default source when a node is started with ``--config``. The file is read
in a thread and watched by polling its content, which is small: a plan is a few KB.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from loadtest_supervisor.cluster.contracts import (
    ConfigSource,
    ConfigSourceError,
    FetchedPlan,
    NodeContext,
)
from loadtest_supervisor.hookspecs import hookimpl

# A person editing the file expects the change to be picked up "at once".
POLL_S = 1.0


class FileSource(ConfigSource):
    """A plan in a local file; ``version`` is the SHA-256 of its text."""

    def __init__(self, path: str | Path | None, label: str = "file", poll_s: float = POLL_S):
        self._path = Path(path) if path is not None else None
        self._label = label
        self._poll_s = poll_s

    async def fetch(self) -> FetchedPlan:
        path = self._plan_path()
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ConfigSourceError(f"{self._label} {path}: cannot read: {reason}") from None
        version = hashlib.sha256(text.encode()).hexdigest()
        return FetchedPlan(text=text, version=version, source=f"{self._label} {path}")

    async def watch(self, version: str) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            if (await self.fetch()).version != version:
                return

    async def stop(self) -> None:
        pass

    def sibling(self, name: str) -> FileSource:
        return FileSource(self._plan_path().parent / name, self._label, self._poll_s)

    def _plan_path(self) -> Path:
        if self._path is None:
            raise ConfigSourceError(
                f"{self._label}: this node was started without --config, so it has no plan "
                "file; give it one, or set CLUSTER_CONFIG_SOURCE to another source"
            )
        return self._path


class FileConfigPlugin:
    @hookimpl
    def loadtest_make_config_source(self, context: NodeContext) -> FileSource:
        return FileSource(context.config_path)
