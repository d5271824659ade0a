"""Follow and unfollow in a real browser (Chromium), at phone and desktop widths: the button
on a category page, the /follows page, and For you picking up the follow (and dropping a
pick marked "not interested")."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from dailypapers.community import accounts
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app
from tests.browser.conftest import BACKENDS
from tests.browser.live import LiveServer, fresh_database
from tests.core.helpers import raw

pytestmark = pytest.mark.browser
PASSWORD = "a long password 42"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
_ids = itertools.count(1)


class Server(LiveServer):
    """A live server with its engine."""

    engine: object


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A small site (papers in cs.CL and cs.LG listed today) on a real server."""
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp(f"follows-{backend}")
    with fresh_database(request, tmp, backend, "follows") as url:
        engine = make_engine(url)
        today = dt.datetime.now(dt.UTC).date()
        records = [
            raw(
                f"2606.0030{n}",
                title=f"Paper {n} on {cat}",
                categories=[cat],
                day=today.isoformat(),
                published=f"{today}T0{n}:00:00Z",
            )
            for n, cat in enumerate(["cs.CL", "cs.CL", "cs.LG"])
        ]
        run_ingest(
            engine=engine,
            source="t",
            params={"f": 1},
            records=lambda _: records,
            explicit_days=True,
        )
        settings = Settings(
            data_dir=tmp / "data",
            database_url=url,
            semantic_search=False,
            rate_limit_login="off",
            index_follow_seconds=0,
        )
        live = Server(create_app(settings, engine))
        live.engine = engine
        try:
            with live:
                yield live
        finally:
            engine.dispose()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_follow_and_unfollow_a_category(browser: Browser, server: Server, width: str) -> None:
    name = f"fol{next(_ids)}{width[:2]}"
    with server.engine.begin() as conn:  # type: ignore[attr-defined]
        accounts.create_user(conn, email=f"{name}@example.org", password=PASSWORD, username=name)
    context = browser.new_context(base_url=server.url, viewport=WIDTHS[width])  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/login")
        page.get_by_label("Email").fill(f"{name}@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".top-nav")).to_contain_text(name)

        page.goto("/c/cs.CL")
        button = page.locator('[data-follow="category:cs.CL"]')
        expect(button).to_have_attribute("aria-pressed", "false")
        button.click()
        expect(page).to_have_url(f"{server.url}/c/cs.CL")
        expect(page.locator('[data-follow="category:cs.CL"]')).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator('[data-follow="category:cs.CL"]')).to_contain_text("Following")

        page.get_by_role("link", name="For you").click()
        picks = page.locator(".pick")
        expect(picks).to_have_count(2)
        expect(picks.first.locator(".reasons")).to_contain_text("in cs.CL, which you follow")
        first = picks.first.get_attribute("data-paper-id")
        picks.first.get_by_role("button", name="Not interested").click()
        expect(page.locator(".pick")).to_have_count(1)
        assert page.locator(".pick").first.get_attribute("data-paper-id") != first

        page.goto("/follows")
        followed = page.locator("#h-category + .follow-list li")
        expect(followed).to_have_count(1)
        expect(followed.first).to_contain_text("cs.CL")
        followed.first.get_by_role("button", name="Unfollow cs.CL").click()
        expect(page.locator("#h-category + .follow-list li")).to_have_count(0)

        page.get_by_label("Follow a word or phrase in titles and abstracts").fill("Paper 2")
        page.locator("form.add-follow", has=page.locator("#add-keyword")).get_by_role(
            "button", name="Follow"
        ).click()
        expect(page.locator("#h-keyword + .follow-list li")).to_contain_text("Paper 2")
        page.goto("/for-you")
        expect(page.locator(".pick")).to_have_count(1)
        expect(page.locator(".pick .reasons")).to_contain_text('matches your keyword "Paper 2"')
        width_now = page.evaluate("document.documentElement.scrollWidth")
        assert width_now <= WIDTHS[width]["width"], width_now

        # A paper page's category chips carry the same button, back to the same page.
        page.goto("/papers/2606.00302")
        chip = page.locator('.cat-chip [data-follow="category:cs.LG"]')
        expect(chip).to_have_attribute("aria-pressed", "false")
        chip.click()
        expect(page).to_have_url(f"{server.url}/papers/2606.00302")
        expect(page.locator('.cat-chip [data-follow="category:cs.LG"]')).to_contain_text(
            "Following"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width]["width"]
    finally:
        context.close()
    assert not errors, errors
