"""Which rows each worker of each node takes, and the variables of each pass."""

from __future__ import annotations

import pytest

from loadtest_supervisor.config.data_feed import DataTable
from loadtest_supervisor.config.models import DataSettings
from loadtest_supervisor.engine.feeder import (
    Feed,
    FeedPlace,
    NodePlace,
    idle_workers,
    worker_rows,
)


def _rows_of(rows: int, split: str, node: NodePlace, worker: int, workers: int) -> list[int]:
    part = worker_rows(rows, split, node, worker, workers)
    return list(range(part.start, part.stop))


@pytest.mark.parametrize("rows", [1, 5, 12, 100, 1001])
@pytest.mark.parametrize(("nodes", "workers"), [(1, 1), (3, 1), (3, 4), (5, 2)])
def test_per_node_rows_are_disjoint_and_cover_the_file(rows: int, nodes: int, workers: int) -> None:
    taken = [
        _rows_of(rows, "per-node", NodePlace(i, nodes), w, workers)
        for i in range(nodes)
        for w in range(workers)
    ]
    flat = [row for part in taken for row in part]
    assert sorted(flat) == list(range(rows))  # disjoint, and together the whole file
    sizes = [len(part) for part in taken]
    if rows >= nodes * workers:
        assert max(sizes) - min(sizes) <= 2 and min(sizes) >= 1  # near-even, nobody idle


def test_per_node_blocks_follow_node_then_worker() -> None:
    # 12 rows, 3 nodes x 2 workers: node 1 takes rows 4..7, its worker 1 rows 6..7.
    assert _rows_of(12, "per-node", NodePlace(1, 3), 1, 2) == [6, 7]
    assert worker_rows(12, "per-node", NodePlace(1, 3), 1, 2).first == 6


def test_shared_rows_are_all_rows_started_apart() -> None:
    firsts = [
        worker_rows(12, "shared", NodePlace(i, 3), w, 2).first for i in range(3) for w in range(2)
    ]
    assert firsts == [0, 2, 4, 6, 8, 10]
    assert _rows_of(12, "shared", NodePlace(2, 3), 1, 2) == list(range(12))


def test_fewer_rows_than_workers_leave_some_idle() -> None:
    data = DataSettings(file="u.csv", split="per-node").with_table(
        DataTable(("user",), (("a",), ("b",)))
    )
    assert idle_workers(data, NodePlace(0, 2), 2) == 1  # 2 rows for 4 workers
    assert Feed(data, FeedPlace(NodePlace(0, 2), 0, 2)).sits_out
    assert not Feed(data, FeedPlace(NodePlace(0, 2), 1, 2)).sits_out
    shared = DataSettings(file="u.csv", split="shared").with_table(data.table)
    assert idle_workers(shared, NodePlace(0, 2), 2) == 0  # shared rows: everyone has them
    assert idle_workers(None, NodePlace(0, 2), 2) == 0


def test_each_pass_takes_the_next_row_and_goes_round() -> None:
    table = DataTable(("user", "pass"), tuple((f"u{i}", f"p{i}") for i in range(6)))
    data = DataSettings(file="u.csv", split="per-node").with_table(table)
    feed = Feed(data, FeedPlace(NodePlace(1, 2), 0, 1))  # rows 3..5
    users = [feed.next_variables() for _ in range(4)]
    assert [v["user"] for v in users] == ["u3", "u4", "u5", "u3"]
    assert users[1] == {"node_index": "1", "node_count": "2", "user": "u4", "pass": "p4"}
    assert Feed(None, FeedPlace(NodePlace(), 0, 1)).next_variables() == {
        "node_index": "0",
        "node_count": "1",
    }
