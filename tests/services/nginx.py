"""nginx on a free loopback port: a fast, well-behaved keep-alive HTTP target."""

from __future__ import annotations

import os
import pwd
import shutil
import urllib.request
from pathlib import Path

from tests.support import LOOPBACK, ManagedProcess, ServiceError, free_port

BODY = b"hello from nginx\n"

_CONFIG = """\
{user_line}
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{
        text/plain txt;
    }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;

    server {{
        listen {host}:{port};
        root {dir}/html;
        location = / {{
            try_files /index.txt =404;
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


class Nginx:
    """One nginx master + one worker, everything (config, pid, logs, temp) under `workdir`."""

    body = BODY

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        (workdir / "html").mkdir(parents=True, exist_ok=True)
        (workdir / "tmp").mkdir(exist_ok=True)
        (workdir / "html" / "index.txt").write_bytes(BODY)
        # As root, nginx drops its worker to "nobody", which cannot read pytest's
        # private tmp dirs; keep the worker as the current user instead.
        user_line = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        config = workdir / "nginx.conf"
        config.write_text(
            _CONFIG.format(user_line=user_line, dir=workdir, host=LOOPBACK, port=self.port)
        )
        self._process = ManagedProcess(
            "nginx",
            # -e: without it nginx opens the compiled-in error log before reading the config.
            [_nginx_binary(), "-p", workdir, "-c", config, "-e", workdir / "error.log"],
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

    def start(self, timeout: float = 30.0) -> Nginx:
        self._process.start()
        try:
            self._process.wait_ready(self._serves, timeout=timeout, what="nginx to serve /")
        except ServiceError as exc:
            error_log = self.workdir / "error.log"
            detail = error_log.read_text() if error_log.exists() else "(no error.log)"
            raise ServiceError(f"{exc}\nerror.log:\n{detail}") from None
        return self

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
