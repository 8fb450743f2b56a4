"""The test-only replay of a recorded run (engine/replayed_load.py): the recording's file
form, its errors, and a replayed part's figures on the run's clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from time import monotonic

import pytest

from loadtest_supervisor.config.loading import load_plan_text
from loadtest_supervisor.engine.replayed_load import (
    REPLAY_ENV,
    Recording,
    RecordingError,
    ReplayedLoad,
)
from loadtest_supervisor.engine.runner import LoadRun, RunWindow
from tests.cluster.fleet_recording import RECORDING

PLAN = load_plan_text(
    "target: {url: 'http://127.0.0.1:9/'}\nload: {model: Rps, target_rps: 10, duration: 2s}\n",
    "test",
)


def test_the_committed_recording_reads_back_as_written(tmp_path: Path) -> None:
    recording = Recording.read(RECORDING)
    assert recording.requests_total > 0
    assert [m["at"] for m in recording.snapshots] == sorted(m["at"] for m in recording.snapshots)
    assert all(isinstance(code, int) for m in recording.finals for code in m["total"]["status"])
    copy = tmp_path / "copy.jsonl"
    recording.write(copy)
    assert Recording.read(copy) == recording


@pytest.mark.parametrize("text", [None, "", '{"format": "other"}\n', '{"format": "x"'])
def test_a_file_that_is_no_recording_is_named_with_the_switch(
    tmp_path: Path, text: str | None
) -> None:
    path = tmp_path / "bad.jsonl"
    if text is not None:
        path.write_text(text)
    with pytest.raises(RecordingError) as caught:
        Recording.read(path)
    assert f"{REPLAY_ENV}='{path}': not a recorded run" in str(caught.value)


def test_a_replayed_part_spawns_nothing_and_ends_on_the_recordings_figures() -> None:
    recording = Recording.read(RECORDING)
    load = ReplayedLoad(PLAN, 1, recording=recording)
    assert isinstance(load, LoadRun)

    async def run() -> int:
        await load.prepare()
        start = monotonic() + 0.1
        outcome = await load.run(asyncio.Event(), RunWindow(start, start + 2.0, start))
        assert load._workers == {}  # no worker process
        assert [s.t for s in outcome.seconds] == [0, 1]
        assert sum(s.requests for s in outcome.seconds) == outcome.totals.total().requests
        return outcome.totals.total().requests

    assert asyncio.run(run()) == recording.requests_until[2.0]
