"""Every command this node applied, one line each, in its data dir: evidence that every
node applied the same committed sequence (the fault schedule's checker compares them).

    applied.log:  <raft index> <term> <kind> <ok|refused> <sha256 of the command, 16 hex>
                  "start" when the process opens it, "snapshot" when a snapshot replaced
                  the state (indexes jump after it)

A line costs ~60 bytes and a run commits a few commands a second, so the file is
rotated once it passes ``MAX_BYTES`` (the previous one kept as ``applied.log.1``): the
evidence of the last tens of thousands of commands, at a bounded cost.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

FILE = "applied.log"
MAX_BYTES = 8 * 1024 * 1024


def command_kind(command: dict[str, Any]) -> str:
    """The parts a command updates, e.g. ``run+metrics_checkpoint``; ``fence`` for a new
    leader's empty command."""
    return "+".join(sorted(k for k in command if k != "term")) or "fence"


class AppliedLog:
    """Appends to ``<data dir>/applied.log``; written on pysyncobj's tick thread only."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE
        self._file: IO[str] | None = None

    def start(self) -> None:
        self._write("start")

    def snapshot(self) -> None:
        self._write("snapshot")

    def applied(self, index: int, command_json: str, command: Any, ok: bool) -> None:
        digest = hashlib.sha256(command_json.encode()).hexdigest()[:16]
        term = command.get("term") if isinstance(command, dict) else None
        kind = command_kind(command) if isinstance(command, dict) else "invalid"
        self._write(f"{index} {term} {kind} {'ok' if ok else 'refused'} {digest}")

    def _write(self, line: str) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", buffering=1)  # noqa: SIM115 (kept open)
        elif self._file.tell() > MAX_BYTES:
            self._file.close()
            os.replace(self.path, self.path.with_name(FILE + ".1"))
            self._file = open(self.path, "a", buffering=1)  # noqa: SIM115
        self._file.write(line + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
