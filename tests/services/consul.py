"""A real Consul agent in -dev mode, and consul-template driven against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import consul as consul_api

from tests.services.binaries import binary
from tests.support import LOOPBACK, ManagedProcess, ServiceError, free_port


class ConsulAgent:
    """One `consul agent -dev` bound to loopback on its own free ports.

    -dev keeps the catalog and KV in memory and no -data-dir is given, so
    nothing is persisted: `restart()` brings back an empty agent on the same
    ports, which is what a crashed and restarted production agent looks like
    to its clients (registrations forgotten, KV of a dev server gone).
    """

    def __init__(self, workdir: Path, *, node_name: str = "loadtest-test-node") -> None:
        self.workdir = workdir
        self.node_name = node_name
        self.http_port = free_port()
        # DNS and Serf speak UDP as well as TCP.
        self.dns_port = free_port(udp=True)
        self.serf_lan_port = free_port(udp=True)
        self.serf_wan_port = free_port(udp=True)
        self.server_port = free_port()
        self.grpc_port = free_port()
        self._process = ManagedProcess(
            "consul",
            [
                binary("consul"),
                "agent",
                "-dev",
                "-node",
                node_name,
                "-bind",
                LOOPBACK,
                "-client",
                LOOPBACK,
                "-http-port",
                str(self.http_port),
                "-dns-port",
                str(self.dns_port),
                "-server-port",
                str(self.server_port),
                "-serf-lan-port",
                str(self.serf_lan_port),
                "-serf-wan-port",
                str(self.serf_wan_port),
                "-grpc-port",
                str(self.grpc_port),
                "-grpc-tls-port",
                "-1",
                "-https-port",
                "-1",
                "-log-level",
                "info",
                # -dev already skips the update check; say so anyway, since the
                # tests may reach nothing beyond loopback.
                "-hcl",
                "disable_update_check = true",
            ],
            log_path=workdir / "consul.log",
            cwd=workdir,
            # The agent must not pick up a developer's CONSUL_* settings.
            env={k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")},
        )
        self.client = consul_api.Consul(host=LOOPBACK, port=self.http_port)

    @property
    def http_addr(self) -> str:
        return f"{LOOPBACK}:{self.http_port}"

    @property
    def url(self) -> str:
        return f"http://{self.http_addr}"

    @property
    def log_path(self) -> Path:
        return self._process.log_path

    def env(self) -> dict[str, str]:
        """Variables that point our product and Consul's own tools at this agent."""
        return {"CONSUL_ADDR": self.url, "CONSUL_HTTP_ADDR": self.http_addr}

    def leader(self) -> str:
        """The raft leader address the agent reports, "" while there is none."""
        with urllib.request.urlopen(f"{self.url}/v1/status/leader", timeout=2) as resp:
            return json.loads(resp.read())

    def start(self, timeout: float = 60.0) -> ConsulAgent:
        self._process.start()
        # A leader is the point from which KV writes, registrations and DNS all work.
        self._process.wait_ready(self.leader, timeout=timeout, what="consul to elect a leader")
        return self

    def stop(self) -> None:
        self._process.stop()

    def restart(self, timeout: float = 60.0) -> ConsulAgent:
        """Stop and start the same agent on the same ports; all its state is lost."""
        self.stop()
        return self.start(timeout=timeout)

    def running(self) -> bool:
        return self._process.running()

    def __enter__(self) -> ConsulAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ConsulTemplate:
    """Runs the real consul-template binary against one Consul agent."""

    def __init__(self, consul_http_addr: str, workdir: Path) -> None:
        self.consul_http_addr = consul_http_addr
        self.workdir = workdir
        self._daemons: list[ManagedProcess] = []
        self._count = 0

    def _argv(self, template: str | Path, dest: Path, *extra: str) -> tuple[list[str], Path]:
        self._count += 1
        if isinstance(template, str):
            source = self.workdir / f"template-{self._count}.ctmpl"
            source.write_text(template)
        else:
            source = template
        argv = [
            os.fspath(binary("consul-template")),
            "-consul-addr",
            self.consul_http_addr,
            "-template",
            f"{source}:{dest}",
            "-log-level",
            "info",
            *extra,
        ]
        return argv, self.workdir / f"consul-template-{self._count}.log"

    def _env(self) -> dict[str, str]:
        # consul-template also reads CONSUL_*/VAULT_* from the environment; the
        # test must see only the agent it was given.
        return {
            k: v for k, v in os.environ.items() if not k.startswith(("CONSUL_", "VAULT_", "NOMAD_"))
        }

    def _new_process(self, argv: list[str], log_path: Path) -> ManagedProcess:
        # consul-template quits on SIGINT; SIGTERM it only forwards to the
        # command it supervises, and would wait for the SIGKILL.
        return ManagedProcess(
            "consul-template", argv, log_path=log_path, env=self._env(), stop_signal=signal.SIGINT
        )

    def render_once(self, template: str | Path, dest: Path, *, timeout: float = 30.0) -> str:
        """Render `template` (text, or a path to a template file) once to `dest`.

        consul-template -once waits until every key the template reads exists,
        so a missing key shows up here as a timeout carrying its log.
        """
        argv, log_path = self._argv(template, dest, "-once")
        proc = self._new_process(argv, log_path)
        proc.start()
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.stop()
            raise ServiceError(
                f"consul-template -once did not finish in {timeout}s; log:\n{proc.log_tail()}"
            ) from None
        proc.stop()
        if code != 0:
            raise ServiceError(f"consul-template -once exited {code}; log:\n{proc.log_tail()}")
        return dest.read_text()

    def start(self, template: str | Path, dest: Path, *extra: str) -> ManagedProcess:
        """Run consul-template as a daemon that re-renders `dest` on every change.

        Stopped by `stop_all()` (the fixture does that at teardown).
        """
        argv, log_path = self._argv(template, dest, *extra)
        proc = self._new_process(argv, log_path)
        self._daemons.append(proc)
        return proc.start()

    def stop_all(self) -> None:
        for proc in self._daemons:
            proc.stop()
        self._daemons.clear()
