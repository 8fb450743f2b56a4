"""A load worker imports what it runs, not what only the supervisor needs.

Each spawned worker runs the console script again (multiprocessing's spawn re-imports
the parent's main module), so what ``cli`` imports at its top every worker imports too.
Importing is a worker's fixed cost, paid before its first request (bench/RESULTS.md,
issue 15): settings loading, the console, the HTTP API and the results belong to the
supervisor alone. Checked on a real run, from every process's import log.
"""

from __future__ import annotations

from pathlib import Path

from tests.engine.cli import run_cli
from tests.engine.test_standalone_isolation import _imported_modules
from tests.support import LOOPBACK, free_port

WORKERS = 2
# Modules only the supervisor process needs: a worker that imports one pays for nothing.
SUPERVISOR_ONLY = (
    "loadtest_supervisor.config.loading",
    "loadtest_supervisor.config.rendering",
    "loadtest_supervisor.standalone",
    "loadtest_supervisor.http_api",
    "loadtest_supervisor.results.document",
    "rich.console",
    "starlette.applications",
    "uvicorn",
    "yaml",
)


def test_workers_import_none_of_the_supervisors_modules(http_target, tmp_path: Path) -> None:
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Concurrent",
        "NUM_CONCURRENT_TASKS": "2",
        "TEST_DURATION": "2s",
        "HTTP_API_ENABLED": "true",
        "CLUSTER_HEALTH_ADDR": f"{LOOPBACK}:{free_port()}",
        "PYTHONPROFILEIMPORTTIME": "1",
    }
    proc, results = run_cli(["--workers", str(WORKERS)], env, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert results["requests_total"] > 0 and results["errors_total"] == 0

    modules = _imported_modules(proc.stderr)
    # A process imports a module once, so a module's count is how many processes did.
    # Every interpreter (the supervisor, each worker, the resource tracker) imports
    # `encodings`; the workers import the engine's worker module, and so does the
    # supervisor, which starts them with it.
    assert modules.count("encodings") >= 1 + WORKERS
    assert modules.count("loadtest_supervisor.engine.worker") == 1 + WORKERS
    imported_by = {name: modules.count(name) for name in SUPERVISOR_ONLY}
    assert imported_by == dict.fromkeys(SUPERVISOR_ONLY, 1)
