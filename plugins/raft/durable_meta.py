"""Term and vote that survive a power loss, not only a process crash.

pysyncobj's ``FileJournal`` stores ``currentTerm`` and ``votedForNodeId`` in
``raft.journal.meta`` before any vote or vote request is sent (it writes a temporary
file and renames it over the old one), but never fsyncs: after a power loss the
rename may be on disk while the new file's bytes are not, and an empty meta file reads
as term 0, no vote. A node could then vote a second time in a term it already voted in.

``DurableMetaStorer`` writes the same file the same way, with the fsyncs Raft needs:
the temporary file's data before the rename (so the name never points at unwritten
bytes), then the directory (so the rename itself is on disk). It returns only then,
and pysyncobj answers the vote only after it returns.
"""

from __future__ import annotations

import os
from pathlib import Path
from time import perf_counter
from typing import Any

from pysyncobj.journal import FileJournal, MetaStorer
from pysyncobj.pickle import dumps

# pysyncobj 0.3.17 (pinned) keeps the journal's storer in a private attribute.
_STORER = "_FileJournal__metaStorer"


class DurableMetaStorer(MetaStorer):
    """pysyncobj's ``MetaStorer`` (same file, same format) with fsync of the file and
    of its directory before ``storeMeta`` returns."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.last_store_s = 0.0  # how long the last store took, fsyncs included

    def storeMeta(self, meta: dict[str, Any]) -> None:  # noqa: N802 (pysyncobj's API)
        began = perf_counter()
        path = self.getPath()
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(Path(path).parent)
        self.last_store_s = perf_counter() - began


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_durable(journal: object) -> DurableMetaStorer | None:
    """Swap a ``FileJournal``'s meta storer for a durable one (idempotent); None for a
    journal kept in memory, which has nothing to make durable."""
    if not isinstance(journal, FileJournal):
        return None
    storer = getattr(journal, _STORER)
    if not isinstance(storer, DurableMetaStorer):
        storer = DurableMetaStorer(storer.getPath())
        setattr(journal, _STORER, storer)
    return storer
