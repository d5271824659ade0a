"""Issue 11, item 2: one subscriber never hurts another, against a real SMTP server (aiosmtpd).

One policy for internationalised addresses (SMTPUTF8 when the server offers it, else refused
at subscription time by the one address check), a reset connection after any failure of one
message, and only a recipient's own 5xx counted as its bounce; no delivery stays ``sending``.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dailypapers.community.accounts import start_session
from dailypapers.email import subscribers
from dailypapers.email.send import run
from dailypapers.settings import Settings
from dailypapers.storage import accounts
from dailypapers.storage import subscriptions as repo
from dailypapers.storage.schema import digest_deliveries, subscriptions
from dailypapers.web.app import create_app
from tests.email.conftest import DAY, Collector, free_port, load, papers_on

MONDAY = dt.date.fromisoformat(DAY)
INTL = "jürgen@example.com"
OTHERS = ("ann@example.com", "bob@example.com", "cat@example.com")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

Server = tuple[Collector, Settings]


@pytest.fixture
def site(engine: Engine) -> Engine:
    """Papers listed on Monday 2026-06-08."""
    load(engine, papers_on(DAY, 4, 1, upvotes=2))
    return engine


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[Callable[[bool], Server]]:
    """Factory: a loopback aiosmtpd server offering SMTPUTF8 or not, and settings using it."""
    controllers: list[Controller] = []

    def start(smtputf8: bool) -> Server:
        handler = Collector()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
        controller.start()
        controllers.append(controller)
        mail = settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_security": "none",
                "base_url": "https://papers.example.org",
                "secret_key": "test-secret-key-for-mail-hardening-0123456789",
                "rate_limit_subscribe": "off",
                "rate_limit_signup": "off",
                "digest_max_bounces": 1,
            }
        )
        return handler, mail

    yield start
    for controller in controllers:
        controller.stop()


def add_subscribers(engine: Engine, emails: tuple[str, ...]) -> None:
    """Active subscribers in this order, stored as they are (as rows made before the address
    check existed, or by any other path, would be)."""
    prefs = subscribers.preferences()
    with engine.begin() as conn:
        for email in emails:
            repo.create(conn=conn, email=email, status="active", **prefs)


def deliveries(engine: Engine) -> dict[str, str]:
    """Delivery status by subscriber address."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(subscriptions.c.email, digest_deliveries.c.status).select_from(
                digest_deliveries.join(
                    subscriptions, subscriptions.c.id == digest_deliveries.c.subscription_id
                )
            )
        ).all()
    return {str(email): str(status) for email, status in rows}


def standing(engine: Engine) -> dict[str, tuple[str, int]]:
    """(status, bounces) of every subscription by address."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(subscriptions.c.email, subscriptions.c.status, subscriptions.c.bounces)
        ).all()
    return {str(e): (str(s), int(b)) for e, s, b in rows}


def test_internationalised_first_subscriber_without_smtputf8_hurts_nobody(
    site: Engine, smtp_server: Callable[[bool], Server]
) -> None:
    inbox, settings = smtp_server(False)
    add_subscribers(site, (INTL, *OTHERS))
    report = run(site, settings, period="daily", date=MONDAY)
    assert (report.sent, report.failed, report.suspended) == (3, 1, 0), report.errors
    assert "SMTPUTF8" in report.errors[0]
    for address in OTHERS:
        assert len(inbox.to(address)) == 1, address
    states = deliveries(site)
    assert states[INTL] == "failed" and "sending" not in states.values()
    # Not the address's own refusal: no bounce, nobody suspended.
    assert all(state == ("active", 0) for state in standing(site).values())


def test_internationalised_subscriber_gets_the_digest_with_smtputf8(
    site: Engine, smtp_server: Callable[[bool], Server]
) -> None:
    inbox, settings = smtp_server(True)
    add_subscribers(site, (INTL, *OTHERS))
    report = run(site, settings, period="daily", date=MONDAY)
    assert (report.sent, report.failed) == (4, 0), report.errors
    assert len(inbox.to(INTL)) == 1 and all(len(inbox.to(a)) == 1 for a in OTHERS)
    assert set(deliveries(site).values()) == {"sent"}


def test_a_550_bounces_only_its_own_recipient(
    site: Engine, smtp_server: Callable[[bool], Server]
) -> None:
    inbox, settings = smtp_server(False)
    inbox.refuse["bob@example.com"] = "550 5.1.1 No such user"
    add_subscribers(site, OTHERS)
    report = run(site, settings, period="daily", date=MONDAY)
    assert (report.sent, report.failed, report.suspended) == (2, 1, 1)
    assert standing(site) == {
        "ann@example.com": ("active", 0),
        "bob@example.com": ("suspended", 1),
        "cat@example.com": ("active", 0),
    }
    assert deliveries(site)["bob@example.com"] == "failed"


def test_an_exception_mid_message_resets_the_connection_and_leaves_nothing_sending(
    site: Engine, smtp_server: Callable[[bool], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first message dies after ``MAIL FROM`` (as smtplib's UnicodeEncodeError did): the
    next recipient must not get ``503 nested MAIL command``."""
    inbox, settings = smtp_server(False)
    add_subscribers(site, OTHERS)
    real = smtplib.SMTP.sendmail
    calls: list[str] = []

    def dies_mid_transaction(self: smtplib.SMTP, sender: str, to: Any, *a: Any, **k: Any) -> Any:
        calls.append(str(to))
        if len(calls) == 1:
            self.mail(sender)  # the transaction is open...
            raise UnicodeEncodeError("ascii", "ü", 0, 1, "boom")  # ...and left half done
        return real(self, sender, to, *a, **k)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", dies_mid_transaction)
    report = run(site, settings, period="daily", date=MONDAY)
    assert (report.sent, report.failed, report.suspended) == (2, 1, 0), report.errors
    assert [len(inbox.to(a)) for a in OTHERS] == [0, 1, 1]
    states = deliveries(site)
    assert states["ann@example.com"] == "failed" and "sending" not in states.values()
    assert all(bounces == 0 for _, bounces in standing(site).values())


def test_any_exception_after_the_claim_leaves_nothing_sending(
    site: Engine, smtp_server: Callable[[bool], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dailypapers.mailer import MailSession

    _, settings = smtp_server(False)
    add_subscribers(site, OTHERS)
    real = MailSession.send_with_retry

    def flaky(self: MailSession, message: Any, **kwargs: Any) -> None:
        if "bob@" in str(getattr(message, "to", "")):
            raise RuntimeError("not a mail error at all")
        real(self, message, **kwargs)

    monkeypatch.setattr(MailSession, "send_with_retry", flaky)
    report = run(site, settings, period="daily", date=MONDAY)
    assert (report.sent, report.failed) == (2, 1)
    assert "sending" not in deliveries(site).values()
    assert deliveries(site)["bob@example.com"] == "failed"


def _logged_in(app_client: TestClient, engine: Engine, settings: Settings, email: str) -> None:
    with engine.begin() as conn:
        user_id = accounts.create_user(
            conn=conn, username="jurgen", email=email, password_hash="x", verified=True
        )
    token, _ = start_session(engine, settings, user_id=user_id)
    app_client.cookies.set("dp_session", token)


def _csrf(text: str) -> str:
    match = CSRF.search(text)
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("smtputf8", [False, True])
def test_every_subscription_path_and_sign_up_share_one_address_policy(
    site: Engine, smtp_server: Callable[[bool], Server], smtputf8: bool
) -> None:
    """Settings (logged in), the visitor form and sign-up: refused with a clear message
    without SMTPUTF8, accepted (and mailed) with it."""
    inbox, settings = smtp_server(smtputf8)
    app = create_app(settings, site)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as member:
        _logged_in(member, site, settings, INTL)
        page = member.get("/settings/email")
        answer = member.post(
            "/settings/email",
            data={"csrf_token": _csrf(page.text), "period": "daily", "trending_count": "3"},
        )
        if smtputf8:
            assert answer.status_code == 303
            assert standing(site)[INTL] == ("active", 0)
        else:
            assert answer.status_code == 400 and "non-ASCII" in answer.text
            assert INTL not in standing(site)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as visitor:
        form = visitor.get("/subscribe")
        other = "zoë@example.com"
        answer = visitor.post(
            "/subscribe", data={"email": other, "period": "daily", "csrf_token": _csrf(form.text)}
        )
        assert answer.status_code == (200 if smtputf8 else 400)
        assert ("non-ASCII" in answer.text) is not smtputf8
        form = visitor.get("/signup")
        signup = visitor.post(
            "/signup",
            data={
                "csrf_token": _csrf(form.text),
                "username": "zoe",
                "email": "zoë.signup@example.com",
                "password": "long enough password",
            },
        )
        assert signup.status_code == (200 if smtputf8 else 422)
        assert ("non-ASCII" in signup.text) is not smtputf8
    if smtputf8:  # the app drained its mail queue on shutdown
        assert len(inbox.to(other)) == 1 and len(inbox.to("zoë.signup@example.com")) == 1
    else:
        assert inbox.messages == []
