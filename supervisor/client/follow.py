"""Following a cluster run from outside: its progress line, then its final results.

Any node serves the cluster's results (``GET /results?run_id=``), so following survives a
leader change; ``ClusterApi`` moves to another node if the one in use dies.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from loadtest_supervisor.client.cluster_api import ApiError, ClusterApi
from loadtest_supervisor.live.progress import LiveFigures, ProgressLine

POLL_S = 1.0
# After the run's end, how long final results may take: the leader waits two metrics
# intervals for final reports, an election may come first.
FINAL_WITHIN_S = 60.0


def follow_run(api: ClusterApi, run: dict[str, Any], console: Console) -> dict[str, Any]:
    """Show ``run``'s progress once a second until its final results; those results.

    Raises ApiError when no node answers, or no final results come in time.
    """
    progress = ProgressLine(console, run["end_at"] - run["start_at"])
    progress.start()
    give_up_at = time.time() + (run["end_at"] - time.time()) + FINAL_WITHIN_S
    try:
        while True:
            status, document = api.call("GET", f"/results?run_id={run['run_id']}")
            if status == 200 and document.get("run", {}).get("run_id") == run["run_id"]:
                progress.update(document["run"]["elapsed_s"], LiveFigures.of_results(document))
                if document["run"]["final"]:
                    return document
            if time.time() > give_up_at:
                raise ApiError(f"no final results of run {run['run_id']} from the cluster")
            time.sleep(POLL_S)
    finally:
        progress.stop()
