"""Browser fixtures: the app with the bundled sample on a real server, driven by Chromium.

``live_server`` loads the sample once per backend (SQLite and PostgreSQL, or those in
``DAILYPAPERS_TEST_BACKENDS``) and serves it with uvicorn on 127.0.0.1.  ``browser`` is one
Debian Chromium for the run; ``site`` opens a fresh context per test at a desktop or a phone
viewport, records console errors, page errors, failed requests and every request's URL, saves
a screenshot of the final page to ``test-artifacts/screenshots/`` and fails the test on any
unexpected error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from dailypapers.demo import sample_path
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app

from .browsing import REPO, Site
from .live import LiveServer, fresh_database, load_sample
from .sample import Sample

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
BACKENDS = [
    b for b in os.environ.get("DAILYPAPERS_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]
# Console errors tolerated everywhere (none: every page must load cleanly).
KNOWN_CONSOLE_ERRORS: list[str] = []
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
    },
}


@pytest.fixture(scope="session")
def sample() -> Sample:
    """The bundled sample, read from its file."""
    return Sample(sample_path())


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app with the sample loaded, on a real server; one per backend for the run."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"browser-{backend}")
    with fresh_database(request, tmp, backend, "browser") as url:
        settings = Settings(
            data_dir=tmp / "data", database_url=url, arxiv_request_interval=0, page_size=50
        )
        engine = make_engine(url)
        try:
            load_sample(engine, settings)
            with LiveServer(create_app(settings, engine)) as server:
                yield server
        finally:
            engine.dispose()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    """``desktop`` (1280x900) or ``phone`` (390x844)."""
    name: str = request.param
    return name


def _screenshot(page: Page, path: Path) -> None:
    """The page from the top, down to three screens (a phone's day list is 21,000 px tall and
    encoding all of it as PNG takes seconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    height = page.evaluate("document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(height, 3 * size["height"])}
    page.screenshot(path=path, full_page=True, clip=clip)  # type: ignore[arg-type]


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", node_name)


@pytest.fixture
def site(
    browser: Browser, live_server: LiveServer, viewport: str, request: pytest.FixtureRequest
) -> Iterator[Site]:
    """A fresh context and page on the live server; fails on console or page errors."""
    context = browser.new_context(base_url=live_server.url, **VIEWPORTS[viewport])
    context.set_default_timeout(10_000)
    page = context.new_page()
    site = Site(page=page, url=live_server.url, viewport=viewport)
    for pattern in KNOWN_CONSOLE_ERRORS:
        site.allow_console(pattern)
    page.on("console", site.on_console)
    page.on("pageerror", lambda exc: site.errors.append(f"page error: {exc}"))
    page.on("requestfailed", site.on_request_failed)
    context.on("request", lambda req: site.requests.append(req.url))
    try:
        yield site
    finally:
        try:
            _screenshot(page, SCREENSHOTS / f"{_artifact_name(request.node.name)}.png")
        except PlaywrightError as exc:  # a crashed page still lets the test report its failure
            site.errors.append(f"screenshot failed: {exc}")
        context.close()
    assert not site.unexpected_errors(), "\n".join(site.unexpected_errors())
    assert not site.foreign_hosts(), f"requests left the site: {sorted(site.foreign_hosts())}"


@pytest.fixture
def page(site: Site) -> Page:
    """The test's page (base URL: the live server)."""
    return site.page
