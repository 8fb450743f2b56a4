"""The ``consul-kv`` config source: the plan in a Consul KV key, or rendered from several.

Plain: ``CONSUL_CONFIG_KEY`` (default ``loadtest/plan.yaml``) is read with py-consul,
and watched with blocking queries, so a write is seen at once rather than at the next
poll. ``version`` is the key's ModifyIndex.

Rendered: with ``CONSUL_TEMPLATE_FILE`` the real consul-template binary
(``CONSUL_TEMPLATE_BIN``) runs as a subprocess and renders the template whenever a key
it reads changes; the rendering is the plan, so a plan can be assembled from several
keys, or take secrets from keys of their own. A subprocess that dies is restarted and
logged; stopping the source stops it.

A plan's data file is the key beside ``CONSUL_CONFIG_KEY`` (``loadtest/plan.yaml`` and
``users.csv``: ``loadtest/users.csv``), read as it is, in both modes: a rendered plan
has no key of its own, and a CSV is data, not a template to render.
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import signal
from pathlib import Path

from loadtest_supervisor.cluster.contracts import (
    ConfigSource,
    ConfigSourceError,
    FetchedPlan,
    NodeContext,
)
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.hookspecs import hookimpl
from loadtest_supervisor.logs import log_event
from loadtest_supervisor.plugins.consul_discovery.consul_agent import (
    AGENT_ERRORS,
    AgentStatus,
    ConsulAgent,
)
from loadtest_supervisor.plugins.consul_discovery.consul_settings import (
    DECLARED,
    SECTION,
    ConsulConfig,
    ConsulSettings,
)
from loadtest_supervisor.plugins.file_config import FileSource

log = logging.getLogger("loadtest.consul")

# A blocking query returns on a change or after this; the request timeout must outlast it.
BLOCKING_WAIT_S = 10.0
# consul-template writes its rendering to a file; looking at it this often keeps a KV
# change to plan latency well under a second.
RENDER_POLL_S = 0.2
# consul-template renders once it has read every key the template names, a few hundred ms
# after it starts. Until then there is no plan yet, which is no error; past this, a key it
# waits for is likely missing, and that is reported.
FIRST_RENDER_S = 5.0
RESTART_BACKOFF_S = (0.5, 5.0)
STOP_GRACE_S = 5.0


class ConsulKvSource(ConfigSource):
    def __init__(self, settings: ConsulSettings, key: str) -> None:
        self._key = key
        self._settings = settings
        self._url = settings.url
        self._agent = ConsulAgent(settings, AgentStatus(settings), BLOCKING_WAIT_S + 5.0)

    async def fetch(self) -> FetchedPlan:
        _, entry = await self._get()
        if entry is None:
            raise ConfigSourceError(f"consul-kv {self._key}: no such key at {self._url}")
        try:
            text = (entry["Value"] or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigSourceError(f"consul-kv {self._key}: not UTF-8 text") from None
        return FetchedPlan(text, str(entry["ModifyIndex"]), f"consul-kv {self._key}")

    async def watch(self, version: str) -> None:
        index = None
        while True:
            index, entry = await self._get(index)
            if entry is None or str(entry["ModifyIndex"]) != version:
                return

    async def stop(self) -> None:
        pass

    def sibling(self, name: str) -> ConsulKvSource:
        return ConsulKvSource(self._settings, posixpath.join(posixpath.dirname(self._key), name))

    async def _get(self, index: str | None = None) -> tuple[str, dict | None]:
        wait = f"{BLOCKING_WAIT_S:g}s" if index is not None else None
        try:
            return await self._agent.call(
                "kv_get", lambda c: c.kv.get(self._key, index=index, wait=wait)
            )
        except AGENT_ERRORS as exc:
            raise ConfigSourceError(f"consul-kv {self._key} at {self._url}: {exc}") from None


class ConsulTemplateSource(ConfigSource):
    """consul-template renders ``template`` into ``workdir``; the rendering is the plan."""

    def __init__(
        self, settings: ConsulSettings, template: str, binary: str, workdir: Path, key: str
    ) -> None:
        self._settings = settings
        self._key = key  # CONSUL_CONFIG_KEY: its siblings are the plan's data keys
        self._template = template
        self._binary = binary
        workdir.mkdir(parents=True, exist_ok=True)
        self._output = workdir / "plan.yaml"
        self._log_path = workdir / "consul-template.log"
        self._rendered = FileSource(self._output, f"consul-template {template} ->", RENDER_POLL_S)
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._failure: str | None = None

    async def fetch(self) -> FetchedPlan:
        await self._ensure_running()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_RENDER_S
        while True:
            try:
                return await self._rendered.fetch()
            except ConfigSourceError as exc:
                if self.pid is None:
                    why = self._failure or f"exited; log {self._log_path}"
                elif loop.time() >= deadline:
                    why = (
                        f"not rendered in {FIRST_RENDER_S:g}s: does every key it reads exist? "
                        f"log {self._log_path}"
                    )
                else:
                    why = None
                if why is not None:
                    raise ConfigSourceError(f"{exc} ({why})") from None
            await asyncio.sleep(RENDER_POLL_S)

    async def watch(self, version: str) -> None:
        await self._ensure_running()
        await self._rendered.watch(version)

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        await self._terminate()

    def sibling(self, name: str) -> ConsulKvSource:
        return ConsulKvSource(self._settings, self._key).sibling(name)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.returncode is None else None

    async def _ensure_running(self) -> None:
        if self._supervisor is None:
            self._output.unlink(missing_ok=True)  # never serve a rendering from a past run
            await self._start()  # the first start's failure is the caller's to hear
            self._supervisor = asyncio.create_task(self._supervise())
        if self._failure is not None and self.pid is None:
            raise ConfigSourceError(f"consul-template {self._template}: {self._failure}")

    async def _start(self) -> None:
        argv = [
            self._binary,
            "-consul-addr",
            f"{self._settings.host}:{self._settings.port}",
            "-template",
            f"{self._template}:{self._output}",
            "-log-level",
            "warn",
        ]
        if self._settings.scheme == "https":
            argv.append("-consul-ssl")
        # The token goes in the environment, never in argv, which any local user can read.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        if self._settings.token:
            env["CONSUL_HTTP_TOKEN"] = self._settings.token
        with open(self._log_path, "ab") as log_file:
            try:
                # In the node's process group, not a session of its own: whatever signals
                # the node's group (a terminal's Ctrl-C, a kill -9 of the group by a process
                # manager or a test harness) reaches consul-template too. In a session of
                # its own it outlived a killed node, rendering for nobody.
                self._process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    env=env,
                )
            except OSError as exc:
                self._failure = f"cannot run CONSUL_TEMPLATE_BIN={self._binary!r}: {exc.strerror}"
                raise ConfigSourceError(f"consul-template: {self._failure}") from None
        self._failure = None
        log_event(log, "consul_template_started", pid=self._process.pid, template=self._template)

    async def _supervise(self) -> None:
        delay = RESTART_BACKOFF_S[0]
        while True:
            assert self._process is not None
            code = await self._process.wait()
            self._failure = f"exited with code {code}; log {self._log_path}"
            log_event(
                log,
                "consul_template_exited",
                level=logging.WARNING,
                code=code,
                restart_in_s=delay,
                log=str(self._log_path),
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_BACKOFF_S[1])
            try:
                await self._start()
            except ConfigSourceError:
                continue
            log_event(log, "consul_template_restarted", pid=self.pid)

    async def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        # consul-template quits on SIGINT; SIGTERM it would only forward to a child.
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except TimeoutError:
            process.kill()
            await process.wait()


class ConsulKvPlugin:
    """Registered as the ``consul-kv`` config source; its settings are the Consul plugin's."""

    @hookimpl
    def loadtest_declare_settings(self) -> PluginSettings:
        return DECLARED

    @hookimpl
    def loadtest_make_config_source(self, context: NodeContext) -> ConfigSource:
        config = context.settings.plugin(SECTION, ConsulConfig)
        settings = ConsulSettings.from_config(config)
        if config.template_file is None:
            return ConsulKvSource(settings, config.config_key)
        workdir = Path(context.data_dir) / "consul-template"
        return ConsulTemplateSource(
            settings, config.template_file, config.template_bin, workdir, config.config_key
        )
