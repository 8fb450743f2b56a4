"""Run the real ``loadtest-supervisor`` command in a subprocess, as a user would.

    proc, results = run_cli(["--workers", "1"], {"TARGET_URL": url}, tmp_path=tmp_path)

    with start_cli(args, env, tmp_path=tmp_path) as cli:   # while it runs
        ...  # cli.pid, cli.stderr_text()
        proc, results = cli.wait(timeout=30)

The environment is ``os.environ`` + ``HTTP_API_ENABLED=false`` + the given vars:
the API is off unless a test turns it on, so parallel runs never fight over
port 8080. ``--out`` is added (unless given) so every run's results.json can be
read back. Output goes to files, not pipes: a chatty run (PYTHONPROFILEIMPORTTIME
prints thousands of lines per process) must never block on a full pipe while the
test is busy elsewhere. The CLI runs in its own process group, so its workers are
killed with it when a test fails or times out. Every finished run is checked for
"Traceback" in stderr: whatever the outcome, the product must end with a clean
message, never a stack dump.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support import ManagedProcess


def cli_path() -> Path:
    """The console script of the venv running the tests (not whatever is first on PATH)."""
    beside = Path(sys.executable).parent / "loadtest-supervisor"
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("loadtest-supervisor")
    if found is None:
        raise AssertionError("loadtest-supervisor is not installed: pip install -e '.[test]'")
    return Path(found)


def cli_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a CLI run gets: os.environ, the API off by default, then ``env``."""
    return {**os.environ, "HTTP_API_ENABLED": "false", **(env or {})}


def _results_path(directory: Path) -> Path:
    # A fresh name per run: a run that fails to write must never be read back
    # as an earlier run's results from the same tmp_path.
    for n in range(1, 10_000):
        path = directory / ("results.json" if n == 1 else f"results-{n}.json")
        if not path.exists():
            return path
    raise AssertionError(f"too many results files in {directory}")


class CliProcess:
    """A CLI run in progress; use as a context manager so it never outlives the test."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        tmp_path: Path | None = None,
    ) -> None:
        self._own_dir = tmp_path is None
        self.dir = Path(tempfile.mkdtemp(prefix="cli-")) if tmp_path is None else Path(tmp_path)
        args = list(args)
        given = [a.split("=", 1)[1] for a in args if a.startswith("--out=")]
        if "--out" in args:
            self.results_path = Path(args[args.index("--out") + 1])
        elif given:
            self.results_path = Path(given[-1])
        else:
            self.results_path = _results_path(self.dir)
            args += ["--out", str(self.results_path)]
        stem = self.results_path.stem
        self.stdout_path = self.dir / f"{stem}.stdout"
        self.stderr_path = self.dir / f"{stem}.stderr"
        self.argv = [str(cli_path()), *args]
        self.process = ManagedProcess(
            "loadtest-supervisor",
            self.argv,
            log_path=self.stderr_path,
            stdout_path=self.stdout_path,
            env=cli_env(env),
        ).start()
        # Kept after the exit: tests look for the run's workers by their parent's pid.
        self.pid = self.process.pid

    def running(self) -> bool:
        return self.process.running()

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait(
        self, timeout: float = 60.0, *, expect_results: bool = True
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
        """Wait for the exit; return the process (with its output) and results.json.

        The results are None when no file was written; with ``expect_results`` a
        missing file fails the test, showing the run's output.
        """
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{' '.join(self.argv)} still running after {timeout}s\n"
                f"stdout:\n{self.stdout_text()[-4000:]}\nstderr:\n{self.stderr_text()[-4000:]}"
            ) from None
        code = self.process.kill()  # also sweeps workers left behind by a crashed supervisor
        proc = subprocess.CompletedProcess(
            self.argv, code, stdout=self.stdout_text(), stderr=self.stderr_text()
        )
        assert "Traceback" not in proc.stderr, proc.stderr[-8000:]
        results = None
        if self.results_path.exists():
            results = json.loads(self.results_path.read_text())
        elif expect_results:
            raise AssertionError(
                f"exit {code} and no {self.results_path}\n"
                f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
            )
        return proc, results

    def send_signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        """Signal the supervisor, or its whole group as a terminal's Ctrl-C would."""
        self.process.send_signal(sig, group=group)

    def kill(self) -> None:
        """Stop the CLI and its workers at once (the test is over or has failed)."""
        self.process.kill()

    def __enter__(self) -> CliProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # After wait() the process is forgotten, so its long-reaped pid (which another
        # process may reuse) is never signalled again.
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def start_cli(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    tmp_path: Path | None = None,
) -> CliProcess:
    """Start the CLI without waiting; see ``CliProcess``."""
    return CliProcess(args, env, tmp_path=tmp_path)


def run_cli(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    tmp_path: Path | None = None,
    timeout: float = 60.0,
    expect_results: bool = True,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    """Run the CLI to its exit; returns (process with stdout/stderr, results.json or None)."""
    with start_cli(args, env, tmp_path=tmp_path) as cli:
        return cli.wait(timeout, expect_results=expect_results)
