"""Reading lists in a real browser: save a paper to a new list with a note and see "Saved"
on its page and on the daily list's card; import a Zotero BibTeX export and read the report;
delete the account. The same forms work with JavaScript off."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine

from dailypapers.community import accounts
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app
from tests.browser.browsing import Site
from tests.browser.conftest import BACKENDS
from tests.browser.live import LiveServer, fresh_database
from tests.community.conftest import PASSWORD
from tests.core.helpers import raw

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parent / "fixtures"
_ids = itertools.count(1)


class ListsServer(LiveServer):
    """A live server on a small site, with its engine."""

    engine: Engine


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ListsServer]:
    """A site with today's list holding the papers the Zotero fixture names."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"lists-{backend}")
    with fresh_database(request, tmp, backend, "lists") as url:
        engine = make_engine(url)
        today = dt.datetime.now(dt.UTC).date()
        records = [
            raw("1706.03762", title="Attention Is All You Need", day=today.isoformat()),
            raw("2203.15556", title="Training Compute-Optimal LLMs", day=today.isoformat()),
        ]
        run_ingest(
            engine=engine,
            source="t",
            params={"l": 1},
            records=lambda _: records,
            explicit_days=True,
        )
        settings = Settings(
            data_dir=tmp / "data",
            database_url=url,
            semantic_search=False,
            rate_limit_login="off",
            rate_limit_lists="off",
            rate_limit_import="off",
        )
        try:
            server = ListsServer(create_app(settings, engine))
            server.engine = engine
            with server:
                yield server
        finally:
            engine.dispose()


def _member(server: ListsServer, page: Page, prefix: str) -> str:
    name = f"{prefix}{next(_ids)}"
    with server.engine.begin() as conn:
        accounts.create_user(conn, email=f"{name}@example.org", password=PASSWORD, username=name)
    page.goto("/login")
    page.get_by_label("Email").fill(f"{name}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".top-nav .me")).to_have_text(name)
    return name


def _save_and_see(page: Page) -> None:
    page.goto("/papers/1706.03762")
    save = page.locator("#save")
    save.get_by_label("List name").fill("To read")
    save.get_by_label("Private note").fill("Section 3.2 first")
    save.get_by_role("button", name="Save").click()
    expect(page.locator("#save .saved-in")).to_contain_text("Saved in To read")
    expect(page.locator("#save .saved-in")).to_contain_text("Section 3.2 first")
    page.goto("/")
    card = page.locator('article.card[data-paper-id="1706.03762"]')
    expect(card.locator(".saved-mark")).to_have_text("Saved")
    expect(page.locator('article.card[data-paper-id="2203.15556"] .saved-mark')).to_have_count(0)
    card.locator(".saved-mark").click()
    page.get_by_role("link", name="To read").click()
    expect(page.locator("h1")).to_have_text("To read")
    expect(page.locator(".list-note input[name=note]")).to_have_value("Section 3.2 first")


def test_save_a_paper_and_see_saved(site: Site, page: Page, live_server: ListsServer) -> None:
    _member(live_server, page, "saver")
    _save_and_see(page)


def test_save_without_javascript(browser: Browser, live_server: ListsServer) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        _member(live_server, page, "nojs")
        _save_and_see(page)
    finally:
        context.close()


def test_import_a_zotero_export(site: Site, page: Page, live_server: ListsServer) -> None:
    _member(live_server, page, "importer")
    page.goto("/settings")
    page.get_by_role("link", name="Import your library").click()
    page.get_by_label("File").set_input_files(str(FIXTURES / "zotero.bib"))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("h1")).to_have_text("Import of zotero.bib")
    # The page refreshes itself until the background import is done.
    expect(page.locator(".import-summary")).to_contain_text(
        "Done: 2 of 8 references matched", timeout=30_000
    )
    expect(page.locator("table.matched tbody tr")).to_have_count(2)
    expect(page.locator("table.unmatched tbody tr")).to_have_count(6)
    page.locator(".import-summary a").click()
    expect(page.locator("article.card")).to_have_count(2)


def test_delete_the_account(site: Site, page: Page, live_server: ListsServer) -> None:
    name = _member(live_server, page, "leaver")
    page.goto("/settings")
    page.get_by_role("link", name="Your data: download it, or delete your account").click()
    page.get_by_label("Remove them").check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("h1")).to_have_text("Account deleted")
    expect(page.locator(".top-nav")).to_contain_text("Log in")
    site.allow_console(f"404 .*/users/{name}")  # the profile is gone
    page.goto(f"/users/{name}")
    expect(page.locator("h1")).to_have_text("Not found")
