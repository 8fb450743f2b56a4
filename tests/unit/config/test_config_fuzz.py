"""Fuzzing the configuration (issue 14): Hypothesis-made YAML plans, bytes and
environment values go through the CLI's own entry point (``cli.run`` with
``--print-config``, so a valid one prints instead of running). Each ends in exit 0 or
in exit 2 with a named configuration error: never a traceback, never a hang. A sample
of hostile files runs through the real command as a subprocess, its memory measured.

Longer runs: ``FUZZ_EXAMPLES=5000``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from loadtest_supervisor.cli import build_parser, run
from loadtest_supervisor.config.environment import NODE_ENV, PLAN_ENV
from loadtest_supervisor.config.yaml_io import MAX_DEPTH, MAX_FILE_CHARS, MAX_NODES
from loadtest_supervisor.exit_codes import ExitCode
from tests.engine.cli import cli_path
from tests.support.fuzzing import fuzz_settings

# Names the schema knows, so that generated documents reach validation, not just
# "unknown key", beside names it does not.
KNOWN_KEYS = [
    "target", "load", "request", "scenarios", "cluster", "run", "data", "thresholds",
    "url", "model", "duration", "concurrency", "target_rps", "workers", "headers", "json",
    "method", "body", "steps", "name", "weight", "assert", "extract", "status", "tls",
    "enabled", "secret", "nodes", "bind_addr", "consul", "file", "split", "schedule",
]  # fmt: skip
HUGE = [10**400, -(10**400), 2**63, 1e308, float("inf"), float("nan"), -0.0]

keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12), st.integers())
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["10s", "1e999s", "-5m", "http://127.0.0.1:9/", "${x}", "Rps", "\x00"]),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=40,
)
plans = st.dictionaries(keys, trees, max_size=8)
env_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
env_values = st.one_of(
    env_text,
    st.sampled_from(["1e999", "-1", "0", "nan", "inf", "99999999999999999999999", "true"]),
)
environments = st.dictionaries(st.sampled_from([*PLAN_ENV, *NODE_ENV]), env_values, max_size=6)


def run_cli(config: bytes, env: dict[str, str]) -> tuple[int, str]:
    """The CLI's exit code and stderr for this config file and environment."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_bytes(config)
        args = build_parser().parse_args(["--config", str(path), "--print-config"])
        stderr = io.StringIO()
        clean = {k: v for k, v in os.environ.items() if k not in PLAN_ENV and k not in NODE_ENV}
        with (
            mock.patch.dict(os.environ, {**clean, **env}, clear=True),
            contextlib.redirect_stderr(stderr),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            code = run(args)
    return code, stderr.getvalue()


def assert_clean_outcome(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert code in (ExitCode.OK, ExitCode.CONFIG), (code, stderr)
    if code == ExitCode.CONFIG:
        assert stderr.startswith("loadtest-supervisor: configuration error\n"), stderr
        assert stderr.strip().count("\n") >= 1  # the error itself, named


def dump(document: object) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8")


# Generous bounds, there to catch a hang (an exponential blow-up), not to time anything.
@fuzz_settings(150, deadline=10_000)
@given(plans, environments)
def test_generated_plans_and_environments_end_in_a_named_error_or_a_valid_config(
    plan: dict, env: dict[str, str]
) -> None:
    assert_clean_outcome(*run_cli(dump(plan), env))


@fuzz_settings(100, deadline=10_000)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_arbitrary_bytes_end_in_a_named_error_or_a_valid_config(config: bytes) -> None:
    assert_clean_outcome(*run_cli(config, {}))


@fuzz_settings(60, deadline=10_000)
@given(st.integers(2, 12), st.integers(2, 12))
def test_anchors_and_aliases_cannot_multiply_a_document(fan_out: int, levels: int) -> None:
    lines = [f"a0: &a0 [{', '.join(['x'] * fan_out)}]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * fan_out)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    lines.append(f"target: {{url: 'http://127.0.0.1:9/', headers: {{x: *a{levels - 1}}}}}")
    code, stderr = run_cli("\n".join(lines).encode(), {})
    assert_clean_outcome(code, stderr)
    assert code == ExitCode.CONFIG  # unknown keys a0.., and a header that is no string
    if fan_out**levels > MAX_NODES:
        assert f"more than {MAX_NODES} values once its aliases are expanded" in stderr


HOSTILE = {
    "billion_laughs": "\n".join(
        [f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
        + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
        + ["scenarios: *l9"]
    ).encode(),
    "deep_flow": ("target: " + "[" * 20000 + "]" * 20000).encode(),
    "deep_block": "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH * 3)).encode(),
    "recursive_alias": b"target: &t {url: http://127.0.0.1:9/, headers: *t}\n",
    "binary": bytes(range(256)) * 64,
    "huge_numbers": b"load: {model: Rps, target_rps: 1e999, duration: 99999999999999999999d}\n",
    "python_tag": b"target: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
    "big_plan": b"target: {url: 'http://127.0.0.1:9/'}\nrequest: {body: '"
    + b"x" * (MAX_FILE_CHARS + 1)
    + b"'}\n",
}
MAX_RSS_KB = 600 << 10  # the command imports little before it refuses; bombs cost GBs


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_through_the_real_command(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(HOSTILE[name])
    env = {k: v for k, v in os.environ.items() if k not in PLAN_ENV and k not in NODE_ENV}
    marker = Path("/tmp/pwned")
    with (tmp_path / "stderr").open("w+b") as stderr:
        proc = subprocess.Popen(
            [cli_path(), "--config", str(path), "--print-config"],
            env={**env, "HTTP_API_ENABLED": "false"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        # A hang is killed (and then fails on its exit code); wait4 gives peak memory.
        timer = threading.Timer(60, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
    assert proc.returncode == ExitCode.CONFIG, text
    assert "Traceback" not in text and text.startswith("loadtest-supervisor: configuration"), text
    assert usage.ru_maxrss < MAX_RSS_KB, usage.ru_maxrss
    assert name != "python_tag" or not marker.exists()
