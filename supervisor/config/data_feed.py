"""A plan's CSV data (``data: {file, split}``): read within a size bound, parsed into a table.

The header names the columns; each column is a ``${var}`` that every step may use, and
each scenario pass takes the next row (``engine/feeder.py`` decides which rows a worker
takes, and that they go round again at the end). Parsing is strict: a row whose field
count differs from the header's is an error rather than padded, because a shifted column
would send wrong values without anyone noticing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from loadtest_supervisor.config.variables import NODE_VARS, VAR_NAME_ALLOWED, is_var_name

# Standalone: every worker process holds the table, so it must fit in memory many times.
MAX_DATA_BYTES = 16 << 20
# Cluster: the data is committed through Raft with the plan, so every node keeps it in its
# log and snapshots, and a leader sends it to every follower; the same bound as a plan
# given to POST /runs.
MAX_COMMITTED_DATA_BYTES = 1 << 20

SPLITS = ("per-node", "shared")


class DataProblem(ValueError):
    """What is wrong with a data file: the "why; allowed" part of the message."""


@dataclass(frozen=True)
class DataTable:
    """The rows of a data file, each a tuple of strings in the order of ``columns``."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def size_text(limit: int) -> str:
    return f"{limit >> 20} MiB"


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise DataProblem(
            f"larger than the limit of {size_text(limit)}; allowed: a CSV file of at most "
            f"{size_text(limit)}"
        )


def read_data_file(path: str, limit: int = MAX_DATA_BYTES) -> str:
    """The text of a local data file, read no further than ``limit`` bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise DataProblem(
            f"cannot read {path}: {exc.strerror or exc}; allowed: a readable CSV file "
            "(a relative path is relative to the plan file's directory)"
        ) from None
    check_size(len(data), limit)
    return decode_data(data)


def decode_data(data: bytes) -> str:
    try:
        # utf-8-sig: spreadsheets often save a byte-order mark before the header.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataProblem(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); allowed: a UTF-8 CSV file"
        ) from None


def parse_table(text: str) -> DataTable:
    """The table in CSV ``text``: a header naming the columns, then at least one row."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        lines = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise DataProblem(
            f"line {reader.line_num}: not valid CSV ({exc}); allowed: comma-separated fields, "
            'a field with a comma or quote in "double quotes"'
        ) from None
    if not lines:
        raise DataProblem(
            "has no header row; allowed: a CSV file whose first line names its columns, "
            "e.g. user,password"
        )
    columns = tuple(name.strip() for name in lines[0][1])
    _check_columns(columns)
    if len(lines) == 1:
        raise DataProblem("has a header but no rows; allowed: at least one row under the header")
    for line, row in lines[1:]:
        if len(row) != len(columns):
            raise DataProblem(
                f"line {line} has {len(row)} fields, the header {len(columns)}; allowed: one "
                'field per column (a field that holds a comma goes in "double quotes")'
            )
    return DataTable(columns, tuple(tuple(row) for _, row in lines[1:]))


def _check_columns(columns: tuple[str, ...]) -> None:
    first: dict[str, int] = {}
    for number, name in enumerate(columns, 1):
        if not is_var_name(name):
            raise DataProblem(
                f"header column {number} {name!r} is not a variable name; allowed: "
                f"{VAR_NAME_ALLOWED} (each column is a ${{var}} for the steps), e.g. user_id"
            )
        if name in NODE_VARS:
            raise DataProblem(
                f"header column {number} {name!r} is a variable every step has already "
                f"({', '.join(NODE_VARS)}); allowed: another name"
            )
        if name in first:
            raise DataProblem(
                f"header column {number} {name!r} repeats column {first[name]}; allowed: "
                "distinct column names"
            )
        first[name] = number
