"""Subscribe, confirm, receive, one-click unsubscribe and preferences through the web pages."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dailypapers.community.accounts import create_user, start_session
from dailypapers.email import subscribers, tokens
from dailypapers.email.send import run
from dailypapers.settings import Settings
from dailypapers.storage.schema import subscriptions
from tests.email.conftest import DAY, Collector

MONDAY = dt.date.fromisoformat(DAY)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page_text: str) -> str:
    match = CSRF.search(page_text)
    assert match, page_text
    return match.group(1)


def status_of(engine: Engine, email: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(subscriptions.c.status).where(subscriptions.c.email == email)
        ).scalar_one_or_none()


def link_in(message: object, path: str) -> str:
    body = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    match = re.search(r"https://papers\.example\.org(" + re.escape(path) + r"\S+)", body)
    assert match, body
    return match.group(1)


def subscribe(client: TestClient, email: str, period: str = "daily") -> object:
    form = client.get(f"/subscribe?email={email}")
    assert form.status_code == 200 and f'value="{email}"' in form.text
    return client.post(
        "/subscribe", data={"email": email, "period": period, "csrf_token": csrf(form.text)}
    )


def test_subscribe_confirm_receive_and_one_click_unsubscribe(
    mail_client: TestClient, site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    home = mail_client.get("/")
    assert "Get trending papers in your email inbox" in home.text
    assert 'action="/subscribe" method="post"' in home.text  # one step from the box
    sent = subscribe(mail_client, "reader@example.com")
    assert sent.status_code == 200 and "Check your inbox" in sent.text  # type: ignore[attr-defined]
    assert status_of(site, "reader@example.com") == "pending"
    assert run(site, mail_settings, period="daily", date=MONDAY).due == 0  # not confirmed yet
    (confirmation,) = mailbox.wait_for("reader@example.com")
    link = link_in(confirmation, "/subscribe/confirm?token=")
    page = mail_client.get(link)
    assert "Confirm my subscription" in page.text
    assert status_of(site, "reader@example.com") == "pending"  # GET changes nothing
    token = link.split("token=", 1)[1]
    done = mail_client.post(
        "/subscribe/confirm", data={"token": token, "csrf_token": csrf(page.text)}
    )
    assert "You are subscribed" in done.text
    assert status_of(site, "reader@example.com") == "active"

    assert run(site, mail_settings, period="daily", date=MONDAY).sent == 1
    digest = mailbox.to("reader@example.com")[-1]
    url = digest["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://papers.example.org")
    shown = mail_client.get(path)
    assert shown.status_code == 200 and 'name="List-Unsubscribe" value="One-Click"' in shown.text
    assert status_of(site, "reader@example.com") == "active"  # link scanners change nothing
    with TestClient(mail_client.app, base_url="https://testserver") as mail_app:  # no cookies
        gone = mail_app.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert gone.status_code == 200 and "You are unsubscribed" in gone.text
    assert status_of(site, "reader@example.com") == "unsubscribed"
    assert run(site, mail_settings, period="daily", date=MONDAY + dt.timedelta(days=1)).due == 0


def test_subscribing_again_reveals_nothing(
    mail_client: TestClient, site: Engine, mailbox: Collector
) -> None:
    subscribers.add(site, email="old@example.com", confirmed=True, prefs=subscribers.preferences())
    answer = subscribe(mail_client, "old@example.com")
    assert "Check your inbox" in answer.text  # type: ignore[attr-defined]
    (notice,) = mailbox.wait_for("old@example.com")
    assert "already subscribed" in notice.get_content()  # type: ignore[attr-defined]
    assert status_of(site, "old@example.com") == "active"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("victim@example.com\r\nBcc: everyone@example.com", "line breaks"),
        ("victim@example.com\nSubject: spam", "line breaks"),
        # "jürgen@example.com": accepted when the SMTP server offers SMTPUTF8 (this one does),
        # refused otherwise: tests/security/test_mail_hardening.py.
        ("a" * 250 + "@example.com", "too long"),
        ("not-an-address", "not valid"),
        ("a\u202e@example.com", "not valid"),
    ],
)
def test_hostile_addresses_are_refused(
    mail_client: TestClient, site: Engine, mailbox: Collector, address: str, reason: str
) -> None:
    form = mail_client.get("/subscribe")
    answer = mail_client.post(
        "/subscribe", data={"email": address, "period": "daily", "csrf_token": csrf(form.text)}
    )
    assert answer.status_code == 400 and reason in answer.text
    assert mailbox.messages == []
    with site.connect() as conn:
        assert conn.execute(select(subscriptions.c.id)).first() is None


def test_forms_need_their_csrf_token(mail_client: TestClient, site: Engine) -> None:
    mail_client.get("/subscribe")
    answer = mail_client.post("/subscribe", data={"email": "a@example.com", "csrf_token": "x"})
    assert answer.status_code == 403 and status_of(site, "a@example.com") is None


def test_forged_and_expired_tokens_are_refused(
    mail_client: TestClient, site: Engine, mail_settings: Settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    row = subscribers.add(
        site, email="t@example.com", confirmed=False, prefs=subscribers.preferences()
    )
    page = mail_client.get("/subscribe/confirm?token=x")
    for token in ("garbage", tokens.confirm_token(mail_settings, row)[:-2] + "xx"):
        answer = mail_client.post(
            "/subscribe/confirm", data={"token": token, "csrf_token": csrf(page.text)}
        )
        assert answer.status_code == 400 and "not valid" in answer.text
    real = time.time()
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: real - 3 * 86400)
        old = tokens.confirm_token(mail_settings, row)
    answer = mail_client.post(
        "/subscribe/confirm", data={"token": old, "csrf_token": csrf(page.text)}
    )
    assert answer.status_code == 400 and "expired" in answer.text
    assert status_of(site, "t@example.com") == "pending"
    other = mail_settings.model_copy(update={"secret_key": "another-secret-another-secret-123"})
    active = subscribers.add(
        site, email="u@example.com", confirmed=True, prefs=subscribers.preferences()
    )
    for token in ("nonsense", tokens.link_token(other, "unsubscribe", active),
                  tokens.link_token(mail_settings, "preferences", active)):  # fmt: skip
        refused = mail_client.post(f"/unsubscribe?token={token}", data={"x": "1"})
        assert refused.status_code == 400, token
        assert mail_client.get(f"/unsubscribe?token={token}").status_code == 400
    assert status_of(site, "u@example.com") == "active"


def test_preferences_by_link_change_the_next_digest(
    mail_client: TestClient, site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    row = subscribers.add(
        site, email="p@example.com", confirmed=True, prefs=subscribers.preferences()
    )
    link = tokens.preferences_url(mail_settings, row).removeprefix("https://papers.example.org")
    page = mail_client.get(link)
    assert page.status_code == 200 and "Preview your next digest" in page.text
    saved = mail_client.post(
        "/subscription",
        data={
            "token": link.split("token=")[1],
            "csrf_token": csrf(page.text),
            "period": "daily",
            "trending_count": "1",
            "categories": "cs.CV",
            "keywords": "diffusion, transformers",
            "authors": "",
        },
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    assert 'value="cs.CV"' in saved.text
    bad = mail_client.post(
        "/subscription",
        data={"token": link.split("token=")[1], "csrf_token": csrf(page.text),
              "period": "daily", "categories": "not a category"},
    )  # fmt: skip
    assert bad.status_code == 400 and "not an arXiv category" in bad.text
    preview = mail_client.get(
        link.replace("/subscription?", "/subscription/preview?") + f"&date={DAY}"
    )
    assert "Why: in cs.CV; mentions" in preview.text
    assert run(site, mail_settings, period="daily", date=MONDAY).sent == 1
    text = mailbox.to("p@example.com")[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.count("upvote") >= 2 and "in cs.CV" in text


def login(client: TestClient, engine: Engine, settings: Settings, email: str, admin: bool) -> None:
    with engine.begin() as conn:
        user = create_user(conn, email=email, password="long enough password", admin=admin)
    token, _ = start_session(engine, settings, user_id=user["id"])
    client.cookies.set("dp_session", token)


def test_logged_in_users_subscribe_from_settings_and_admins_preview(
    mail_client: TestClient, site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    login(mail_client, site, mail_settings, "member@example.com", admin=False)
    assert mail_client.get("/subscribe", follow_redirects=False).status_code == 303
    page = mail_client.get("/settings/email")
    assert "You are not subscribed" in page.text
    mail_client.post(
        "/settings/email",
        data={"csrf_token": csrf(page.text), "period": "weekly", "trending_count": "2",
              "authors": "Grace Hopper", "similar": "on"},
    )  # fmt: skip
    assert status_of(site, "member@example.com") == "active"  # verified: no link needed
    preview = mail_client.get(f"/settings/email/preview?date={DAY}")
    assert "by Grace Hopper" in preview.text and "<script" not in preview.text
    assert mail_client.get("/admin/digests/preview?email=member@example.com").status_code == 403
    report = run(site, mail_settings, period="weekly", date=MONDAY)
    assert report.sent == 1 and mailbox.to("member@example.com")
    page = mail_client.get("/settings/email")
    mail_client.post("/settings/email", data={"csrf_token": csrf(page.text), "unsubscribe": "1"})
    assert status_of(site, "member@example.com") == "unsubscribed"

    admin = TestClient(mail_client.app, base_url="https://testserver")
    login(admin, site, mail_settings, "boss@example.com", admin=True)
    shown = admin.get(f"/admin/digests/preview?email=member@example.com&date={DAY}")
    assert shown.status_code == 200 and "Grace Hopper" in shown.text
    assert admin.get("/admin/digests/preview?email=nobody@example.com").status_code == 404
