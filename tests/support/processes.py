"""A child process the tests start, watch and always stop: services, CLI runs, nodes."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TypeVar

from tests.support.polling import WaitTimeout, wait_for

T = TypeVar("T")


class ServiceError(RuntimeError):
    """A test service or process could not be found, started or reached."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs: a zombie (exited, not yet reaped by its
    parent) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"  # the state follows the command's name


class ManagedProcess:
    """A child process in its own process group, with its output in files.

    The process group lets `stop()` reach children the process spawns (nginx
    workers, load workers, consul-template's commands). Output goes to files, not
    pipes, so a chatty process can never block on a full pipe buffer, and the log
    is there to read when a test fails:

    - by default stdout and stderr both go to `log_path`, appended and each start
      marked, so the log of a restarted service keeps its earlier lives;
    - with `stdout_path`, stdout goes there and stderr to `log_path`, both fresh and
      holding exactly what the program wrote, for tests that read them;
    - with `pipe_stdio`, stdin and stdout are pipes (`stdin`, `stdout`) for a
      process driven line by line, and stderr goes to `log_path`, appended.
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
        stdout_path: Path | None = None,
        pipe_stdio: bool = False,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = log_path
        self.stdout_path = stdout_path
        self.pipe_stdio = pipe_stdio
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ServiceError(f"{self.name} is not running")
        return self.popen.pid

    @property
    def stdin(self) -> IO[bytes]:
        assert self.popen is not None and self.popen.stdin is not None, "needs pipe_stdio"
        return self.popen.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.popen is not None and self.popen.stdout is not None, "needs pipe_stdio"
        return self.popen.stdout

    def start(self) -> ManagedProcess:
        if self.popen is not None and self.popen.poll() is None:
            raise ServiceError(f"{self.name} is already running (pid {self.popen.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        mode = "ab" if self.stdout_path is None else "wb"
        with ExitStack() as files:
            log = files.enter_context(open(self.log_path, mode))
            stdout: IO[bytes] | int = log
            if self.stdout_path is not None:
                stdout = files.enter_context(open(self.stdout_path, mode))
            elif self.pipe_stdio:
                stdout = subprocess.PIPE
            else:
                log.write(f"--- starting: {' '.join(self.argv)}\n".encode())
                log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE if self.pipe_stdio else subprocess.DEVNULL,
                stdout=stdout,
                stderr=log,
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
        except ServiceError:
            self.stop()
            raise
        except WaitTimeout as exc:
            self.stop()
            raise ServiceError(f"{exc}; log {self.log_path}:\n{self.log_tail()}") from None
        except BaseException:
            self.stop()
            raise

    def send_signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        """Signal the process, or its whole group as a terminal's Ctrl-C would."""
        if group:
            os.killpg(self.pid, sig)
        else:
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 10.0, *, sig: signal.Signals | None = None) -> int | None:
        """Signal the whole process group (`stop_signal` unless `sig`), SIGKILL it if it
        lingers; returns the exit code, or None if it was not started."""
        popen = self.popen
        if popen is None:
            return None
        pgid = popen.pid  # start_new_session makes the child its group's leader
        self._signal_group(pgid, sig or self.stop_signal)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(pgid, signal.SIGKILL)
            popen.wait(timeout)
        # Children that outlived the leader (or ignored SIGTERM) still hold ports.
        self._signal_group(pgid, signal.SIGKILL)
        self.popen = None
        return popen.returncode

    def kill(self, timeout: float = 10.0) -> int | None:
        """SIGKILL the whole group at once, as a machine dying would; returns the exit code."""
        return self.stop(timeout, sig=signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def worker_pids(parent: int) -> list[int]:
    """The children of ``parent`` that are load workers (spawned by multiprocessing)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"multiprocessing.spawn" in cmdline:
            found.append(int(entry.name))
    return sorted(found)
