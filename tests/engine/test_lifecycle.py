"""A run survives a dead worker, and stops cleanly on Ctrl-C or SIGTERM with its summary."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.engine.cli import start_cli
from tests.support import wait_for, worker_pids


def test_killed_worker_is_restarted_and_its_counts_kept(http_target, tmp_path) -> None:
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": "400",
        "NUM_CONCURRENT_TASKS": "8",
        "TEST_DURATION": "5s",
    }
    with start_cli(["--workers", "2"], env, tmp_path=tmp_path) as cli:
        workers = wait_for(
            lambda: len(worker_pids(cli.pid)) == 2 and worker_pids(cli.pid),
            timeout=20,
            what="two workers",
        )
        time.sleep(2.0)  # let the victim count ~1.5 s of requests first
        os.kill(workers[0], signal.SIGKILL)
        replaced = wait_for(
            lambda: workers[0] not in (pids := worker_pids(cli.pid)) and len(pids) == 2 and pids,
            timeout=20,
            what="a replacement worker",
        )
        assert workers[1] in replaced
        proc, results = cli.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert results["worker_restarts"] == 1
    assert "event=worker_died" in proc.stderr and "event=worker_restarted" in proc.stderr
    # The dead worker's counts up to its last snapshot are kept, and its
    # replacement sends the arrivals it owes since the death, late. Only what the
    # victim counted after its last snapshot (up to 1 s of its 200/s) is lost.
    assert 400 * 5 - 400 * 0.5 - 40 <= results["requests_total"] <= 400 * 5 + 20
    assert results["errors_total"] == 0


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_signal_stops_cleanly_with_summary(http_target, tmp_path, sig, group) -> None:
    env = {
        "TARGET_URL": http_target.url + "/",
        "LOAD_MODEL_TYPE": "Rps",
        "TARGET_RPS": "300",
        "NUM_CONCURRENT_TASKS": "4",
        "TEST_DURATION": "60s",
    }
    with start_cli(["--workers", "2"], env, tmp_path=tmp_path) as cli:
        wait_for(lambda: "event=run_started" in cli.stderr_text(), timeout=20, what="run start")
        time.sleep(2.0)
        # SIGINT to the whole group is what a terminal's Ctrl-C does.
        cli.send_signal(sig, group=group)
        started = time.monotonic()
        proc, results = cli.wait(timeout=20)
        assert time.monotonic() - started < 6
    assert proc.returncode == 130
    assert results["interrupted"] is True
    assert 1.5 < results["duration_s"] < 4
    assert results["requests_total"] == pytest.approx(300 * results["duration_s"], rel=0.1)
    assert results["errors_total"] == 0
    assert "requests in" in proc.stdout  # the summary's headline
    assert not worker_pids(cli.pid)
