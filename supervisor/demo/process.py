"""Runs the demo target (``demo.target``) as a child process on 127.0.0.1.

A separate process, so the target never competes with the supervisor's loop and
the numbers the demo prints are the engine's, not a shared event loop's.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from loadtest_supervisor.demo.target import target_command


@dataclass
class DemoTarget:
    process: subprocess.Popen[str]
    url: str

    @classmethod
    def start(cls, host: str = "127.0.0.1") -> DemoTarget:
        """Start the target on a free port and wait until it listens."""
        process = subprocess.Popen(
            target_command(host, 0),
            stdout=subprocess.PIPE,
            text=True,
            # Its own session: a Ctrl-C meant for the test must not kill the target
            # while the last requests are still being counted.
            start_new_session=True,
        )
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("listening on "):
            process.kill()
            raise RuntimeError(f"demo target did not start: {line!r}")
        return cls(process, line.split(" ", 2)[2].strip() + "/")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
