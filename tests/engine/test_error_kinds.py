"""Every failure is counted once, under its kind, against real misbehaving endpoints."""

from __future__ import annotations

import socket

import pytest

from tests.engine.cli import run_cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _errors(url: str, tmp_path, **env: str) -> dict:
    proc, results = run_cli(
        ["--workers", "1"],
        {
            "TARGET_URL": url,
            "LOAD_MODEL_TYPE": "Concurrent",
            "NUM_CONCURRENT_TASKS": "2",
            "TEST_DURATION": "1.5s",
            **env,
        },
        tmp_path=tmp_path,
    )
    assert results["requests_total"] > 0
    assert results["errors_total"] == results["requests_total"]
    # No threshold is set, but a run in which nothing succeeded must never pass.
    assert proc.returncode == 1, proc.stderr
    assert results["passed"] is False
    assert results["failures"] == ["no request succeeded"]
    assert "failed: no request succeeded" in proc.stdout
    return results


@pytest.mark.parametrize(
    ("path", "kind", "status"),
    [("/status/503", "http_5xx", "503"), ("/status/404", "http_4xx", "404")],
)
def test_http_status_classes(http_target, tmp_path, path: str, kind: str, status: str) -> None:
    results = _errors(http_target.url + path, tmp_path)
    assert results["errors"][kind] == results["requests_total"]
    assert results["status_codes"] == {status: results["requests_total"]}


def test_dropped_connection_is_closed(http_target, tmp_path) -> None:
    results = _errors(http_target.url + "/drop", tmp_path)
    assert results["errors"]["closed"] == results["requests_total"]
    assert results["status_codes"] == {}


def test_unanswered_request_times_out(http_target, tmp_path) -> None:
    results = _errors(http_target.url + "/hang", tmp_path, REQUEST_TIMEOUT="300ms")
    assert results["errors"]["timeout"] == results["requests_total"]
    # 2 users, 300 ms each, over 1.5 s: about 10 timeouts, each waited ~300 ms.
    assert 6 <= results["requests_total"] <= 12
    assert 300 <= results["latency_ms"]["p50"] < 450


def test_refused_connection_is_connect_error(tmp_path) -> None:
    results = _errors(f"http://127.0.0.1:{_closed_port()}/", tmp_path)
    assert results["errors"]["connect"] == results["requests_total"]


def test_tls_to_plain_http_is_tls_error(http_target, tmp_path) -> None:
    url = http_target.url.replace("http://", "https://") + "/"
    results = _errors(url, tmp_path, SKIP_TLS_VERIFY="true")
    assert results["errors"]["tls"] == results["requests_total"]
