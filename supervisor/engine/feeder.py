"""Which rows of a plan's data each worker takes, and the variables of each scenario pass.

``per-node``: node ``i`` of ``N`` takes the contiguous block ``[n*i//N, n*(i+1)//N)`` of
the ``n`` rows, and worker ``w`` of its ``W`` the same way a block of that, so no row is
used by two nodes or two workers and together they cover the file. ``shared``: every
worker goes through all the rows, starting at row ``n*(i*W+w)//(N*W)`` so that the
workers do not all send row 0 first. Either way a worker goes round its rows again when
it reaches the end of them (JMeter's CSV Data Set and k6's examples recycle too), and a
worker whose block is empty (fewer rows than nodes x workers) sits out the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadtest_supervisor.config.data_feed import DataTable
from loadtest_supervisor.config.models import DataSettings


@dataclass(frozen=True)
class NodePlace:
    """A node's place in a run: ``index`` of ``count`` (standalone: 0 of 1)."""

    index: int = 0
    count: int = 1


STANDALONE = NodePlace()


@dataclass(frozen=True)
class WorkerRows:
    """A worker's rows: ``rows[start:stop]``, the first pass beginning at ``first``."""

    start: int
    stop: int
    first: int

    def __len__(self) -> int:
        return self.stop - self.start


def _block(start: int, stop: int, part: int, parts: int) -> tuple[int, int]:
    size = stop - start
    return start + size * part // parts, start + size * (part + 1) // parts


def worker_rows(rows: int, split: str, node: NodePlace, worker: int, workers: int) -> WorkerRows:
    """The rows worker ``worker`` of ``workers`` on ``node`` takes, of ``rows`` in all."""
    if split == "shared":
        first = rows * (node.index * workers + worker) // (node.count * workers)
        return WorkerRows(0, rows, first)
    start, stop = _block(*_block(0, rows, node.index, node.count), worker, workers)
    return WorkerRows(start, stop, start)


@dataclass(frozen=True)
class FeedPlace:
    """Where a worker stands in a run: what it needs to find its rows and node variables."""

    node: NodePlace
    worker: int
    workers: int


class Feed:
    """The variables each scenario pass of one worker starts with: the node's place and,
    with data, the next of the worker's rows (going round at the end)."""

    def __init__(self, data: DataSettings | None, place: FeedPlace) -> None:
        self._node_vars = {"node_index": str(place.node.index), "node_count": str(place.node.count)}
        self._table: DataTable | None = None
        if data is not None:
            self._table = data.table
            self._rows = worker_rows(
                len(data.table.rows), data.split, place.node, place.worker, place.workers
            )
            self._next = self._rows.first

    @property
    def sits_out(self) -> bool:
        """The plan has data and this worker got no row of it."""
        return self._table is not None and not len(self._rows)

    def next_variables(self) -> dict[str, str]:
        variables = dict(self._node_vars)
        table = self._table
        if table is not None:
            variables.update(zip(table.columns, table.rows[self._next], strict=True))
            self._next += 1
            if self._next == self._rows.stop:
                self._next = self._rows.start
        return variables


IDLE_WHY = "fewer data rows than nodes x workers: a worker with no row of its own sits out"


def idle_workers(data: DataSettings | None, node: NodePlace, workers: int) -> int:
    """How many of the node's workers get no row of the plan's data, and sit out."""
    if data is None:
        return 0
    rows = len(data.table.rows)
    return sum(not len(worker_rows(rows, data.split, node, w, workers)) for w in range(workers))
