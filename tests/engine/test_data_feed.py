"""A plan's CSV data through the real command: rows go into the requests nginx logs, each
worker keeps to its own rows and goes round them again, and a bad file exits 2."""

from __future__ import annotations

from pathlib import Path

from tests.engine.cli import run_cli
from tests.services import Nginx

ROWS = 10


def _plan(tmp_path: Path, url: str, split: str, rate: int, seconds: int) -> str:
    (tmp_path / "data").mkdir(exist_ok=True)
    users = "\n".join(f"u{i},secret{i}" for i in range(ROWS))
    (tmp_path / "data" / "users.csv").write_text(f"user,password\n{users}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"target: {{url: '{url}'}}\n"
        f"load: {{model: Rps, target_rps: {rate}, duration: {seconds}s}}\n"
        f"data: {{file: data/users.csv, split: {split}}}\n"
        "scenarios:\n"
        "  - name: login\n"
        "    steps:\n"
        "      - path: /data/${node_index}/${node_count}/${user}\n"
        "        query: {p: '${password}'}\n"
    )
    return str(plan)


def _users(nginx: Nginx) -> list[str]:
    """The user of each request nginx logged: /data/0/1/u3?p=secret3 -> u3 (checked)."""
    users = []
    for uri in (hit.path for hit in nginx.hits()):
        if uri.startswith("/data/"):
            path, _, query = uri.partition("?")
            _, _, node_index, node_count, user = path.split("/")
            assert (node_index, node_count) == ("0", "1"), uri  # standalone: 0 of 1
            assert query == f"p=secret{user[1:]}", uri  # the row's own password
            users.append(user)
    return users


def test_rows_go_round_per_worker(logged_nginx: Nginx, tmp_path: Path) -> None:
    # Two workers, per-node: worker 0 takes u0..u4, worker 1 u5..u9, each in order and
    # round again: about 100 passes a worker (50/s each), 20 a row.
    config = _plan(tmp_path, logged_nginx.url, "per-node", 100, 2)
    proc, results = run_cli(["--config", config, "--workers", "2"], tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    users = _users(logged_nginx)
    assert len(users) == results["requests_total"] >= 150  # a busy machine sends fewer
    for block in ([f"u{i}" for i in range(5)], [f"u{i}" for i in range(5, 10)]):
        mine = [user for user in users if user in block]
        assert mine == (block * 30)[: len(mine)]  # from its first row, in order, round again
        assert len(mine) >= 3 * len(block)  # round its rows at least three times


def test_shared_rows_start_apart(logged_nginx: Nginx, tmp_path: Path) -> None:
    # Shared: both workers go through all ten rows, worker 0 from u0 and worker 1 from u5,
    # so the first ten passes (5/s each) use each row once.
    config = _plan(tmp_path, logged_nginx.url, "shared", 10, 1)
    proc, results = run_cli(["--config", config, "--workers", "2"], tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    users = _users(logged_nginx)
    assert len(users) == results["requests_total"] >= 5
    assert len(set(users)) == len(users), users


def test_a_step_using_a_column_the_file_lacks_exits_2(tmp_path: Path) -> None:
    config = _plan(tmp_path, "http://127.0.0.1:9/", "per-node", 10, 1)
    Path(config).write_text(Path(config).read_text().replace("${password}", "${pasword}"))
    proc, _ = run_cli(["--config", config], tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2, proc.stderr
    assert "${pasword}" in proc.stderr and "the columns of data/users.csv (user, password)" in (
        proc.stderr
    )


def test_a_worker_with_no_row_of_its_own_sits_out(logged_nginx: Nginx, tmp_path: Path) -> None:
    # One row for two workers: worker 1 sends nothing, worker 0 its half of the rate.
    config = _plan(tmp_path, logged_nginx.url, "per-node", 20, 1)
    (tmp_path / "data" / "users.csv").write_text("user,password\nu0,secret0\n")
    proc, results = run_cli(["--config", config, "--workers", "2"], tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "event=data_workers_idle idle=1" in proc.stderr
    users = _users(logged_nginx)
    assert set(users) == {"u0"} and len(users) == results["requests_total"] <= 10
    # Sitting out is not falling behind: its part of the rate owes nothing.
    assert results["dropped_iterations"] == 0, results["dropped_by_cause"]
