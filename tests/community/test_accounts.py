"""Sign-up, email verification, log-in/out, password reset and settings, through HTTP with a
real SMTP server; the security properties (CSRF, no open redirect, no account enumeration)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from dailypapers.settings import Settings
from dailypapers.storage.schema import sessions, users
from tests.community.conftest import PASSWORD, csrf_from, login
from tests.smtp import Inbox


def signup(client: TestClient, username: str, email: str, password: str = PASSWORD) -> object:
    token = csrf_from(client, "/signup")
    return client.post(
        "/signup",
        data={"csrf_token": token, "username": username, "email": email, "password": password},
    )


def test_signup_verify_login_logout(client: TestClient, smtp: Inbox, engine: Engine) -> None:
    response = signup(client, "ada", "Ada@Example.org")
    assert response.status_code == 200 and "Check your inbox" in response.text
    # Not confirmed yet: log-in is refused with a way to get a new link.
    token = csrf_from(client, "/login")
    early = client.post(
        "/login", data={"csrf_token": token, "email": "ada@example.org", "password": PASSWORD}
    )
    assert early.status_code == 403 and "Confirm your email" in early.text
    link = smtp.link("ada@example.org", "/verify?token=").replace("http://testserver", "")
    shown = client.get(link)  # link scanners open it: nothing is confirmed by GET
    assert shown.status_code == 200 and "Confirm my email" in shown.text
    confirmed = client.post(
        "/verify",
        data={"csrf_token": csrf_from(client, link), "token": link.split("token=", 1)[1]},
    )
    assert confirmed.status_code == 200 and "Email confirmed" in confirmed.text
    login(client, "ADA@example.org")
    home = client.get("/settings")
    assert home.status_code == 200 and "Signed in as <strong>ada</strong>" in home.text
    out = client.post("/logout", data={"csrf_token": csrf_from(client, "/settings")})
    assert out.status_code == 303
    assert client.get("/settings").status_code == 303  # back to the log-in page
    with engine.connect() as conn:
        assert conn.execute(select(sessions)).first() is None
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_session_cookie_flags(client: TestClient, smtp: Inbox, make_member: object) -> None:
    member = make_member("bob")  # type: ignore[operator]
    token = csrf_from(client, "/login")
    response = client.post(
        "/login", data={"csrf_token": token, "email": member.email, "password": PASSWORD}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http base_url


def test_secure_cookie_over_https(settings: Settings, engine: Engine, make_member: object) -> None:
    from dailypapers.web.app import create_app

    member = make_member("cleo")  # type: ignore[operator]
    https = settings.model_copy(update={"base_url": "https://papers.example.org"})
    app = create_app(https, engine)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = csrf_from(client, "/login")
        response = client.post(
            "/login", data={"csrf_token": token, "email": member.email, "password": PASSWORD}
        )
        assert "secure" in response.headers["set-cookie"].lower()


def test_signup_does_not_reveal_registered_emails(
    client: TestClient, smtp: Inbox, make_member: object
) -> None:
    make_member("dora")  # type: ignore[operator]
    again = signup(client, "someoneelse", "dora@example.org")
    fresh = signup(client, "newperson", "new@example.org")
    assert again.status_code == fresh.status_code == 200
    assert again.text == fresh.text and "Check your inbox" in fresh.text
    # The owner is told by email instead.
    notice = smtp.wait_for("dora@example.org")[0]
    assert "already has an account" in notice.get_body(("plain",)).get_content()


def test_signup_errors_are_clear(client: TestClient, smtp: Inbox, make_member: object) -> None:
    make_member("eve")  # type: ignore[operator]
    cases = [
        ("eve", "other@example.org", PASSWORD, "username is taken"),
        ("x", "x@example.org", PASSWORD, "2 to 32 characters"),
        ("fine_name", "not-an-email", PASSWORD, "not valid"),
        ("fine_name", "a@example.org\r\nBcc: victim@example.org", PASSWORD, "line breaks"),
        ("fine_name", "a" * 250 + "@example.org", PASSWORD, "too long"),
        ("fine_name", "ok@example.org", "short", "at least 8"),
    ]
    for username, email, password, message in cases:
        response = signup(client, username, email, password)
        assert response.status_code == 422, (username, email)
        assert message in response.text, (message, response.text[-2000:])
    assert not smtp.to("victim@example.org")


def test_login_errors_do_not_say_which_part_was_wrong(
    client: TestClient, make_member: object
) -> None:
    member = make_member("fay")  # type: ignore[operator]
    token = csrf_from(client, "/login")
    wrong_password = client.post(
        "/login", data={"csrf_token": token, "email": member.email, "password": "nope-nope"}
    )
    unknown = client.post(
        "/login", data={"csrf_token": token, "email": "who@example.org", "password": "nope-nope"}
    )
    assert wrong_password.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong_password.text
    assert "Wrong email or password." in unknown.text


def test_forged_csrf_is_refused(client: TestClient, make_member: object) -> None:
    member = make_member("gil")  # type: ignore[operator]
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf_from(client, "/login")}):
        response = member.client.post("/settings/profile", data={**data, "display_name": "X"})
        assert response.status_code == 403, data
        assert "did not come from this site" in response.text
    # A token from another site's origin is refused even with the right value.
    good = member.csrf()
    foreign = member.client.post(
        "/settings/profile",
        data={"csrf_token": good, "display_name": "X"},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    ok = member.client.post("/settings/profile", data={"csrf_token": good, "display_name": "Gil G"})
    assert ok.status_code == 303
    # Anonymous forms too: a log-in without the cookie-bound token is refused.
    fresh = TestClient(client.app, follow_redirects=False)
    response = fresh.post("/login", data={"csrf_token": "a.b", "email": member.email})
    assert response.status_code == 403


def test_no_open_redirect_after_login(client: TestClient, make_member: object) -> None:
    member = make_member("hal")  # type: ignore[operator]
    for target, expected in [
        ("/papers?date=2026-06-01", "/papers?date=2026-06-01"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        fresh = TestClient(client.app, follow_redirects=False)
        token = csrf_from(fresh, "/login")
        response = fresh.post(
            "/login",
            data={"csrf_token": token, "email": member.email, "password": PASSWORD, "next": target},
        )
        assert response.headers["location"] == expected, target


def test_expired_session_is_logged_out(
    client: TestClient, engine: Engine, make_member: object
) -> None:
    member = make_member("ida")  # type: ignore[operator]
    assert member.client.get("/settings").status_code == 200
    with engine.begin() as conn:
        conn.execute(update(sessions).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1)))
    assert member.client.get("/settings").status_code == 303


def test_password_reset_works_once(client: TestClient, smtp: Inbox, make_member: object) -> None:
    member = make_member("jan")  # type: ignore[operator]
    token = csrf_from(client, "/reset")
    unknown = client.post("/reset", data={"csrf_token": token, "email": "nobody@example.org"})
    known = client.post("/reset", data={"csrf_token": token, "email": member.email})
    assert unknown.status_code == known.status_code == 200
    assert unknown.text == known.text
    link = smtp.link(member.email, "/reset/confirm?token=").replace("http://testserver", "")
    assert client.get(link).status_code == 200
    reset_token = link.split("token=")[1]
    done = client.post(
        "/reset/confirm",
        data={
            "csrf_token": csrf_from(client, link),
            "token": reset_token,
            "password": "new password 1",
        },
    )
    assert done.status_code == 200 and "Password changed" in done.text
    # The old session ended with the password change; the link is spent.
    assert member.client.get("/settings").status_code == 303
    again = client.get(link)
    assert again.status_code == 400 and "already used" in again.text
    login(TestClient(client.app, follow_redirects=False), member.email, "new password 1")


def test_forged_and_expired_links_are_refused(
    client: TestClient, settings: Settings, make_member: object
) -> None:
    from itsdangerous import URLSafeTimedSerializer

    from dailypapers.community.accounts import make_token

    make_member("kim")  # type: ignore[operator]
    forged = client.get("/verify?token=eyJ1IjoxfQ.forged.sig")
    assert forged.status_code == 400 and "not valid" in forged.text
    other_key = URLSafeTimedSerializer("another-secret", salt="dailypapers.verify").dumps(
        {"u": 1, "e": "kim@example.org"}
    )
    assert client.get(f"/verify?token={other_key}").status_code == 400
    # A reset token used as a verification token is refused (different purpose).
    wrong_purpose = make_token(settings, "reset", {"u": 1, "e": "kim@example.org"})
    assert client.get(f"/verify?token={wrong_purpose}").status_code == 400
    import time

    from itsdangerous.timed import TimestampSigner

    made = URLSafeTimedSerializer(settings.secret_key, salt="dailypapers.verify")
    with pytest.MonkeyPatch.context() as patch:
        old = int(time.time()) - (settings.email_token_hours + 1) * 3600
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: old)
        stale = made.dumps({"u": 1, "e": "kim@example.org"})
    expired = client.get(f"/verify?token={stale}")
    assert expired.status_code == 400 and "expired" in expired.text


def test_login_rate_limit_answers_429(
    settings: Settings, engine: Engine, make_member: object
) -> None:
    from dailypapers.web.app import create_app

    member = make_member("lou")  # type: ignore[operator]
    limited = settings.model_copy(update={"rate_limit_login": "3/minute"})
    with TestClient(create_app(limited, engine), follow_redirects=False) as client:
        token = csrf_from(client, "/login")
        codes = [
            client.post(
                "/login",
                data={"csrf_token": token, "email": member.email, "password": "wrong-wrong"},
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        last = client.post("/login", data={"csrf_token": token, "email": member.email})
        assert last.status_code == 429 and int(last.headers["retry-after"]) > 0


def test_api_tokens_from_settings(make_member: object) -> None:
    member = make_member("max")  # type: ignore[operator]
    page = member.client.post(
        "/settings/tokens", data={"csrf_token": member.csrf(), "name": "laptop"}
    )
    assert page.status_code == 200 and "shown once" in page.text
    token = page.text.split('<code class="token">')[1].split("<")[0]
    assert token.startswith("dp_")
    assert "laptop" in member.client.get("/settings").text
