"""The service binaries scripts/test-services builds into the machine-wide cache."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import ServiceError

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = REPO_ROOT / ".cache" / "test-services" / "bin"


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
