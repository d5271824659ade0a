"""Issue 11, item 9: Content-Security-Policy and the other security headers on every response,
errors included (a 500 is answered outside the app's own middlewares), HSTS over HTTPS, and no
inline script anywhere that the policy would block."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.settings import Settings
from dailypapers.web.app import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "dailypapers" / "web" / "templates"
EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def _boom() -> None:
    raise RuntimeError("a bug in a handler")


def _app(settings: Settings, engine: Engine) -> FastAPI:
    app = create_app(settings, engine)
    app.add_api_route("/test-only/boom", _boom)  # a handler that fails: a bare 500
    return app


@pytest.fixture
def hclient(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """A client that sees 500s as responses, with a low log-in rate limit."""
    settings = settings.model_copy(update={"rate_limit_login": "1/hour"})
    with TestClient(_app(settings, engine), raise_server_exceptions=False) as client:
        yield client


def _assert_secure(response_headers: object, what: str) -> None:
    headers = dict(response_headers)  # type: ignore[call-overload]
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, f"{what}: {name} missing"
    csp = headers.get("content-security-policy", "")
    for directive in (
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp, f"{what}: CSP lacks {directive}: {csp!r}"
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "camera=()" in headers.get("permissions-policy", ""), what


def test_every_status_carries_the_security_headers(hclient: TestClient) -> None:
    seen = {}
    seen[200] = hclient.get("/")
    seen[404] = hclient.get("/no/such/page")
    seen[405] = hclient.delete("/")
    api_405 = hclient.put("/api/daily_papers")
    form = hclient.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    for n in range(3):
        last = hclient.post(
            "/login",
            data={"csrf_token": token.group(1), "email": f"x{n}@example.org", "password": "nope"},
        )
    seen[429] = last
    seen[500] = hclient.get("/test-only/boom")
    for status, response in seen.items():
        assert response.status_code == status, (status, response.text[:200])
        _assert_secure(response.headers, f"{status} {response.request.url}")
    assert api_405.status_code == 405
    _assert_secure(api_405.headers, "API 405")
    assert "strict-transport-security" not in seen[200].headers  # served over plain HTTP


def test_https_sites_send_hsts(settings: Settings, engine: Engine) -> None:
    secure = settings.model_copy(update={"base_url": "https://papers.example.org"})
    with TestClient(_app(secure, engine), raise_server_exceptions=False) as client:
        for response in (client.get("/"), client.get("/test-only/boom")):
            assert response.headers["strict-transport-security"].startswith("max-age=")


def test_api_docs_page_runs_no_inline_script(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    _assert_secure(response.headers, "/docs")
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)


def test_templates_have_no_inline_script_or_handlers() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", text, re.S):
            assert "src=" in attrs and not body.strip(), f"inline script in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"event handler attribute in {template}"
        assert "javascript:" not in text.lower(), template
