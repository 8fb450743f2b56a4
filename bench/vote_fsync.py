"""What a durable vote costs: one store of term and vote, with and without the fsyncs.

A Raft vote (granted, or cast for itself by a candidate) is one write of pysyncobj's
``raft.journal.meta`` before the answer goes out, on the Raft tick thread. This times
that write as pysyncobj does it (temporary file, rename; no fsync) and as the raft
plugin does it (``DurableMetaStorer``: fsync of the file, rename, fsync of the
directory), alternating the two so both see the same disk, in a directory on the
filesystem the nodes' data dirs are on (``--dir``; default: a temporary directory).

    .venv/bin/python -m bench.vote_fsync                    # 500 stores each
    .venv/bin/python -m bench.vote_fsync --stores 2000 --dir /var/lib/loadtest --no-write

Writes its section of bench/RESULTS.md (between the vote-fsync markers) unless --no-write.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.results_md import replace_section

# Through our raft package: it puts back the socket.inet_ntop that importing pysyncobj
# replaces process-wide (pysyncobj/win_inet_pton.py), which broke psutil in later tests.
from loadtest_supervisor.plugins.raft.durable_meta import DurableMetaStorer, MetaStorer

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN vote-fsync -->", "<!-- END vote-fsync -->"


def time_stores(storer: MetaStorer, term: int) -> float:
    meta = {"currentTerm": term, "votedForNodeId": "127.0.0.11:7000", "raftCommitIndex": term}
    began = time.perf_counter()
    storer.storeMeta(meta)
    return time.perf_counter() - began


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "median": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max": ms[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500, help="stores of each kind")
    parser.add_argument("--dir", type=Path, help="where to write (the data dirs' filesystem)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.dir) as where:
        plain = MetaStorer(str(Path(where) / "plain.meta"))
        durable = DurableMetaStorer(str(Path(where) / "durable.meta"))
        samples: dict[str, list[float]] = {"pysyncobj (no fsync)": [], "durable (fsync)": []}
        for term in range(args.stores):
            samples["pysyncobj (no fsync)"].append(time_stores(plain, term))
            samples["durable (fsync)"].append(time_stores(durable, term))
        fs = _filesystem(Path(where))

    rows = {name: summary(values) for name, values in samples.items()}
    extra = rows["durable (fsync)"]["median"] - rows["pysyncobj (no fsync)"]["median"]
    command = "python -m bench.vote_fsync " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        BEGIN,
        "## Durable term and vote (bench/vote_fsync.py)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"Linux {platform.release()}; filesystem: {fs}",
        f"- Command: `.venv/bin/{command.strip()}`",
        "- One store of term and vote (`raft.journal.meta`) is what a vote waits for before "
        "its answer is sent, on the Raft tick thread. Alternating stores, "
        f"{args.stores} of each.",
        "",
        "| store | median ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {r['median']:.3f} | {r['p99']:.3f} | {r['max']:.3f} |"
            for name, r in rows.items()
        ),
        "",
        f"Cost of durability per vote: +{extra:.3f} ms median."
        " An election waits for two such stores in turn (the candidate's vote for itself"
        " before it asks, each voter's before it answers), not one per heartbeat; the"
        " commit index, stored once a second at most, pays it too.",
        END,
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        replace_section(RESULTS, BEGIN, END, section)
    return 0


def _filesystem(path: Path) -> str:
    """The type and device of the filesystem ``path`` is on, from /proc/mounts."""
    best = ("?", "?", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        if str(path).startswith(mount) and len(mount) >= len(best[2]):
            best = (kind, device, mount)
    return f"{best[0]} on {best[1]}"


if __name__ == "__main__":
    raise SystemExit(main())
