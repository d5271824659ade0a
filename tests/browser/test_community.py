"""The community loop in a real browser: sign up, confirm by the emailed link (a real SMTP
server on loopback), log in, submit a paper, upvote it, comment, log out."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

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
PASSWORD = "a long password 42"
_ids = itertools.count(1)


class CommunityServer(LiveServer):
    """A live server on a small fresh site, with its engine and the inbox of its mail."""

    engine: Engine
    inbox: Inbox


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CommunityServer]:
    """Overrides the sample server: an empty site whose mail goes to aiosmtpd on loopback."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"community-{backend}")
    with fresh_database(request, tmp, backend, "community") as url:
        yield from _serve(tmp, url)


def _serve(tmp: Path, url: str) -> Iterator[CommunityServer]:
    engine = make_engine(url)
    today = dt.datetime.now(dt.UTC).date()
    listed = [
        raw(f"2606.0010{n}", day=today.isoformat(), published=f"{today}T0{n}:00:00Z")
        for n in range(3)
    ]
    run_ingest(
        engine=engine, source="t", params={"b": 1}, records=lambda _: listed, explicit_days=True
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
                rate_limit_signup="off",
                rate_limit_login="off",
            )
            server = CommunityServer(create_app(settings, engine))
            server.engine, server.inbox = engine, smtp.inbox
            with server:
                yield server
    finally:
        engine.dispose()


def new_paper(engine: Engine) -> str:
    """A paper published today that is on no list yet."""
    today = dt.datetime.now(dt.UTC).date()
    paper_id = f"2606.{20000 + next(_ids) * 7 + os.getpid() % 7:05d}"
    record = raw(
        paper_id, title=f"Sparse $\\alpha$-attention {paper_id}", published=f"{today}T05:00:00Z"
    )
    run_ingest(engine=engine, source="t", params={"p": paper_id}, records=lambda _: [record])
    return paper_id


def test_sign_up_confirm_log_in_submit_upvote_comment_log_out(
    site: Site, page: Page, live_server: CommunityServer
) -> None:
    name = f"r{next(_ids)}{site.viewport[:2]}"
    email = f"{name}@example.org"

    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")

    link = live_server.inbox.link(email, "/verify?token=")
    page.goto(link.replace("http://127.0.0.1:8000", live_server.url))
    # Opening the link confirms nothing (mail scanners open links): the button does.
    expect(page.locator("h1")).to_have_text("Confirm your email")
    page.get_by_role("button", name="Confirm my email").click()
    expect(page.locator("h1")).to_have_text("Email confirmed")

    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".top-nav .me")).to_have_text(name)

    paper_id = new_paper(live_server.engine)
    page.get_by_role("link", name="Submit").click()
    page.get_by_label("arXiv id or URL").fill(f"https://arxiv.org/abs/{paper_id}")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(f"{live_server.url}/papers/{paper_id}?submitted=1")
    expect(page.locator(".flash")).to_contain_text("on today's list")
    expect(page.locator(".paper-meta .submitter")).to_have_text(name)

    vote = page.locator(".paper-meta form.votes")
    expect(vote.locator(".count")).to_have_text("0")
    vote.locator("button").click()
    expect(vote.locator(".count")).to_have_text("1")
    expect(vote.locator("button")).to_have_attribute("aria-pressed", "true")
    # A double click sends one toggle or two (the second only after the first answered);
    # whichever happened, the page, the stored count and the vote rows agree after a reload.
    vote.locator("button").dblclick()
    page.wait_for_load_state("networkidle")
    page.reload()
    pressed = page.locator(".paper-meta form.votes button").get_attribute("aria-pressed")
    expected = "1" if pressed == "true" else "0"
    expect(page.locator(".paper-meta form.votes .count")).to_have_text(expected)
    if pressed != "true":
        page.locator(".paper-meta form.votes button").click()
        expect(page.locator(".paper-meta form.votes .count")).to_have_text("1")

    page.get_by_label("Add a comment").fill("Does this **scale** to `1M` tokens?")
    page.get_by_role("button", name="Comment").click()
    comment = page.locator(".comment").first
    expect(comment.locator("strong")).to_have_text("scale")
    expect(comment.locator("code")).to_have_text("1M")
    expect(page.locator(".comments h2")).to_have_text("Comments (1)")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".top-nav")).to_contain_text("Log in")
    page.goto(f"/papers/{paper_id}")
    expect(page.locator(".paper-meta .votes .count")).to_have_text("1")
    expect(page.locator(".comment strong")).to_have_text("scale")


def test_upvote_works_without_javascript(
    browser: object, live_server: CommunityServer, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import Browser

    from dailypapers.community import accounts
    from tests.community.conftest import PASSWORD as MEMBER_PASSWORD

    assert isinstance(browser, Browser)
    name = f"nojs{next(_ids)}"
    with live_server.engine.begin() as conn:
        accounts.create_user(
            conn, email=f"{name}@example.org", password=MEMBER_PASSWORD, username=name
        )
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Email").fill(f"{name}@example.org")
        page.get_by_label("Password").fill(MEMBER_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto("/")
        card = page.locator("article.card").first
        before = int(card.locator(".count").inner_text())
        card.locator("button.vote-button").click()
        card = page.locator("article.card").first
        expect(card.locator(".count")).to_have_text(str(before + 1))
        expect(card.locator("button.vote-button")).to_have_attribute("aria-pressed", "true")
        card.locator("button.vote-button").click()
        expect(page.locator("article.card").first.locator(".count")).to_have_text(str(before))
    finally:
        context.close()
