"""loadtest_supervisor.demo.target in a subprocess: the behaviours nginx cannot fake."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support import LOOPBACK, ManagedProcess, free_port, port_accepts


class HttpTarget:
    """`python -m loadtest_supervisor.demo.target` on a free loopback port.

    Serves / (200), /slow?ms=N, /slow/stats, /status/<code>, /drop, /hang, /json and
    /echo. With ``access_log``, each request's arrival time and path (``requests()``).
    A separate process, not a thread in the test, so a test that saturates it
    or leaves /hang connections open never slows the test process itself.
    """

    def __init__(self, workdir: Path, *, access_log: bool = False) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.access_log = workdir / "access.log"
        logging = ["--access-log", str(self.access_log)] if access_log else []
        self._process = ManagedProcess(
            "http_target",
            [
                sys.executable,
                "-m",
                "loadtest_supervisor.demo.target",
                "--host",
                LOOPBACK,
                "--port",
                str(self.port),
                *logging,
            ],
            log_path=workdir / "http_target.log",
            cwd=workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        """Its process, for a test to freeze (SIGSTOP) and thaw."""
        return self._process.pid

    def requests(self) -> list[tuple[float, str]]:
        """Each request so far: its arrival (Unix time) and path (needs ``access_log``)."""
        if not self.access_log.exists():
            return []
        lines = (line.split(" ", 1) for line in self.access_log.read_text().splitlines())
        return [(float(at), path) for at, path in lines]

    def start(self, timeout: float = 30.0) -> HttpTarget:
        self._process.start()
        self._process.wait_ready(
            lambda: port_accepts(LOOPBACK, self.port), timeout=timeout, what="http_target"
        )
        return self

    def stop(self) -> None:
        self._process.stop()

    def running(self) -> bool:
        return self._process.running()

    def __enter__(self) -> HttpTarget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
