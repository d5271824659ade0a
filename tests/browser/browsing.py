"""The record a browser test gets: its page on the live server and what the page logged."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page
from playwright.sync_api import Request as PlaywrightRequest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Site:
    """A page in a fresh browser context on the live server, with what it logged."""

    page: Page
    url: str
    viewport: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (a 404 page logs its own status)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        """Keep console errors."""
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location.get('url')}")

    def on_request_failed(self, request: PlaywrightRequest) -> None:
        """Keep requests that got no response.

        ``net::ERR_ABORTED`` is the browser cancelling a request itself (a navigation or the
        context closing while, say, the favicon loads), not the server failing to answer.
        """
        if request.failure and "ERR_ABORTED" in request.failure:
            return
        self.errors.append(f"request failed: {request.url} ({request.failure})")

    def foreign_hosts(self) -> set[str]:
        """Hosts other than 127.0.0.1 that the page sent a request to."""
        hosts = {
            urlsplit(u).hostname for u in self.requests if not u.startswith(("data:", "blob:"))
        }
        return {h or "?" for h in hosts} - {"127.0.0.1"}

    def unexpected_errors(self) -> list[str]:
        """Errors no test said it expected."""
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
