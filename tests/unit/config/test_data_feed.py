"""A plan's CSV data: what is read, and every way a data file or its use is refused
(the key, the value, what is allowed), standalone and as a cluster leader reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest_supervisor.config.data_feed import MAX_DATA_BYTES
from loadtest_supervisor.config.errors import ConfigError
from loadtest_supervisor.config.loading import load_plan_text, plan_data_file
from tests.unit.config.loading import config, load, problems

STEP = "scenarios: [{name: s, steps: [{path: '/u/${user}', query: {n: '${node_index}'}}]}]\n"


def plan(data: str = "{file: users.csv, split: per-node}", steps: str = STEP) -> str:
    return config(f"target: {{url: 'http://h/'}}\ndata: {data}\n{steps}")


def test_the_table_comes_with_the_plan(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "users.csv").write_text('\ufeffuser, pass\na,"x,y"\n\nb,z\n')
    path = config(
        "target: {url: 'http://h/'}\ndata: {file: users.csv, split: Shared}\n" + STEP,
        "sub/test.yaml",
    )
    data = load(path).plan.data
    assert data is not None and data.split == "shared" and data.file == "users.csv"
    # The byte-order mark and blanks around names go; values stay as written.
    assert data.table.columns == ("user", "pass")
    assert data.table.rows == (("a", "x,y"), ("b", "z"))


@pytest.mark.parametrize(
    ("csv", "allowed"),
    [
        ("", "has no header row; allowed: a CSV file whose first line names its columns, "
         "e.g. user,password"),
        ("user\n", "has a header but no rows; allowed: at least one row under the header"),
        ("user,first name\na,b\n", "header column 2 'first name' is not a variable name; "
         "allowed: letters, digits and _ (each column is a ${var} for the steps), e.g. user_id"),
        ("user,user\na,b\n", "header column 2 'user' repeats column 1; allowed: distinct "
         "column names"),
        ("user,node_index\na,0\n", "header column 2 'node_index' is a variable every step has "
         "already (node_index, node_count); allowed: another name"),
        ("user,pass\na,b\nc\n", "line 3 has 1 fields, the header 2; allowed: one field per "
         'column (a field that holds a comma goes in "double quotes")'),
        ('user\n"a\n', "line 2: not valid CSV (unexpected end of data); allowed: "
         'comma-separated fields, a field with a comma or quote in "double quotes"'),
    ],
)  # fmt: skip
def test_bad_csv(csv: str, allowed: str) -> None:
    Path("users.csv").write_text(csv)
    assert problems(plan()) == [f"test.yaml: data.file='users.csv': {allowed}"]


def test_missing_not_utf8_and_too_large_files() -> None:
    assert problems(plan()) == [
        "test.yaml: data.file='users.csv': cannot read users.csv: No such file or directory; "
        "allowed: a readable CSV file (a relative path is relative to the plan file's directory)"
    ]
    Path("users.csv").write_bytes(b"user\n\xff\n")
    assert problems(plan())[0].endswith(
        "not UTF-8 text (invalid start byte at byte 5); allowed: a UTF-8 CSV file"
    )
    with open("users.csv", "wb") as f:
        f.write(b"user\n")
        f.truncate(MAX_DATA_BYTES + 1)  # sparse: a big file that takes no disk
    assert problems(plan()) == [
        "test.yaml: data.file='users.csv': larger than the limit of 16 MiB; allowed: a CSV "
        "file of at most 16 MiB"
    ]


def test_bad_data_keys() -> None:
    Path("users.csv").write_text("user\na\n")
    assert problems(plan("{file: users.csv, split: everywhere, rows: 3}")) == [
        "test.yaml: unknown key 'data.rows'; allowed keys in data: file, split",
        "test.yaml: data.split='everywhere': allowed: per-node, shared",
    ]
    assert problems(plan("{file: users.csv}")) == [
        "data.split: required; allowed: per-node (each node and worker rows of its own) or "
        "shared (every worker all the rows)"
    ]


def test_columns_and_variables_used_by_steps() -> None:
    Path("users.csv").write_text("user,pass\na,b\n")
    steps = (
        "scenarios: [{name: s, steps: [\n"
        "  {name: one, path: '/${usr}/${node_count}', extract: {pass: {header: X-P}}},\n"
        "  {name: two, path: '/${token}', extract: {node_index: {header: X-N}}}]}]\n"
    )
    assert problems(plan(steps=steps)) == [
        "test.yaml: scenarios[0].steps[0].extract.pass: 'pass' is a column of users.csv, and "
        "extracting it would hide that; allowed: a name other than node_index, node_count, "
        "the columns of users.csv (user, pass)",
        "test.yaml: scenarios[0].steps[1].extract.node_index: 'node_index' is given to every "
        "step, and extracting it would hide that; allowed: a name other than node_index, "
        "node_count, the columns of users.csv (user, pass)",
        "test.yaml: scenarios[0].steps[0].path='/${usr}/${node_count}': ${usr} in step 'one' "
        "of scenario 's' is not a column of users.csv nor extracted by an earlier step; "
        "allowed: node_index, node_count, the columns of users.csv (user, pass), variables "
        "extracted by earlier steps (none yet)",
        "test.yaml: scenarios[0].steps[1].path='/${token}': ${token} in step 'two' of "
        "scenario 's' is not a column of users.csv nor extracted by an earlier step; allowed: "
        "node_index, node_count, the columns of users.csv (user, pass), variables extracted by "
        "earlier steps (pass)",
    ]


def test_an_unreadable_file_blames_no_step_for_its_columns() -> None:
    assert len(problems(plan())) == 1  # the missing file; not also ${user}


def test_node_variables_need_no_data() -> None:
    path = config("target: {url: 'http://h/'}\n" + STEP.replace("${user}", "${node_count}"))
    assert load(path).plan.data is None


# --- as a cluster leader reads it ---------------------------------------------------------------

PLAN = "target: {url: 'http://h/'}\ndata: {file: users.csv, split: per-node}\n" + STEP


def test_a_committed_plan_gets_its_data_as_text() -> None:
    assert plan_data_file(PLAN, "consul-kv lt/plan.yaml") == "users.csv"
    data = load_plan_text(PLAN, "consul-kv lt/plan.yaml", data="user\na\nb\n").data
    assert data is not None and data.table.rows == (("a",), ("b",))
    assert plan_data_file("target: {url: 'http://h/'}\n", "x") is None


def test_a_committed_plan_without_its_data_or_with_too_much() -> None:
    with pytest.raises(ConfigError) as info:
        load_plan_text(PLAN, "gcs gs://b/plan.yaml")
    assert str(info.value) == (
        "gcs gs://b/plan.yaml: data.file='users.csv': no data came with this plan; allowed: "
        "in cluster mode, a file, key or object of that name beside the plan in the leader's "
        "config source"
    )
    with pytest.raises(ConfigError) as info:
        load_plan_text(PLAN, "gcs gs://b/plan.yaml", data="user\n" + "a\n" * (1 << 19) + "b\n")
    assert str(info.value).endswith(
        "data.file='users.csv': larger than the limit of 1 MiB; allowed: a CSV file of at most "
        "1 MiB"
    )


@pytest.mark.parametrize("name", ["/etc/users.csv", "../users.csv", "data/../../users.csv"])
def test_a_cluster_data_file_stays_beside_the_plan(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_data_file(PLAN.replace("users.csv", name), "file plan.yaml")
    assert str(info.value) == (
        f"file plan.yaml: data.file={name!r}: in cluster mode the data file is read beside the "
        "plan; allowed: a relative name without '..', e.g. users.csv or data/users.csv"
    )
