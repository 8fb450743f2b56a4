"""Each benchmark owns one marked section of bench/RESULTS.md and rewrites only that."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, begin: str, end: str, section: str, header: str = "") -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of
    the file's current one, or append it; every other section stays byte-identical."""
    text = path.read_text() if path.exists() else header
    section = section.rstrip("\n")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section + "\n"
    path.write_text(text)
