"""Issue 11, item 15: behind a reverse proxy. A form whose ``Origin`` is the configured base URL
is accepted even when ``Host`` is the upstream address nginx's default ``proxy_pass`` sends; a
foreign ``Origin`` is refused; ``X-Forwarded-For`` is believed only from configured proxy
addresses, so rate limits count real clients, not the proxy."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.settings import Settings
from dailypapers.web.app import create_app

BASE = "https://papers.example.org"
REFUSED = "did not come from this site"


def _token(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match
    return match.group(1)


def _login(client: TestClient, token: str, n: int, **headers: str) -> tuple[int, str]:
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": f"nobody{n}@example.org", "password": "wrong"},
        headers=headers,
    )
    return response.status_code, response.text


@pytest.fixture
def proxied(settings: Settings) -> Settings:
    """A site published at ``BASE`` behind a proxy on loopback; one log-in per minute."""
    return settings.model_copy(
        update={
            "base_url": BASE,
            "rate_limit_login": "1/minute",
            "forwarded_allow_ips": "127.0.0.1",
        }
    )


def test_origin_is_checked_against_the_base_url(proxied: Settings, engine: Engine) -> None:
    app = create_app(proxied.model_copy(update={"rate_limit_login": "off"}), engine)
    # What nginx's plain ``proxy_pass http://127.0.0.1:8000`` sends: Host is the upstream.
    # (https: the browser talks TLS to the proxy, so the Secure CSRF cookie comes back.)
    with TestClient(app, base_url="https://127.0.0.1:8000") as client:
        token = _token(client)
        status, text = _login(client, token, 1, Origin=BASE)
        assert REFUSED not in text and status != 403, status
        status, text = _login(client, token, 2, Origin=f"{BASE}:443")
        assert REFUSED not in text, status
        for foreign in ("https://evil.example", "http://papers.example.org", "null"):
            status, text = _login(client, token, 3, Origin=foreign)
            assert status == 403 and REFUSED in text, foreign
        # Without a proxy, a request's own host stays its origin.
        status, text = _login(client, token, 4, Origin="https://127.0.0.1:8000")
        assert REFUSED not in text, status


def test_forwarded_for_from_a_trusted_proxy_separates_clients(
    proxied: Settings, engine: Engine
) -> None:
    app = create_app(proxied, engine)
    with TestClient(app, client=("127.0.0.1", 40000), base_url=BASE) as proxy:
        token = _token(proxy)
        assert _login(proxy, token, 1, **{"X-Forwarded-For": "198.51.100.1"})[0] != 429
        assert _login(proxy, token, 2, **{"X-Forwarded-For": "198.51.100.1"})[0] == 429
        # Another visitor behind the same proxy has a bucket of their own.
        assert _login(proxy, token, 3, **{"X-Forwarded-For": "198.51.100.2"})[0] != 429


def test_forwarded_for_from_anyone_else_is_ignored(proxied: Settings, engine: Engine) -> None:
    app = create_app(proxied, engine)
    with TestClient(app, client=("203.0.113.9", 40000), base_url=BASE) as stranger:
        token = _token(stranger)
        assert _login(stranger, token, 1, **{"X-Forwarded-For": "198.51.100.7"})[0] != 429
        # A made-up address does not buy a fresh bucket: the peer's own address counts.
        assert _login(stranger, token, 2, **{"X-Forwarded-For": "198.51.100.8"})[0] == 429
