"""The live dashboard as a person sees it, read from a real headless Chromium.

page = DashboardPage(browser, "http://127.0.0.1:8080")
page.open()
page.wait_for(lambda: page.text("leader") == "node-11", what="the leader shown")
page.nodes()            # [{"node_id", "address", "state", "term", "share"}, ...]
page.requests_total()   # the number shown, or None before there is one
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tests.support import wait_for
from tests.support.browser import Browser

T = TypeVar("T")

# The page polls every second; this is a few of its rounds on a busy machine.
PAGE_TIMEOUT_S = 15.0


class DashboardPage:
    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url

    def open(self) -> None:
        self.browser.open(f"{self.base_url}/")

    def text(self, element_id: str) -> str | None:
        return self.browser.evaluate(
            "const e = document.getElementById(arguments[0]); return e && e.textContent;",
            element_id,
        )

    def number(self, element_id: str) -> float | None:
        """The figure an element shows ("12,345" -> 12345.0); None while it shows none."""
        shown = (self.text(element_id) or "").replace(",", "").split(" ")[0]
        try:
            return float(shown)
        except ValueError:
            return None

    def requests_total(self) -> float | None:
        return self.number("requests-total")

    def nodes(self) -> list[dict[str, str]]:
        """The rows of the nodes table, by column."""
        return self.browser.evaluate(
            """
            const names = ["node_id", "address", "state", "term", "share", "workers",
                           "requests", "rps"];
            return [...document.querySelectorAll("#nodes tbody tr")].map((tr) =>
              Object.fromEntries([...tr.cells].map((td, i) => [names[i], td.textContent])));
            """
        )

    def table(self, table_id: str) -> list[list[str]]:
        """The cells of a table's body, row by row."""
        return self.browser.evaluate(
            """
            return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)].map((tr) =>
              [...tr.cells].map((td) => td.textContent));
            """,
            table_id,
        )

    def chart_points(self, chart_id: str) -> int:
        """How many data points the chart draws."""
        return int(
            self.browser.evaluate(
                "return document.getElementById(arguments[0]).getAttribute('data-points');",
                chart_id,
            )
            or 0
        )

    def has_element(self, element_id: str) -> bool:
        return bool(
            self.browser.evaluate(
                "return document.getElementById(arguments[0]) !== null;", element_id
            )
        )

    def wait_for(
        self, condition: Callable[[], T | None], what: str, timeout: float = PAGE_TIMEOUT_S
    ) -> T:
        return wait_for(
            condition,
            timeout=timeout,
            interval=0.1,
            what=what,
            detail=lambda: (
                f"page status: {self.text('status')!r}, leader: {self.text('leader')!r} "
                f"({self.text('view-source')}), run: {self.text('run-state')!r}, "
                f"stop: {self.text('stop-message')!r}, nodes: {self.nodes()!r}"
            ),
        )

    def wait_for_moving_numbers(self) -> tuple[float, float]:
        """Two readings of the requests shown, the second higher than the first."""
        first = self.wait_for(self.requests_total, what="a request count on the page")
        second = self.wait_for(
            lambda: (now := self.requests_total()) is not None and now > first and now,
            what=f"the request count to move past {first}",
        )
        return first, second
