"""Issue 11, items 12, 13, 14 and the mail part of 16, through HTTP, the CLI and a real SMTP
server: no account enumeration (same answer, mail sent after it), log-in throttled per account,
API tokens revoked by a password change and able to expire, GET /verify confirms nothing,
per-recipient mail limits, and rate-limited forms answer 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from dailypapers.community import accounts as account_actions
from dailypapers.settings import Settings
from dailypapers.storage.schema import api_tokens, users
from dailypapers.web.app import create_app
from tests.core.test_cli import run
from tests.smtp import Inbox, SMTPServer

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OWNER = "dora@example.org"


class GatedInbox(Inbox):
    """An inbox that holds every message at DATA until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp() -> Iterator[GatedInbox]:
    """A real SMTP server on loopback whose inbox can hold messages back."""
    server = SMTPServer()
    server.inbox = GatedInbox()
    server.controller.handler = server.inbox
    with server:
        server.inbox.port = server.port  # type: ignore[attr-defined]
        yield server.inbox  # type: ignore[misc]
        server.inbox.gate.set()


@pytest.fixture
def site_settings(settings: Settings, smtp: GatedInbox) -> Settings:
    """Mail to the loopback server; request rate limits off unless a test sets them."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,  # type: ignore[attr-defined]
            "smtp_security": "none",
            "smtp_timeout": 5.0,
            "base_url": "http://testserver",
            "rate_limit_signup": "off",
            "rate_limit_login": "off",
            "rate_limit_password_reset": "off",
            "rate_limit_subscribe": "off",
            "rate_limit_mail_recipient": "off",
        }
    )


def app_client(settings: Settings, engine: Engine, host: str = "testclient") -> TestClient:
    """A client (not yet entered) for a fresh app, seen as coming from ``host``."""
    return TestClient(create_app(settings, engine), follow_redirects=False, client=(host, 50000))


@pytest.fixture
def owner(engine: Engine) -> int:
    """A verified account with the email OWNER; returns its id."""
    with engine.begin() as conn:
        user = account_actions.create_user(conn, email=OWNER, password=PASSWORD, username="dora")
    return int(user["id"])


def csrf_of(client: TestClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match, path
    return match.group(1)


def post_form(client: TestClient, path: str, form_page: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client, form_page), **data})


def same_page(first: str, second: str, *variable: str) -> bool:
    """Whether two answers are the same but for CSRF tokens and the echoed ``variable``s."""

    def scrub(text: str) -> str:
        text = CSRF.sub('name="csrf_token" value=""', text)
        for value in variable:
            text = text.replace(value, "")
        return text

    return scrub(first) == scrub(second)


# Item 12: sign-up and reset answer the same for registered and unknown addresses.


def test_signup_answers_the_same_for_a_registered_email(
    site_settings: Settings, engine: Engine, owner: int, smtp: GatedInbox
) -> None:
    with app_client(site_settings, engine) as client:

        def signup(username: str, email: str) -> Any:
            return post_form(
                client, "/signup", "/signup", username=username, email=email, password=PASSWORD
            )

        registered = signup("newcomer1", OWNER)
        fresh = signup("newcomer2", "new@example.org")
        assert registered.status_code == fresh.status_code == 200
        assert same_page(registered.text, fresh.text) and "Check your inbox" in fresh.text
        # A taken username is refused the same way whether or not the email is registered.
        taken_registered = signup("dora", OWNER)
        taken_fresh = signup("dora", "other@example.org")
        assert taken_registered.status_code == taken_fresh.status_code == 422
        assert same_page(taken_registered.text, taken_fresh.text, OWNER, "other@example.org")
        assert "username is taken" in taken_fresh.text
    # The owner is told by mail (after the answer), the newcomer gets the confirmation link.
    notice = smtp.wait_for(OWNER)[0].get_body(("plain",))
    assert notice is not None and "already has an account" in notice.get_content()
    assert smtp.link("new@example.org", "/verify?token=")
    assert not smtp.to("other@example.org")


def test_reset_answers_the_same_and_mails_after_the_answer(
    site_settings: Settings, engine: Engine, owner: int, smtp: GatedInbox
) -> None:
    smtp.gate.clear()  # the SMTP server holds every message until the gate opens
    with app_client(site_settings, engine) as client:
        unknown = post_form(client, "/reset", "/reset", email="nobody@example.org")
        known = post_form(client, "/reset", "/reset", email=OWNER)
        # Both answered while the server still held the message: not sent inside the request.
        assert unknown.status_code == known.status_code == 200
        assert same_page(unknown.text, known.text) and "Check your inbox" in known.text
        assert smtp.to(OWNER) == []
        smtp.gate.set()
        link = smtp.link(OWNER, "/reset/confirm?token=")
    assert "/reset/confirm?token=" in link and not smtp.to("nobody@example.org")


# Item 13: log-in throttled per account; tokens revoked with the password; tokens expire.


def test_login_is_throttled_per_account_across_client_addresses(
    site_settings: Settings, engine: Engine, owner: int
) -> None:
    limited = site_settings.model_copy(update={"rate_limit_login": "3/minute"})
    codes = []
    for n in range(5):  # a new client address for every attempt
        with app_client(limited, engine, host=f"198.51.100.{n}") as client:
            answer = post_form(
                client, "/login", "/login", email=f" {OWNER.upper()} ", password="wrong-wrong"
            )
            codes.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["retry-after"]) > 0
    assert codes == [401, 401, 401, 429, 429]
    # Another account from one of those addresses is not locked out.
    with engine.begin() as conn:
        account_actions.create_user(conn, email="eve@example.org", password=PASSWORD)
    with app_client(limited, engine, host="198.51.100.0") as client:
        ok = post_form(client, "/login", "/login", email="eve@example.org", password=PASSWORD)
    assert ok.status_code == 303


def _token(engine: Engine, user_id: int, days: int | None = None) -> str:
    with engine.begin() as conn:
        return account_actions.create_api_token(conn, user_id=user_id, name="t", days=days)


def _api_status(client: TestClient, token: str) -> int:
    """401 for a refused token; anything else means the token was accepted."""
    answer = client.post(
        "/api/papers/2601.99999/upvote", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


def _login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    answer = post_form(client, "/login", "/login", email=email, password=password, next="/")
    assert answer.status_code == 303, answer.text


def test_password_change_and_reset_revoke_api_tokens(
    site_settings: Settings, engine: Engine, owner: int, smtp: GatedInbox
) -> None:
    with app_client(site_settings, engine) as client:
        token = _token(engine, owner)
        assert _api_status(client, token) != 401
        _login(client, OWNER)
        changed = post_form(
            client, "/settings/password", "/settings", current=PASSWORD, password="new pass 12"
        )
        assert changed.status_code == 303
        assert _api_status(client, token) == 401

        second = _token(engine, owner)
        assert _api_status(client, second) != 401
        with app_client(site_settings, engine) as visitor:
            post_form(visitor, "/reset", "/reset", email=OWNER)
            link = smtp.link(OWNER, "/reset/confirm?token=").replace("http://testserver", "")
            done = post_form(
                visitor,
                "/reset/confirm",
                link,
                token=link.split("token=", 1)[1],
                password="newer pass 34",
            )
            assert done.status_code == 200 and "Password changed" in done.text
        assert _api_status(client, second) == 401


def test_tokens_can_expire_from_the_cli_and_the_settings_page(
    site_settings: Settings, engine: Engine, owner: int, cli_env: dict[str, str]
) -> None:
    value = run("token", "create", OWNER, "--expires-days", "7").strip()
    assert value.startswith("dp_")
    assert "0<=x<=3650" in run("token", "create", OWNER, "--expires-days", "-1", ok=False)
    with engine.connect() as conn:
        expires = conn.execute(select(api_tokens.c.expires_at)).scalar_one()
    assert dt.timedelta(days=6) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    with app_client(site_settings, engine) as client:
        assert _api_status(client, value) != 401
        with engine.begin() as conn:
            conn.execute(
                update(api_tokens).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1))
            )
        assert _api_status(client, value) == 401
        # The settings page: a token with an expiry, and a refused made-up choice.
        _login(client, OWNER)
        made = post_form(client, "/settings/tokens", "/settings", name="ci", days="30")
        assert made.status_code == 200 and "expires" in made.text
        fresh = made.text.split('<code class="token">')[1].split("<")[0]
        assert _api_status(client, fresh) != 401
        bad = post_form(client, "/settings/tokens", "/settings", name="x", days="100000")
        assert bad.status_code == 422


# Item 14: GET /verify confirms nothing; the page's button (POST with CSRF) does.


def test_verify_link_needs_the_button(
    site_settings: Settings, engine: Engine, smtp: GatedInbox
) -> None:
    with app_client(site_settings, engine) as client:
        post_form(
            client, "/signup", "/signup", username="ada", email="ada@example.org", password=PASSWORD
        )
        link = smtp.link("ada@example.org", "/verify?token=").replace("http://testserver", "")
        token = link.split("token=", 1)[1]

        def verified() -> bool:
            with engine.connect() as conn:
                found = conn.execute(
                    select(users.c.email_verified_at).where(users.c.email == "ada@example.org")
                ).scalar_one()
            return found is not None

        for _ in range(2):  # a link scanner opening the link, twice
            shown = client.get(link)
            assert shown.status_code == 200 and "Confirm my email" in shown.text
        assert not verified()
        with app_client(site_settings, engine) as scanner:  # a POST without the form's token
            assert scanner.post("/verify", data={"token": token}).status_code == 403
        assert not verified()
        done = post_form(client, "/verify", link, token=token)
        assert done.status_code == 200 and "Email confirmed" in done.text
        assert verified()
        assert client.get("/verify?token=forged").status_code == 400


# Item 16 (mail): per-recipient limits; 429 with Retry-After on every rate-limited form.


def test_one_inbox_gets_at_most_the_per_recipient_limit(
    site_settings: Settings, engine: Engine, owner: int, smtp: GatedInbox
) -> None:
    limited = site_settings.model_copy(update={"rate_limit_mail_recipient": "2/hour"})
    answers = []
    for n in range(6):  # rotating client addresses, every kind of mail a visitor can ask for
        with app_client(limited, engine, host=f"203.0.113.{n}") as client:
            if n % 3 == 0:
                answers.append(post_form(client, "/reset", "/reset", email=OWNER))
            elif n % 3 == 1:
                answers.append(
                    post_form(
                        client,
                        "/signup",
                        "/signup",
                        username=f"squatter{n}",
                        email=OWNER,
                        password=PASSWORD,
                    )
                )
            else:
                answers.append(
                    post_form(client, "/subscribe", "/subscribe", email=OWNER, period="daily")
                )
    assert [a.status_code for a in answers] == [200] * 6  # the same pages as ever
    assert all("Check your inbox" in a.text for a in answers)
    # Each app drained its queue on shutdown: only two messages reached the inbox.
    assert len(smtp.to(OWNER)) == 2


@pytest.mark.parametrize(
    ("path", "setting", "data"),
    [
        ("/signup", "rate_limit_signup", {"username": "amy", "email": "a@example.org"}),
        ("/login", "rate_limit_login", {"email": "a@example.org"}),
        ("/reset", "rate_limit_password_reset", {"email": "a@example.org"}),
        ("/verify/resend", "rate_limit_password_reset", {"email": "a@example.org"}),
        ("/subscribe", "rate_limit_subscribe", {"email": "a@example.org", "period": "daily"}),
    ],
)
def test_rate_limited_forms_answer_429_with_retry_after(
    site_settings: Settings, engine: Engine, path: str, setting: str, data: dict[str, str]
) -> None:
    limited = site_settings.model_copy(update={setting: "1/hour"})
    with app_client(limited, engine) as client:
        first = post_form(client, path, path, password=PASSWORD, **data)
        assert first.status_code != 429
        second = post_form(client, path, path, password=PASSWORD, **data)
        assert second.status_code == 429, second.text
        assert 0 < int(second.headers["retry-after"]) <= 3600
        assert "Try again in" in second.text
