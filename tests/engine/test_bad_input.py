"""Bad input through the real command: exit 2, the key, the value, what is allowed, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.cli import run_cli

BASE = {"TARGET_URL": "http://127.0.0.1:9/", "TEST_DURATION": "1s"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"NUM_CONCURRENT_TASKS": "many"}, ["NUM_CONCURRENT_TASKS", "'many'", "integer"]),
        ({"TEST_DURATION": "ten minutes"}, ["TEST_DURATION", "'ten minutes'", "10m"]),
        ({"LOAD_MODEL_TYPE": "Rsp"}, ["LOAD_MODEL_TYPE", "'Rsp'", "RampRps", "Rps"]),
        ({"LOAD_MODEL_TYPE": "Rps"}, ["TARGET_RPS"]),
        ({"SKIP_TLS_VERIFY": "maybe"}, ["SKIP_TLS_VERIFY", "'maybe'", "true"]),
        ({"CUSTOM_HEADERS": "X-Ok:1,broken"}, ["CUSTOM_HEADERS", "broken"]),
        ({"TARGET_URL": "ftp://x/"}, ["TARGET_URL", "'ftp://x/'", "http"]),
    ],
)
def test_bad_env_var(tmp_path: Path, env: dict[str, str], expected: list[str]) -> None:
    proc, _ = run_cli([], {**BASE, **env}, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2
    for text in expected:
        assert text in proc.stderr


def test_missing_target(tmp_path: Path) -> None:
    env = {"TEST_DURATION": "1s", "TARGET_URL": ""}
    proc, _ = run_cli([], env, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2
    assert "TARGET_URL" in proc.stderr and "target.url" in proc.stderr


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "target: {url: 'http://127.0.0.1:9/'}\nload: {concurrency: [1, 2]}\n",
            ["load.concurrency", "[1, 2]", "integer"],
        ),
        (
            "target: {url: 'http://127.0.0.1:9/'}\nload: {duraton: 5s}\n",
            ["load.duraton", "did you mean 'duration'"],
        ),
        (
            "target: {url: 'http://127.0.0.1:9/'}\nthresholds: ['p99 <<< 3']\n",
            ["thresholds[0]", "p99 <<< 3"],
        ),
        ("target: [unclosed\n", ["line"]),
        ("- just\n- a list\n", ["mapping"]),
    ],
)
def test_bad_yaml(tmp_path: Path, yaml_text: str, expected: list[str]) -> None:
    config = tmp_path / "plan.yaml"
    config.write_text(yaml_text)
    proc, _ = run_cli(
        ["--config", str(config)], {"TEST_DURATION": "1s"}, tmp_path=tmp_path, expect_results=False
    )
    assert proc.returncode == 2
    for text in expected:
        assert text in proc.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc, _ = run_cli(["--config", str(missing)], {}, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2
    assert str(missing) in proc.stderr


def test_bad_flag(tmp_path: Path) -> None:
    proc, _ = run_cli(["--workers", "0"], BASE, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2
    assert "--workers" in proc.stderr and "'0'" in proc.stderr


def test_print_config_masks_secrets(tmp_path: Path) -> None:
    env = {**BASE, "CUSTOM_HEADERS": "Authorization:Bearer s3cr3t-value,X-Team:perf"}
    proc, _ = run_cli(["--print-config"], env, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 0, proc.stderr
    assert "s3cr3t-value" not in proc.stdout
    assert "X-Team" in proc.stdout and "perf" in proc.stdout
    assert "http://127.0.0.1:9/" in proc.stdout


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "1e309"])
def test_a_rate_that_is_no_rate_is_a_named_error(tmp_path: Path, value: str) -> None:
    """A huge rate is accepted (with a warning); one that is not a finite number > 0 is
    an error naming the key, the value and what is allowed, from the environment or YAML."""
    env = {**BASE, "LOAD_MODEL_TYPE": "Rps", "TARGET_RPS": value}
    proc, _ = run_cli([], env, tmp_path=tmp_path, expect_results=False)
    assert proc.returncode == 2
    assert f"TARGET_RPS='{value}': must be a finite number > 0" in proc.stderr

    yaml_value = {"inf": ".inf", "nan": ".nan"}.get(value, value)
    config = tmp_path / "plan.yaml"
    config.write_text(
        "target: {url: 'http://127.0.0.1:9/'}\n"
        f"load: {{model: RampRps, min_rps: 1, max_rps: {yaml_value}, ramp_duration: 1s}}\n"
    )
    proc, _ = run_cli(
        ["--config", str(config)], {"TEST_DURATION": "4s"}, tmp_path=tmp_path, expect_results=False
    )
    assert proc.returncode == 2
    assert "load.max_rps=" in proc.stderr and "must be a finite number > 0" in proc.stderr
