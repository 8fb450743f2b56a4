"""The process exit codes: a public contract (README, docs/design.md §11.1) that CI reads.

The CLI, the standalone run and the cluster node all return these, so a script sees the
same number for the same outcome whichever mode ran.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0  # the test passed; also --print-config, and a cluster node stopped cleanly
    FAILED = 1  # a threshold or an assertion failed, or no request succeeded
    CONFIG = 2  # bad usage or configuration
    CANNOT_RUN = 3  # the test or node could not run (TLS material, a port taken)
    INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM: 128 + SIGINT, as shells report it


def verdict(results: dict[str, Any]) -> ExitCode:
    """The exit code of a finished run's results document."""
    if results["interrupted"]:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if results["passed"] else ExitCode.FAILED
