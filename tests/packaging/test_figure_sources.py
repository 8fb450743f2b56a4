"""Every measured figure the docs publish names where it comes from (issue 15, part 6).

The rule, per block of Markdown (a paragraph, one list item with its continuation lines
but not its sub-items, a whole table, a heading; fenced code is skipped):

- a *figure* is a number with a unit: µs, ms, s, min, %, req/s, KB/s, B/s or ×
  (``0.55 s``, ``~92 µs``, ``0.38–1.18 s``, ``1.32×``);
- a block *reports a measurement* when it holds a figure and a measurement cue: the
  words measured, median, mean, took, "per request", µs/request, "over N
  runs / kills / pairs / rounds / reps", a percentile followed by a number (``p99 4 ms``),
  or a figure in µs, req/s, KB/s, B/s or ×;
- figures and cues inside inline code (```p99 < 200ms```, ```CLUSTER_…=1s```) are
  examples and settings, not published figures, and are not read;
- such a block must name its source: either ``reference:`` (a figure from elsewhere,
  with that source after the marker), or a command in the repo (a path under
  ``bench/``, ``scripts/`` or ``tests/``, a ``bench.<module>``, or a backticked command
  line running ``loadtest-supervisor``) together with where its date and machine are (a
  date written YYYY-MM-DD in the block, or ``RESULTS.md``, whose every section carries
  them: the second test holds RESULTS.md to that).

Settings and goals ("default 5s", "≤ 1 s") carry no measurement word and pass as they
are. A new figure that was measured but not sourced fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED_DOCS = ("README.md", "docs/design.md", "docs/operations.md")

_NUMBER = r"[~≈±+−-]?\d[\d,]*(?:\.\d+)?(?:\s?[–-]\s?\d[\d,]*(?:\.\d+)?)?"
FIGURE = re.compile(rf"(?<![\w.]){_NUMBER}\s?(?:µs|ms|min|s|%|req/s|KB/s|B/s|×)(?![\w/])")
MEASUREMENT = re.compile(
    rf"\bmeasured\b|\bmedian\b|\bmean\b|\btook\b|\bper request\b|µs/request"
    rf"|\bover \d+ (?:runs|kills|pairs|rounds|reps)\b"
    rf"|\bp\d+(?:\.\d+)?\s+(?:of\s+)?{_NUMBER}"
    rf"|{_NUMBER}\s?(?:µs|req/s|KB/s|B/s|×)(?![\w/])",
    re.IGNORECASE,
)
INLINE_CODE = re.compile(r"`[^`\n]*`")
REFERENCE = re.compile(r"\breference:", re.IGNORECASE)
COMMAND = re.compile(
    r"(?<![\w/])(?:bench|scripts|tests)/[\w./-]+|\bbench\.\w+|`[^`]*\bloadtest-supervisor\b[^`]*`"
)
WHEN_AND_WHERE = re.compile(r"\b20\d\d-\d\d-\d\d\b|RESULTS\.md")
LIST_ITEM = re.compile(r"^(\s*)(?:[-*]|\d+\.)\s")


def blocks(text: str) -> list[tuple[int, str]]:
    """The Markdown's blocks as (first line number, text), fenced code left out."""
    found: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    kind = ""
    indent = 0
    fenced = False

    def flush() -> None:
        if current:
            found.append((start, "\n".join(current)))
        current.clear()

    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            flush()
            fenced = not fenced
            kind = ""
            continue
        if fenced:
            continue
        if not line.strip():
            flush()
            kind = ""
            continue
        item = LIST_ITEM.match(line)
        table = line.lstrip().startswith("|")
        continues = (
            (kind == "table" and table)
            or (kind == "item" and not item and len(line) - len(line.lstrip()) > indent)
            or (kind == "paragraph" and not item and not table and not line.startswith("#"))
        )
        if not continues:
            flush()
            start = number
            if line.startswith("#"):
                kind = "heading"
            elif table:
                kind = "table"
            elif item:
                kind, indent = "item", len(item.group(1))
            else:
                kind = "paragraph"
        current.append(line)
    flush()
    return found


def unsourced(text: str) -> list[tuple[int, list[str]]]:
    """Blocks that report a measurement without naming its source: (line, figures)."""
    bad = []
    for line, block in blocks(text):
        prose = INLINE_CODE.sub("", block)
        figures = [m.group(0) for m in FIGURE.finditer(prose)]
        if not figures or not MEASUREMENT.search(prose) or REFERENCE.search(block):
            continue
        if COMMAND.search(block) and WHEN_AND_WHERE.search(block):
            continue
        bad.append((line, figures))
    return bad


@pytest.mark.parametrize("doc", CHECKED_DOCS)
def test_every_measured_figure_names_its_source(doc: str) -> None:
    assert unsourced((ROOT / doc).read_text(encoding="utf-8")) == []


def test_every_results_section_names_command_date_and_machine() -> None:
    text = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    sections = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    missing = []
    for section in sections:
        if not section.startswith("## ") or REFERENCE.search(section):
            continue
        title = section.splitlines()[0]
        has = {
            "command": bool(COMMAND.search(section)),
            "date": bool(re.search(r"\b20\d\d-\d\d-\d\d\b", section)),
            "machine": bool(re.search(r"machine|\bcores?\b", section, re.IGNORECASE)),
        }
        if not all(has.values()):
            missing.append((title, [k for k, v in has.items() if not v]))
    assert missing == []


# The generated sections of RESULTS.md hold only what a run measured or was set to.

GOAL = re.compile(r"[≤≥<>][^|]*$")  # a comparison earlier in the same table cell or text


def _builds_section(function: ast.FunctionDef) -> bool:
    """Whether the function writes ``BEGIN`` into text (not merely passes it on, as the
    call that replaces the section in RESULTS.md does)."""
    passed = {
        id(arg) for node in ast.walk(function) if isinstance(node, ast.Call) for arg in node.args
    }
    return any(
        isinstance(n, ast.Name) and n.id == "BEGIN" and id(n) not in passed
        for n in ast.walk(function)
    )


def _section_builders(tree: ast.Module) -> list[ast.FunctionDef]:
    """The module's functions that build its RESULTS.md section, and the module's
    functions those call, transitively."""
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    names = {name for name, f in functions.items() if _builds_section(f)}
    todo = list(names)
    while todo:
        for node in ast.walk(functions[todo.pop()]):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in functions and node.func.id not in names:
                    names.add(node.func.id)
                    todo.append(node.func.id)
    return [functions[name] for name in sorted(names)]


def fixed_figures(source: str) -> list[tuple[int, str]]:
    """Figures written as literal text into a generated section: (line, figure). A figure
    there must be formatted from a value the run measured or a constant it ran with;
    only a goal or threshold (after ≤, ≥, < or >) may be literal."""
    tree = ast.parse(source)
    found = []
    for function in _section_builders(tree):
        docstring = ast.get_docstring(function, clean=False)
        for node in ast.walk(function):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if node.value == docstring:
                continue
            for match in FIGURE.finditer(node.value):
                if not GOAL.search(node.value[: match.start()]):
                    found.append((node.lineno, match.group(0)))
    return found


def _section_generators() -> list[Path]:
    return sorted(
        p for p in (ROOT / "bench").rglob("*.py") if re.search(r"^BEGIN\b", p.read_text(), re.M)
    )


def test_the_benchmarks_that_write_results_md_are_found() -> None:
    names = {p.name for p in _section_generators()}
    assert {"failover.py", "consul_failover.py", "report.py", "vote_fsync.py"} <= names


@pytest.mark.parametrize("path", _section_generators(), ids=lambda p: p.name)
def test_generated_sections_hold_no_fixed_figure(path: Path) -> None:
    assert fixed_figures(path.read_text(encoding="utf-8")) == []


def test_a_fixed_figure_in_a_generator_fails_and_a_formatted_one_passes() -> None:
    source = (
        "BEGIN = '<!-- BEGIN x -->'\n"
        "def note(p99):\n"
        "    return f'two workers: p99 {p99:.1f} ms against 1 ms'\n"
        "def render(p99):\n"
        "    return BEGIN + note(p99) + ' | goal p99 ≤ 20 ms |'\n"
    )
    assert fixed_figures(source) == [(3, "1 ms")]


# The checker itself, on small texts.

SOURCED = "Failover took 0.50 s median over 20 kills (`bench/failover.py`, bench/RESULTS.md)."


def test_an_unsourced_measured_figure_fails() -> None:
    text = "Intro.\n\nFailover measured 0.50 s median on loopback.\n"
    assert unsourced(text) == [(3, ["0.50 s"])]


def test_a_command_with_its_date_or_results_sources_a_figure() -> None:
    assert unsourced(SOURCED) == []
    dated = "- 16,006 req/s measured (2026-11-29, `TARGET_RPS=1e9 loadtest-supervisor`)\n"
    assert unsourced(dated) == []
    assert unsourced("16,006 req/s measured by `bench/http_throughput.py`.") != []


def test_a_reference_marker_sources_a_figure() -> None:
    assert unsourced("Locust used 398 µs per request (reference: locust #1161).") == []


def test_settings_and_goals_need_no_source() -> None:
    assert unsourced("The check runs every 5 s, times out after 2 s; goal ≤ 1 s.") == []


def test_a_source_counts_only_in_its_own_block() -> None:
    text = f"{SOURCED}\n\n| measure | median |\n| --- | ---: |\n| failover | 0.51 s |\n"
    assert unsourced(text) == [(3, ["0.51 s"])]


def test_a_list_item_ends_where_its_sub_item_begins() -> None:
    text = "- Raft failover median 0.5 s\n  - `bench/failover.py`, RESULTS.md\n"
    assert unsourced(text) == [(1, ["0.5 s"])]
    text = "- Raft failover median 0.5 s\n  (`bench/failover.py`, RESULTS.md)\n"
    assert unsourced(text) == []


def test_fenced_code_is_not_read() -> None:
    assert unsourced("```\nmeasured median 0.5 s\n```\n") == []
