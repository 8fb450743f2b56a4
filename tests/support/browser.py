"""Headless Chromium driven from pytest: Debian's ``chromium`` through its own
``chromium-driver`` (selenium), never a downloaded browser.

    def test_page(browser: Browser) -> None:
        browser.open("file:///tmp/report.html")      # or http://127.0.0.1:PORT/
        assert browser.console_errors() == []
        assert browser.requests() == ["file:///tmp/report.html"]
        assert browser.evaluate("return document.title") == "..."
        browser.screenshot("report")                 # .cache/test-artifacts/<test>/report.png

``browser`` (the fixture, re-exported by tests/conftest.py) gives each test its own
browser with its own profile, quit at teardown. Console messages and network requests
are collected from the first ``open()`` on, across every page opened.
Screenshots go to .cache/test-artifacts/ (git-ignored); each path is printed and listed
again at the end of the pytest run.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "test-artifacts"

# Chromium's own traffic (updates, field trials, sync, safe browsing) would be noise in a
# test that counts requests, and cannot reach the internet here anyway.
_QUIET_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--window-size=1280,1000",
)

# Artifacts saved during this pytest run, listed again in its terminal summary.
saved_artifacts: list[Path] = []


class BrowserError(RuntimeError):
    """Chromium or its driver is missing or would not start."""


class Browser:
    """One headless Chromium; use as a context manager so it never outlives the test."""

    def __init__(self, artifacts: Path) -> None:
        for binary in (CHROMIUM, CHROMEDRIVER):
            if not Path(binary).exists():
                raise BrowserError(
                    f"{binary} is missing: run scripts/test-services "
                    "(it installs Debian's chromium and chromium-driver)"
                )
        self.artifacts = artifacts
        self._profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in _QUIET_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self._profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True})
        artifacts.mkdir(parents=True, exist_ok=True)
        service = Service(CHROMEDRIVER, log_output=str(artifacts / "chromedriver.log"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self._console: list[dict[str, Any]] = []
        self._requests: list[str] = []
        # Chromium's start-up page fetches its own resources: leave them out.
        self.driver.get("about:blank")
        self._collect()
        self._console.clear()
        self._requests.clear()

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its document has loaded."""
        self.driver.get(url)

    def evaluate(self, script: str, *args: Any) -> Any:
        """Run ``script`` as a function body in the page (``return`` gives its value)."""
        return self.driver.execute_script(script, *args)

    def console_messages(self) -> list[dict[str, Any]]:
        """Every console message and uncaught error so far: {"level", "message"}."""
        self._collect()
        return list(self._console)

    def console_errors(self) -> list[str]:
        """The messages Chromium logs as errors: console.error, uncaught exceptions,
        resources that failed to load."""
        return [m["message"] for m in self.console_messages() if m["level"] == "SEVERE"]

    def requests(self) -> list[str]:
        """The URL of every network request the pages made, the documents included, in
        order."""
        self._collect()
        return list(self._requests)

    def screenshot(self, name: str) -> Path:
        """Save the whole page (not just the window) as ``<name>.png`` in this test's
        artifact folder, print its path and return it."""
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": size["height"],
                    "scale": 1,
                },
            },
        )
        path = self.artifacts / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        saved_artifacts.append(path)
        print(f"screenshot saved: {path}")
        return path

    def _collect(self) -> None:
        # Chromium hands out each log entry once, so they are kept here as they come.
        for entry in self.driver.get_log("browser"):
            self._console.append({"level": entry["level"], "message": entry["message"]})
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
            elif message["method"] == "Network.webSocketCreated":
                url = message["params"]["url"]
            else:
                continue
            self._requests.append(url)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.quit()


def artifact_dir(nodeid: str) -> Path:
    """This test's folder under .cache/test-artifacts, named after its pytest node id."""
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A headless Chromium of this test's own (see the module docstring)."""
    with Browser(artifact_dir(request.node.nodeid)) as chromium:
        yield chromium


def summarise_artifacts(terminalreporter: Any) -> None:
    """List the artifacts this run saved, for ``pytest_terminal_summary``."""
    if saved_artifacts:
        terminalreporter.section("test artifacts")
        for path in saved_artifacts:
            terminalreporter.write_line(str(path))
