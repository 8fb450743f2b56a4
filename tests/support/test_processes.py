"""ManagedProcess against real child processes: groups, output files, pipes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support import ManagedProcess, wait_for


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The shell's background child is what a service's workers look like.
    proc = ManagedProcess(
        "sh",
        ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"],
        log_path=tmp_path / "sh.log",
    ).start()
    child = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=5))
    os.kill(child, 0)  # alive

    proc.stop(timeout=5)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # A zombie is gone too: it holds no resources, only its exit status.
        return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"

    assert wait_for(gone, timeout=5, what="child to exit")


def test_split_output_holds_exactly_what_the_program_wrote(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "sh",
        ["sh", "-c", "echo out; echo err >&2"],
        log_path=tmp_path / "err",
        stdout_path=tmp_path / "out",
    ).start()
    assert proc.wait(timeout=5) == 0
    assert (tmp_path / "out").read_text() == "out\n"
    assert (tmp_path / "err").read_text() == "err\n"


def test_piped_process_is_driven_line_by_line_and_killed(tmp_path: Path) -> None:
    proc = ManagedProcess("cat", ["cat"], log_path=tmp_path / "cat.log", pipe_stdio=True).start()
    proc.stdin.write(b"ping\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == b"ping\n"
    assert proc.kill() == -signal.SIGKILL
    assert not proc.running()
