"""The results document as a JSON file (``--out``)."""

from __future__ import annotations

import json
from typing import Any

from loadtest_supervisor.results.atomic_file import write_atomically


def write_results_json(path: str, results: dict[str, Any]) -> None:
    """Write ``results`` so that readers see the old file or the new one, never half of it."""
    write_atomically(path, json.dumps(results, indent=2) + "\n")
