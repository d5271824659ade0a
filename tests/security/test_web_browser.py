"""Issue 11, items 9 and 10 in a real browser (Debian Chromium): the home page, a paper page
and the API reference (/docs) run under the Content-Security-Policy without one violation,
math still renders, and TeX from a title can neither draw a link (``\\href``, ``\\url``) nor a
box over the page (``\\rule{10000em}{10000em}``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app
from tests.browser.conftest import BACKENDS
from tests.browser.live import LiveServer, fresh_database
from tests.core.helpers import raw

HOSTILE_TITLE = (
    r"Verify $\href{https://evil.example/login}{Click to verify your account}$ now "
    r"$\rule{10000em}{10000em}$ and $\url{https://evil.example/u}$"
)
MATH_TITLE = r"Scaling laws for $x^2 + \alpha_{t}$ transformers"


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A live site whose list has a paper with hostile TeX in its title and one with math."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"csp-{backend}")
    with fresh_database(request, tmp, backend, "csp") as url:
        settings = Settings(data_dir=tmp / "data", database_url=url, arxiv_request_interval=0)
        engine = make_engine(url)
        today = dt.datetime.now(dt.UTC).date().isoformat()
        records = [
            raw("2606.00001", title=HOSTILE_TITLE, day=today, published=f"{today}T01:00:00Z"),
            raw("2606.00002", title=MATH_TITLE, day=today, published=f"{today}T02:00:00Z"),
        ]
        run_ingest(
            engine=engine,
            source="t",
            params={"fixture": "csp"},
            records=lambda _: records,
            explicit_days=True,
        )
        try:
            with LiveServer(create_app(settings, engine)) as server:
                yield server.url
        finally:
            engine.dispose()


@pytest.fixture
def page(browser: Browser, hostile_site: str) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page on the site and the console errors and page errors it logs."""
    context = browser.new_context(base_url=hostile_site, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    try:
        yield page, problems
    finally:
        context.close()


def _katex_boxes(page: Page, selector: str) -> list[dict[str, float]]:
    boxes: list[dict[str, float]] = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector + " .katex")).map(
            (el) => { const r = el.getBoundingClientRect(); return {w: r.width, h: r.height}; })""",
        selector,
    )
    return boxes


def test_pages_run_under_the_policy_and_render_math(page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    response = tab.goto("/")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    tab.wait_for_selector(".card-title .katex")
    tab.goto("/papers/2606.00002")
    tab.wait_for_selector(".paper-title .katex")
    assert tab.locator(".paper-title .katex").count() == 1
    assert not problems, problems


def test_title_tex_draws_no_link_and_no_page_sized_box(page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    tab.goto("/papers/2606.00001")
    tab.wait_for_selector(".paper-title .katex")
    assert tab.locator('a[href*="evil.example"]').count() == 0
    assert "Click to verify your account" in tab.locator(".paper-title").inner_text()
    for box in _katex_boxes(tab, ".paper-title"):
        assert box["h"] < 200 and box["w"] < 1280, box
    title = tab.locator(".paper-title").bounding_box()
    assert title is not None and title["height"] < 400, title
    tab.goto("/")
    tab.wait_for_selector(".card-title .katex")
    assert tab.locator('a[href*="evil.example"]').count() == 0
    for box in _katex_boxes(tab, ".card-title"):
        assert box["h"] < 200 and box["w"] < 1280, box
    assert not problems, problems


def test_api_reference_runs_under_the_policy(page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    tab.goto("/docs")
    tab.wait_for_selector(".opblock")  # Swagger UI rendered the operations from /openapi.json
    assert tab.locator(".opblock").count() > 3
    assert not problems, problems
