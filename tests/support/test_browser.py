"""The browser harness sees what the report and dashboard tests rely on it to see: console
errors, every request a page makes, values from the page, and a saved screenshot."""

from __future__ import annotations

from pathlib import Path

from tests.support.browser import Browser
from tests.support.ports import free_port


def test_the_harness_sees_console_errors_requests_and_saves_a_screenshot(
    browser: Browser, tmp_path: Path
) -> None:
    # A port nothing listens on: the request is made (and fails), which is what counts.
    unserved = f"http://127.0.0.1:{free_port()}/pixel.png"
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><title>harness</title><h1 id=h>hello</h1>"
        f"<img src='{unserved}'>"
        "<script>console.error('boom from the page'); console.log('just info');</script>"
    )
    browser.open(page.as_uri())

    assert browser.evaluate("return document.getElementById('h').textContent") == "hello"
    assert browser.evaluate("return arguments[0] + 1", 41) == 42
    requests = browser.requests()
    assert requests[0] == page.as_uri()
    assert unserved in requests
    errors = browser.console_errors()
    assert any("boom from the page" in e for e in errors), errors
    assert not any("just info" in e for e in errors)

    shot = browser.screenshot("harness")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert ".cache/test-artifacts" in str(shot)


def test_a_quiet_page_makes_no_request_but_its_own(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "quiet.html"
    page.write_text("<!doctype html><title>quiet</title><p>nothing to fetch</p>")
    browser.open(page.as_uri())
    assert browser.requests() == [page.as_uri()]
    assert browser.console_errors() == []
