"""Stand-in for ``loadtest-supervisor --workers N --out FILE`` while the CLI is unfinished.

It reads the same environment variables the CLI reads (TARGET_URL, LOAD_MODEL_TYPE,
NUM_CONCURRENT_TASKS, TEST_DURATION), drives ``LoadRun`` the way the CLI will, and
writes the results.json keys the benchmark reads. http_throughput.py uses it only
when the real command does not work yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from types import SimpleNamespace as NS
from typing import Any

from supervisor.engine.runner import LoadRun
from supervisor.event_loop import run_loop


def _plan() -> Any:
    tls = NS(verify=True, ca=None, client_cert=None, client_key=None)
    target = NS(
        url=os.environ["TARGET_URL"],
        resolve=None,
        headers={},
        connect_timeout=10.0,
        request_timeout=30.0,
        keep_alive=True,
        tls=tls,
    )
    load = NS(
        model=os.environ.get("LOAD_MODEL_TYPE", "Concurrent"),
        concurrency=int(os.environ["NUM_CONCURRENT_TASKS"]),
        duration=float(os.environ["TEST_DURATION"].removesuffix("s")),
    )
    return NS(
        target=target,
        load=load,
        request=NS(method="GET", body=None, json_body=None),
        scenarios=[],
    )


async def _run(workers: int) -> dict[str, Any]:
    run = LoadRun(_plan(), workers)
    outcome = await run.run(asyncio.Event())
    total = outcome.totals.total()
    return {
        "requests_total": total.requests,
        "rps": total.requests / outcome.duration_s,
        "duration_s": outcome.duration_s,
        "errors": dict(total.errors),
        "latency_ms": total.latency_ms(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w") as f:
        json.dump(run_loop(_run(args.workers)), f)


if __name__ == "__main__":
    main()
