"""The results document as a JSON file (``--out``)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def write_results_json(path: str, results: dict[str, Any]) -> None:
    """Write ``results`` so that readers see the old file or the new one, never half of it."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".results-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # mkstemp creates files readable by the owner only; results are not secret.
            os.fchmod(f.fileno(), 0o644)
            json.dump(results, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise
