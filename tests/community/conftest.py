"""Fixtures for community tests: the app with a real SMTP server, users, papers, CSRF."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.community import accounts
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.core.helpers import raw
from tests.smtp import Inbox, SMTPServer

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A real SMTP server on loopback; yields its inbox."""
    with SMTPServer() as server:
        server.inbox.port = server.port  # type: ignore[attr-defined]
        yield server.inbox


def community_settings(settings: Settings, smtp: Inbox, *limits_off: str) -> Settings:
    """``settings`` sending mail to the loopback server, with the community rate limits and
    the named ones (``rate_limit_lists``...) off."""
    off = ("signup", "login", "password_reset", "submit", "comment", "upvote")
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,  # type: ignore[attr-defined]
            "smtp_security": "none",
            "base_url": "http://testserver",
            **{f"rate_limit_{name}": "off" for name in off},
            **dict.fromkeys(limits_off, "off"),
            "cache_vote_lag": 0,
        }
    )


@pytest.fixture
def settings(settings: Settings, smtp: Inbox) -> Settings:
    """The base settings, sending mail to the loopback server, rate limits off."""
    return community_settings(settings, smtp)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """An in-process client; follows no redirects, so tests see each 303."""
    with TestClient(create_app(settings, engine), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def papers(engine: Engine) -> list[str]:
    """Three papers listed today (published today) and one on an older day."""
    today = dt.datetime.now(dt.UTC).date()
    records = [
        raw(f"2606.0000{n}", day=today.isoformat(), published=f"{today}T0{n}:00:00Z")
        for n in (1, 2, 3)
    ] + [raw("2601.00009", day="2026-01-05", published="2026-01-05T10:00:00Z")]
    run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "community"},
        records=lambda _: records,
        explicit_days=True,
    )
    return [r.arxiv_id for r in records]


@dataclass
class Member:
    """A verified user and a client logged in as them."""

    id: int
    username: str
    email: str
    client: TestClient

    def csrf(self, path: str = "/settings") -> str:
        """The CSRF token from a page's form."""
        return csrf_from(self.client, path)


def csrf_from(client: TestClient, path: str) -> str:
    """The CSRF token of the first form on ``path``."""
    page = client.get(path)
    match = CSRF.search(page.text)
    assert match, f"no CSRF field on {path} ({page.status_code})"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Log ``client`` in through the form; asserts it worked."""
    token = csrf_from(client, "/login")
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password, "next": "/"}
    )
    assert response.status_code == 303, response.text
    assert "dp_session" in client.cookies


@pytest.fixture
def make_member(engine: Engine, settings: Settings) -> Iterator[object]:
    """Factory: ``make_member("ada", admin=False)`` -> a logged-in Member."""
    clients: list[TestClient] = []

    def make(name: str, admin: bool = False) -> Member:
        email = f"{name}@example.org"
        with engine.begin() as conn:
            user = accounts.create_user(
                conn, email=email, password=PASSWORD, admin=admin, username=name
            )
        client = TestClient(create_app(settings, engine), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        login(client, email)
        return Member(user["id"], user["username"], email, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api_token(engine: Engine) -> object:
    """Factory: ``api_token(user_id)`` -> a bearer token string."""

    def make(user_id: int) -> str:
        with engine.begin() as conn:
            return accounts.create_api_token(conn, user_id=user_id, name="test")

    return make
