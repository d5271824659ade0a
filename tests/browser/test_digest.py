"""The digest loop in a real browser: subscribe from the home page, confirm by the emailed
link, choose preferences, preview, receive a digest (a real SMTP server on loopback), and
unsubscribe from the link in it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from dailypapers.email.send import run
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app
from tests.core.helpers import raw
from tests.smtp import Inbox, SMTPServer

from .browsing import Site
from .conftest import BACKENDS
from .live import LiveServer, fresh_database

pytestmark = pytest.mark.browser
_ids = count(1)


class DigestServer(LiveServer):
    """A live server on a small site, with its engine, settings and mail inbox."""

    engine: Engine
    settings: Settings
    inbox: Inbox


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DigestServer]:
    """Overrides the sample server: papers listed today, mail to aiosmtpd on loopback."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"digest-{backend}")
    with fresh_database(request, tmp, backend, "digest") as url:
        yield from _serve(tmp, url)


def _serve(tmp: Path, url: str) -> Iterator[DigestServer]:
    engine = make_engine(url)
    today = dt.datetime.now(dt.UTC).date()
    listed = [
        raw(f"2606.0030{n}", day=today.isoformat(), published=f"{today}T0{n}:00:00Z")
        for n in range(3)
    ]
    listed.append(
        raw(
            "2606.00399",
            day=today.isoformat(),
            published=f"{today}T05:00:00Z",
            title="Diffusion for proteins",
        )
    )
    run_ingest(
        engine=engine, source="t", params={"d": 1}, records=lambda _: listed, explicit_days=True
    )
    try:
        with SMTPServer() as smtp:
            settings = Settings(
                data_dir=tmp / "data",
                database_url=url,
                semantic_search=False,
                smtp_host="127.0.0.1",
                smtp_port=smtp.port,
                smtp_security="none",
                rate_limit_subscribe="off",
            )
            server = DigestServer(create_app(settings, engine))
            server.engine, server.settings, server.inbox = engine, settings, smtp.inbox
            with server:
                yield server
    finally:
        engine.dispose()


def test_subscribe_confirm_preferences_receive_unsubscribe(
    site: Site, page: Page, live_server: DigestServer
) -> None:
    email = f"reader{next(_ids)}{site.viewport[:2]}@example.org"
    local = "http://127.0.0.1:8000"

    page.goto("/")
    box = page.locator(".subscribe-box")
    expect(box.locator("h2")).to_have_text("Get trending papers in your email inbox")
    # One step: the box near the top of the home page takes the address, how often and
    # categories, and sends the confirmation mail (no second form).
    assert box.bounding_box()["y"] < page.locator(".cards").bounding_box()["y"]  # type: ignore[index]
    box.get_by_label("Email address").fill(email)
    box.get_by_label("How often").select_option("weekly")
    box.get_by_label("cs.LG").check()
    box.get_by_role("button", name="Subscribe").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    expect(page.get_by_text("outbox folder")).to_have_count(0)  # SMTP configured: no link

    page.goto(
        live_server.inbox.link(email, "/subscribe/confirm?token=").replace(local, live_server.url)
    )
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.locator("h1")).to_have_text("You are subscribed")

    page.get_by_role("link", name="Choose what is in your digest").click()
    page.get_by_label("Trending papers").fill("0")
    page.get_by_label("Keywords").fill("diffusion")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Saved.")
    expect(page.get_by_label("Keywords")).to_have_value("diffusion")
    page.get_by_role("link", name="Preview your next digest").click()
    # cs.LG came from the home page's box, the keyword from the preferences page.
    expect(page.get_by_text('Why: in cs.LG; mentions "diffusion"')).to_be_visible()

    today = dt.datetime.now(dt.UTC).date()
    report = run(live_server.engine, live_server.settings, period="weekly", date=today)
    assert report.failed == 0
    digest = live_server.inbox.wait_for(email, 2)[-1]
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page.goto(digest["List-Unsubscribe"].strip("<>").replace(local, live_server.url))
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
