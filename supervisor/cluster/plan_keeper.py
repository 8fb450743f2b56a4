"""The leader's plan: read from the config source, validated, committed through consensus.

Only the leader reads the source; a node that becomes leader starts reading it at once
and one that loses leadership stops. A plan is committed only when it validates with the
standalone validator, and only when its SHA-256 differs from the committed one, so a new
leader that finds the same plan committed commits nothing. What keeps a plan from being
committed (it does not validate, the source cannot be read) is committed instead as
``config_error``, so every node's /health/cluster shows it; the last good plan stays.

A plan that names a data file (``data: {file}``) is read with it: the leader reads the
file beside the plan in the same source (``ConfigSource.sibling``), validates the plan
with it, and commits its text with the plan, so every node runs on the rows the leader
read. The committed SHA-256 covers both, and the leader watches both: new data is a new
plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

from loadtest_supervisor.cluster.contracts import (
    ConfigSource,
    ConfigSourceError,
    Consensus,
    FetchedPlan,
)
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_plan_text, plan_data_file
from loadtest_supervisor.logs import log_event

log = logging.getLogger("loadtest.plan")

# A source that cannot be read is tried again after this, doubling to the maximum.
RETRY_S = (0.5, 10.0)


def plan_sha256(text: str, data: str | None = None) -> str:
    """A committed plan's identity: its text and, when it names a data file, the data's."""
    digest = hashlib.sha256(text.encode("utf-8"))
    if data is not None:
        digest.update(b"\0data\0" + data.encode("utf-8"))
    return digest.hexdigest()


def _config(text: str, source: str, version: str, data: FetchedPlan | None) -> dict[str, Any]:
    """The committed ``config``: the plan, and the text of its data file if it names one."""
    config: dict[str, Any] = {
        "yaml": text,
        "sha256": plan_sha256(text, data.text if data else None),
        "source": source,
        "version": version,
        "committed_at": time.time(),
    }
    if data is not None:
        config["data"] = {"text": data.text, "source": data.source, "version": data.version}
    return config


# What the keeper watches for a change: the plan's source and version, and its data's.
Watched = list[tuple[ConfigSource, str]]


class PlanKeeper:
    """Commits plans on the leader: from the config source, if the node has one, and
    those submitted through the API (``submit``)."""

    def __init__(
        self, source: ConfigSource | None, consensus: Consensus, max_plan_bytes: int
    ) -> None:
        self._source = source
        self._consensus = consensus
        self._max_plan_bytes = max_plan_bytes
        self._task: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None  # the last reader, stopping its source
        self._siblings: dict[str, ConfigSource] = {}  # data files beside the plan, by name

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
        await self._stop_sources()

    async def _stop_sources(self) -> None:
        siblings, self._siblings = list(self._siblings.values()), {}
        for source in (self._source, *siblings):
            if source is not None:
                await source.stop()

    async def _keep(self, source: ConfigSource, previous: asyncio.Task[None] | None) -> None:
        """Read the source while this node leads; stop it (consul-template's process,
        a client) once it does not, since only the leader reads the source."""
        if previous is not None:
            await asyncio.wait([previous])  # a quick re-election: its stop goes first
        try:
            await self._read(source)
        finally:
            await self._stop_sources()

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
            self._check_size(text, source)
            data = await self._submitted_data(text, source)
            load_plan_text(text, source, data=data.text if data else None)
            config = _config(text, source, plan_sha256(text)[:12], data)
            sha = config["sha256"]
            if current.get("sha256") != sha:
                command = {"config": config, "config_error": None}
        command["run_request"] = {"id": uuid.uuid4().hex[:12], "plan_sha256": sha}
        await self._propose(command)
        new_plan = "config" in command
        log_event(log, "run_requested", sha256=sha[:12], source=source, new_plan=new_plan)
        return sha

    def _check_size(self, text: str, source: str) -> None:
        """Refuse a plan over the bound before parsing it: YAML of any size parses."""
        size = len(text.encode("utf-8"))
        if size > self._max_plan_bytes:
            raise ConfigError(
                f"{source}: the plan is {size} bytes, more than CLUSTER_MAX_PLAN_BYTES="
                f"{self._max_plan_bytes} allows"
            )

    async def _submitted_data(self, text: str, label: str) -> FetchedPlan | None:
        """A submitted plan's data: read beside the plan in this leader's source."""
        if plan_data_file(text, label) is None:
            return None
        if self._source is None:
            raise ConfigError(
                f"{label}: data.file: this leader has no config source to read the data "
                "from; allowed: a plan without data:, or nodes with a config source that "
                "holds the data beside its plan"
            )
        try:
            return (await self._read_data(self._source, text, label))[1]
        except ConfigSourceError as exc:
            raise ConfigError(str(exc)) from None

    async def _read_data(
        self, source: ConfigSource, text: str, label: str
    ) -> tuple[ConfigSource, FetchedPlan | None]:
        """The source of the data file the plan names and its content (None: it names
        none). Raises ConfigError for a name that leaves the plan's place, and
        ConfigSourceError when the data cannot be read."""
        name = plan_data_file(text, label)
        if name is None:
            return source, None
        if name not in self._siblings:
            self._siblings[name] = source.sibling(name)
        try:
            return self._siblings[name], await self._siblings[name].fetch()
        except ConfigSourceError as exc:
            raise ConfigSourceError(f"{label}: data.file={name!r}: {exc}") from None

    async def _read(self, source: ConfigSource) -> None:
        watched: Watched | None = None  # what the last plan read came from, valid or not
        retry = RETRY_S[0]
        while True:
            try:
                watched = await self._read_and_offer(source, watched)
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
            watched = None  # read again first: that is what clears an error

    async def _read_and_offer(self, source: ConfigSource, watched: Watched | None) -> Watched:
        """Wait for the plan or its data to change from what was read, offer them; what
        they were read from, with their versions."""
        if watched is not None:
            await _first_change(watched)
        fetched = await source.fetch()
        watched = [(source, fetched.version)]
        try:
            self._check_size(fetched.text, fetched.source)
            data_source, data = await self._read_data(source, fetched.text, fetched.source)
        except ConfigError as exc:
            await self._refuse(str(exc), plan_sha256(fetched.text))
            return watched
        if data is not None:
            watched.append((data_source, data.version))
        await self._offer(fetched.text, fetched.source, fetched.version, data)
        return watched

    async def _offer(
        self, text: str, source: str, version: str, data: FetchedPlan | None = None
    ) -> None:
        sha = plan_sha256(text, data.text if data else None)
        try:
            load_plan_text(text, source, data=data.text if data else None)
        except ConfigError as exc:
            await self._refuse(str(exc), sha)
            return
        committed = self._consensus.committed()
        current = committed.get("config") or {}
        if current.get("sha256") == sha and committed.get("config_error") is None:
            log_event(log, "plan_unchanged", sha256=sha[:12], source=source, version=version)
            return
        config = _config(text, source, version, data)
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


async def _first_change(watched: Watched) -> None:
    """Return once any of the watched sources may have changed; raises ConfigSourceError."""
    tasks = [asyncio.ensure_future(source.watch(version)) for source, version in watched]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


class CommitFailed(Exception):
    """Consensus did not commit (no quorum, not the leader); the keeper tries again while
    it leads, an API caller is told."""
