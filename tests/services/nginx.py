"""nginx on a free loopback port: a fast, well-behaved keep-alive HTTP target.

The tests aim at it, and so does bench/http_throughput.py, which pins it to a core
of its own (``cpu``) and reads its request count (``requests_served``). With
``access_log=True`` it also logs every request's time, status and path (``hits``), so a
test can tell which plan sent what, and when.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support import LOOPBACK, ManagedProcess, ServiceError, free_port

BODY = b"ok\n"

_CONFIG = """\
{user_line}
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    log_format hits '$msec $status $request_uri';
    {access_log}
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    default_type text/plain;
    keepalive_timeout 120s;
    keepalive_requests 1000000;

    server {{
        listen {host}:{port};
        location = / {{
            return 200 "{body}";
        }}
        location = /nginx_status {{
            access_log off;
            stub_status;
        }}
        # Every other path answers too, so that plans told apart by their path all pass.
        location / {{
            return 200 "{body}";
        }}
    }}
}}
"""


def _nginx_binary() -> Path:
    # nginx comes from Debian's package (scripts/test-services installs it), not the cache.
    # /usr/sbin is not on every user's PATH.
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ServiceError("nginx is not installed: run scripts/test-services")


@dataclass(frozen=True)
class Hit:
    """One request in the access log: when nginx answered it (epoch seconds), how, and
    the path it asked for (with its query)."""

    at: float
    status: int
    path: str


class Nginx:
    """One nginx master + one worker, everything (config, pid, logs, temp) under `workdir`.

    Serves `body` at every path and its stub_status at /nginx_status. With `cpu`, master
    and worker run on that core only, so a benchmark's load generator cannot share it.
    With `access_log`, every request but the status reads is logged (``hits``); a
    benchmark leaves it off, since writing the log costs nginx time.
    """

    body = BODY

    def __init__(self, workdir: Path, *, cpu: int | None = None, access_log: bool = False) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.access_log = workdir / "access.log" if access_log else None
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        # As root, nginx drops its worker to "nobody", which cannot read pytest's
        # private tmp dirs; keep the worker as the current user instead.
        user_line = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        body = BODY.decode().replace("\n", "\\n")
        config = workdir / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                user_line=user_line,
                dir=workdir,
                host=LOOPBACK,
                port=self.port,
                body=body,
                # Unbuffered: a request is in the log once it has been answered.
                access_log=(
                    f"access_log {self.access_log} hits;" if self.access_log else "access_log off;"
                ),
            )
        )
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self._process = ManagedProcess(
            "nginx",
            # -e: without it nginx opens the compiled-in error log before reading the config.
            [*pin, _nginx_binary(), "-p", workdir, "-c", config, "-e", workdir / "error.log"],
            log_path=workdir / "nginx.out",
            cwd=workdir,
        )

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _serves(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/", timeout=2) as resp:
            return resp.status == 200

    def requests_served(self) -> int:
        """Requests nginx has served so far, this one included (stub_status: exact, instant)."""
        with urllib.request.urlopen(f"{self.url}/nginx_status", timeout=5) as resp:
            text = resp.read().decode()
        found = re.search(r"^\s*\d+\s+\d+\s+(\d+)\s*$", text, re.M)
        if found is None:
            raise ServiceError(f"unexpected stub_status answer: {text!r}")
        return int(found.group(1))

    def hits(self) -> list[Hit]:
        """Every request logged so far, oldest first (needs ``access_log=True``)."""
        if self.access_log is None:
            raise ServiceError("this nginx keeps no access log: start it with access_log=True")
        if not self.access_log.exists():
            return []
        text = self.access_log.read_text()
        complete = text[: text.rfind("\n") + 1]  # a line being written is not a hit yet
        found = []
        for line in complete.splitlines():
            at, status, path = line.split(" ", 2)
            found.append(Hit(float(at), int(status), path))
        return found

    def start(self, timeout: float = 30.0) -> Nginx:
        self._process.start()
        try:
            self._process.wait_ready(self._serves, timeout=timeout, what="nginx to serve /")
        except ServiceError as exc:
            error_log = self.workdir / "error.log"
            detail = error_log.read_text() if error_log.exists() else "(no error.log)"
            raise ServiceError(f"{exc}\nerror.log:\n{detail}") from None
        return self

    def pause(self) -> None:
        """Freeze master and worker (SIGSTOP): connections stay open, nothing is answered."""
        self._process.send_signal(signal.SIGSTOP, group=True)

    def resume(self) -> None:
        """Thaw them (SIGCONT): what waited in the sockets is answered at once."""
        self._process.send_signal(signal.SIGCONT, group=True)

    def stop(self) -> None:
        if self._process.running():
            self.resume()  # a frozen nginx would sit out the stop signal until killed
        self._process.stop()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
