"""Starting, waiting for and stopping the real processes the tests run against."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = REPO_ROOT / ".cache" / "test-services" / "bin"
LOOPBACK = "127.0.0.1"

T = TypeVar("T")


class ServiceError(RuntimeError):
    """A test service could not be found, started or reached."""


def binary(name: str) -> Path:
    """Path of a binary installed by scripts/test-services; fails loudly if it is missing.

    The test command always runs the installer first, so a missing binary is a
    broken setup, never a reason to skip.
    """
    path = BIN_DIR / name
    if not os.access(path, os.X_OK):
        raise ServiceError(
            f"{path} is missing: run scripts/test-services to build and cache the test services"
        )
    return path


# Ports handed out in this process. The probe socket is closed before the
# service binds the port, so without this two fixtures started back to back
# could be given the same port by the kernel.
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(*, udp: bool = False) -> int:
    """A loopback port that is free now (for TCP, and for UDP too when `udp`)."""
    with _ports_lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind((LOOPBACK, 0))
                port = tcp.getsockname()[1]
                if port in _handed_out:
                    continue
                if udp and not _udp_free(port):
                    continue
            _handed_out.add(port)
            return port
    raise ServiceError("no free loopback port found")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
    alive: Callable[[], None] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy, and return that.

    Exceptions from `condition` count as "not yet" (a service that is still
    starting refuses connections). `alive` is called each round so a crashed
    process fails the wait at once instead of after the full timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if alive is not None:
            alive()
        try:
            result = condition()
        except Exception as exc:  # any failure means "not ready yet"
            last_error = exc
            result = None
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise ServiceError(f"timed out after {timeout:.1f}s waiting for {what}{detail}")
        time.sleep(interval)


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    with socket.create_connection((host, port), timeout=timeout):
        return True


class ManagedProcess:
    """A child process in its own process group, with its output in a log file.

    The process group lets `stop()` reach children the service spawns (nginx
    workers, consul-template's commands). Output goes to a file, not a pipe, so
    a chatty service can never block on a full pipe buffer, and the log is
    there to read when a test fails.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ServiceError(f"{self.name} is not running")
        return self.popen.pid

    def start(self) -> ManagedProcess:
        if self.popen is not None and self.popen.poll() is None:
            raise ServiceError(f"{self.name} is already running (pid {self.popen.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append, so the log of a restarted service keeps its earlier life.
        with open(self.log_path, "ab") as log:
            log.write(f"--- starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit by itself; raises subprocess.TimeoutExpired."""
        if self.popen is None:
            raise ServiceError(f"{self.name} was never started")
        return self.popen.wait(timeout)

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        """Raise with the log tail if the process has exited."""
        if self.popen is None:
            raise ServiceError(f"{self.name} was never started")
        code = self.popen.poll()
        if code is not None:
            raise ServiceError(
                f"{self.name} exited with code {code}; log {self.log_path}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(
        self, condition: Callable[[], T | None], *, timeout: float = 30.0, what: str = ""
    ) -> T:
        """Wait for `condition`, failing early (with the log) if the process dies.

        On failure the process is stopped: a service that never became ready
        must not outlive the fixture that could not hand it out.
        """
        try:
            return wait_for(
                condition,
                timeout=timeout,
                what=what or f"{self.name} to be ready",
                alive=self.check_alive,
            )
        except ServiceError as exc:
            self.stop()
            if "exited with code" in str(exc):
                raise
            raise ServiceError(f"{exc}; log {self.log_path}:\n{self.log_tail()}") from None
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> int | None:
        """Signal the whole process group, SIGKILL it if it lingers; returns the exit code."""
        popen = self.popen
        if popen is None:
            return None
        pgid = popen.pid  # start_new_session makes the child its group's leader
        self._signal_group(pgid, self.stop_signal)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(pgid, signal.SIGKILL)
            popen.wait(timeout)
        # Children that outlived the leader (or ignored SIGTERM) still hold ports.
        self._signal_group(pgid, signal.SIGKILL)
        self.popen = None
        return popen.returncode

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
