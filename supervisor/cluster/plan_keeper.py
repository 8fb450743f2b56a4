"""The leader's plan: read from the config source, validated, committed through consensus.

Only the leader reads the source; a node that becomes leader starts reading it at once
and one that loses leadership stops. A plan is committed only when it validates with the
standalone validator, and only when its SHA-256 differs from the committed one, so a new
leader that finds the same plan committed commits nothing. What keeps a plan from being
committed (it does not validate, the source cannot be read) is committed instead as
``config_error``, so every node's /health/cluster shows it; the last good plan stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

from loadtest_supervisor.cluster.contracts import ConfigSource, ConfigSourceError, Consensus
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.plan")

# A source that cannot be read is tried again after this, doubling to the maximum.
RETRY_S = (0.5, 10.0)


def plan_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PlanKeeper:
    """Commits plans on the leader: from the config source, if the node has one, and
    those submitted through the API (``submit``)."""

    def __init__(self, source: ConfigSource | None, consensus: Consensus) -> None:
        self._source = source
        self._consensus = consensus
        self._task: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None  # the last reader, stopping its source

    def lead(self, is_leader: bool) -> None:
        """Start reading the source on becoming leader; stop on losing leadership."""
        if is_leader and self._task is None and self._source is not None:
            self._task = asyncio.create_task(self._keep(self._source, self._ending))
        elif not is_leader and self._task is not None:
            self._task.cancel()
            self._ending, self._task = self._task, None

    async def stop(self) -> None:
        self.lead(False)
        if self._ending is not None:
            await asyncio.wait([self._ending])
        if self._source is not None:
            await self._source.stop()

    async def _keep(self, source: ConfigSource, previous: asyncio.Task[None] | None) -> None:
        """Read the source while this node leads; stop it (consul-template's process,
        a client) once it does not, since only the leader reads the source."""
        if previous is not None:
            await asyncio.wait([previous])  # a quick re-election: its stop goes first
        try:
            await self._read(source)
        finally:
            await source.stop()

    async def submit(self, text: str, source: str) -> str:
        """Validate and commit a plan given to this leader, and ask for a run of it; its
        SHA-256. Empty ``text`` asks for a run of the plan committed already.

        Raises ConfigError (it does not validate, or there is no plan: nothing is
        committed) or CommitFailed (no quorum, or no longer the leader).
        """
        current = self._consensus.committed().get("config") or {}
        command: dict[str, Any] = {}
        if not text.strip():
            if not current:
                raise ConfigError("no plan is committed yet: send one in the request body")
            sha = current["sha256"]
        else:
            load_plan_text(text, source)
            sha = plan_sha256(text)
            if current.get("sha256") != sha:
                config = {"yaml": text, "sha256": sha, "source": source, "version": sha[:12]}
                command = {"config": {**config, "committed_at": time.time()}}
                command["config_error"] = None
        command["run_request"] = {"id": uuid.uuid4().hex[:12], "plan_sha256": sha}
        await self._propose(command)
        new_plan = "config" in command
        log_event(log, "run_requested", sha256=sha[:12], source=source, new_plan=new_plan)
        return sha

    async def _read(self, source: ConfigSource) -> None:
        version: str | None = None  # of the last plan read, valid or not
        retry = RETRY_S[0]
        while True:
            try:
                version = await self._read_and_offer(source, version)
                retry = RETRY_S[0]
                continue
            except ConfigSourceError as exc:
                unreadable = str(exc)
            except CommitFailed:
                unreadable = None
            if unreadable is not None:
                with contextlib.suppress(CommitFailed):
                    await self._refuse(unreadable, None)
            await asyncio.sleep(retry)
            retry = min(retry * 2, RETRY_S[1])
            version = None  # read again first: that is what clears an error

    async def _read_and_offer(self, source: ConfigSource, version: str | None) -> str:
        """Wait for a plan newer than ``version``, offer it; its version."""
        if version is not None:
            await source.watch(version)
        fetched = await source.fetch()
        await self._offer(fetched.text, fetched.source, fetched.version)
        return fetched.version

    async def _offer(self, text: str, source: str, version: str) -> None:
        sha = plan_sha256(text)
        try:
            load_plan_text(text, source)
        except ConfigError as exc:
            await self._refuse(str(exc), sha)
            return
        committed = self._consensus.committed()
        current = committed.get("config") or {}
        if current.get("sha256") == sha and committed.get("config_error") is None:
            log_event(log, "plan_unchanged", sha256=sha[:12], source=source, version=version)
            return
        config = {
            "yaml": text,
            "sha256": sha,
            "source": source,
            "version": version,
            "committed_at": time.time(),
        }
        if current.get("sha256") == sha:
            config = current  # the same plan: only the error is cleared
        await self._propose({"config": config, "config_error": None})
        log_event(log, "plan_committed", sha256=sha[:12], source=source, version=version)

    async def _refuse(self, message: str, sha: str | None) -> None:
        error = {"message": message, "sha256": sha}
        previous = self._consensus.committed().get("config_error") or {}
        log_event(log, "plan_refused", level=logging.WARNING, error=message.replace("\n", "; "))
        if {k: previous.get(k) for k in error} != error:
            await self._propose({"config_error": {**error, "at": time.time()}})

    async def _propose(self, command: dict[str, Any]) -> None:
        try:
            await self._consensus.propose(command)
        except Exception as exc:  # no quorum now, or not leader any more
            log_event(log, "plan_commit_failed", level=logging.WARNING, error=repr(exc))
            raise CommitFailed(str(exc)) from exc


class CommitFailed(Exception):
    """Consensus did not commit (no quorum, not the leader); the keeper tries again while
    it leads, an API caller is told."""
