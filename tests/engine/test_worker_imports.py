"""A load worker imports what it runs, not what only the supervisor needs.

Each spawned worker runs the console script again (multiprocessing's spawn re-imports
the parent's main module), so what ``cli`` imports at its top every worker imports too.
Importing is a worker's fixed cost, paid before its first request (bench/RESULTS.md,
issue 15): settings loading, the console, the HTTP API and the results belong to the
supervisor alone. Checked on a real run, from every process's import log.
"""

from __future__ import annotations

from pathlib import Path

from tests.engine.test_standalone_isolation import WORKERS, imports_of_a_run

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
    modules = imports_of_a_run(http_target, tmp_path, seconds=2)
    # A process imports a module once, so a module's count is how many processes did.
    # Every interpreter (the supervisor, each worker, the resource tracker) imports
    # `encodings`; the workers import the engine's worker module, and so does the
    # supervisor, which starts them with it.
    assert modules.count("encodings") >= 1 + WORKERS
    assert modules.count("loadtest_supervisor.engine.worker") == 1 + WORKERS
    imported_by = {name: modules.count(name) for name in SUPERVISOR_ONLY}
    assert imported_by == dict.fromkeys(SUPERVISOR_ONLY, 1)
