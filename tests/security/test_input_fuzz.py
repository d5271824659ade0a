"""Issue 11, item 18: no 500 from input, HEAD wherever GET, an honest 405, and fuzzing.

The JSON API is fuzzed from its own /openapi.json with schemathesis (no 5xx, every answer
documented: status, content type and body schema). The HTML pages and forms are fuzzed with
hostile values in every path, query and form parameter, as a logged-in admin with a valid
CSRF token so the handlers' bodies run. Everything runs on both backends.
"""

# Fixtures imported from the community tests are parameters of the same name below.
# ruff: noqa: F811

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from dailypapers.index.build import run_index
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.community.conftest import (  # noqa: F401 - fixtures used by the tests below
    Member,
    api_token,
    client,
    make_member,
    papers,
    smtp,
)
from tests.empty_arxiv import empty_arxiv as empty_arxiv_api
from tests.smtp import Inbox

Make = Any
HUGE = [str(2**31), str(2**63), str(2**64), "9" * 40]
HOSTILE = [
    *HUGE,
    "0",
    "-1",
    "1.5",
    "NaN",
    "inf",
    "1e309",
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[2J",
    "é漢字🙂\u202e",
    "../../etc/passwd",
    "%00",
    "%2e%2e%2f",
    "<script>alert(1)</script>",
    "' OR 1=1; --",
    "x" * 3000,
    "9999-12-31",
    "0001-01-01",
    "9999-W52",
    "2026-W99",
    "9999-99",
    "2026-02-30",
    "2606.00001",
    "2606.00001v99999999999999999999",
    "hep-th/9901001",
]
SKIPPED_POSTS = {"/logout"}  # would end the fuzzing session itself


def _assert_no_5xx(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code}: {response.text[:300]}"


def _routes(app: FastAPI, method: str) -> list[APIRoute]:
    """Every route answering ``method``, also those of included routers (no prefixes are
    added at inclusion, so their paths are complete)."""
    found: list[APIRoute] = []
    pending = list(app.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            pending.extend(route.original_router.routes)
    return [r for r in found if method in r.methods]


def _fill(path: str, value: str) -> list[str]:
    """``path`` with each of its parameters in turn set to ``value`` (the others valid)."""
    names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
    valid = {"arxiv_id": "2606.00001", "username": "ada", "what": "hide"}
    out = []
    for name in names:
        url = path
        for other in names:
            text = value if other == name else valid.get(other, "1")
            url = re.sub(r"\{" + other + r"(?::\w+)?\}", _quote(text), url)
        out.append(url)
    return out


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


@pytest.fixture
def settings(settings: Settings, smtp: Inbox, empty_arxiv: str) -> Settings:
    """Mail to the loopback server, no rate limits, keyword search only, an arXiv that has no
    papers (submissions of unknown ids get a clean 404)."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,  # type: ignore[attr-defined]
            "smtp_security": "none",
            "base_url": "http://testserver",
            **{name: "off" for name in Settings.model_fields if name.startswith("rate_limit_")},
            "semantic_search": False,
            "arxiv_api_url": empty_arxiv,
        }
    )


@pytest.fixture
def site(engine: Engine, settings: Settings, papers: list[str]) -> list[str]:
    """Papers on today's list, and a keyword index of them."""
    run_index(engine=engine, root=settings.index_dir, embedder=None)
    return papers


@pytest.fixture
def admin(make_member: Make, site: list[str]) -> Member:
    """A logged-in admin on a site with papers."""
    member: Member = make_member("ada", admin=True)
    return member


def test_known_500s_are_refused_clearly(
    client: TestClient, admin: Member, api_token: Any, papers: list[str]
) -> None:
    page = client.get("/papers?week=9999-W52")
    assert page.status_code == 400 and "between 1900-01-01 and 2999-12-31" in page.text
    api = client.get("/api/daily_papers", params={"week": "9999-W52"})
    assert api.status_code == 422 and "9999" in api.json()["error"]
    assert client.get("/api/papers/search", params={"to": "9999-12-31"}).status_code == 422
    csrf = admin.csrf()
    token = api_token(admin.id)
    for huge in HUGE:
        form = {"csrf_token": csrf, "body": "hello", "parent_id": huge}
        replies = [
            admin.client.post(f"/papers/{papers[0]}/comments", data=form),
            admin.client.get(f"/comments/{huge}/edit"),
            admin.client.post(f"/comments/{huge}/edit", data={"csrf_token": csrf, "body": "x"}),
            admin.client.post(f"/comments/{huge}/delete", data={"csrf_token": csrf}),
            admin.client.post(f"/settings/tokens/{huge}/delete", data={"csrf_token": csrf}),
            admin.client.post(f"/admin/comments/{huge}/hide", data={"csrf_token": csrf}),
        ]
        for reply in replies:
            assert reply.status_code == 400, reply.request.url
            assert "less than or equal to 2147483647" in reply.text
        body = {"body": "hello", "parentId": int(huge)}
        reply = client.post(
            f"/api/papers/{papers[0]}/comments",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 422 and "parentId" in reply.json()["error"]


def test_head_works_wherever_get_does(client: TestClient, papers: list[str]) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    paths = [r.path for r in _routes(app, "GET") if "{" not in r.path]
    paths += [f"/papers/{papers[0]}", f"/api/papers/{papers[0]}", "/static/style.css"]
    for path in paths:
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == get.headers.get("content-type"), path


def test_405_says_method_not_allowed(client: TestClient) -> None:
    page = client.get("/logout")
    assert page.status_code == 405
    assert "Method not allowed" in page.text and "Page not found" not in page.text
    assert "POST" in page.headers["allow"]
    api = client.put("/api/daily_papers")
    assert api.status_code == 405 and api.json()["error"] == "Method Not Allowed"
    assert set(api.headers["allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize("half", [0, 1])
def test_every_get_route_survives_hostile_values(admin: Member, half: int) -> None:
    app: FastAPI = admin.client.app  # type: ignore[assignment]
    routes = _routes(app, "GET")
    assert len(routes) > 20
    routes = routes[half::2]  # two tests of about ten seconds each
    for route in routes:
        queries = [p.alias for p in route.dependant.query_params] + ["p", "date", "token"]
        for value in HOSTILE:
            for url in _fill(route.path, value) or [route.path]:
                _assert_no_5xx(admin.client.get(url), url)
                _assert_no_5xx(admin.client.get(url, params={q: value for q in queries}), url)


@pytest.mark.parametrize("half", [0, 1])
def test_every_form_survives_hostile_values(admin: Member, half: int) -> None:
    app: FastAPI = admin.client.app  # type: ignore[assignment]
    csrf = admin.csrf()
    routes = [r for r in _routes(app, "POST") if r.path not in SKIPPED_POSTS]
    assert len(routes) > 15
    routes = routes[half::2]  # two tests of about ten seconds each
    # Forms read with ``request.form()`` declare no parameters: these are their fields.
    extra = ["email", "token", "period", "trending_count", "categories", "keywords", "authors"]
    for route in routes:
        fields = [p.alias for p in route.dependant.body_params if p.alias != "csrf_token"]
        # Checking a password costs a deliberate ~0.3 s: those forms get every 4th value.
        for value in HOSTILE[::4] if "password" in fields else HOSTILE:
            urls = _fill(route.path, "2606.00001" if "arxiv_id" in route.path else "1")
            for url in urls or [route.path]:
                form = {"csrf_token": csrf, **dict.fromkeys([*fields, *extra], value)}
                _assert_no_5xx(admin.client.post(url, data=form), f"POST {url} {value[:20]!r}")
            for url in _fill(route.path, value):
                _assert_no_5xx(
                    admin.client.post(url, data={"csrf_token": csrf}), f"POST {url[:80]}"
                )


MALFORMED_BODIES = [
    ("multipart/form-data", b"xx"),
    (
        "multipart/form-data; boundary=zz",
        b'--zz\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff\xfe\r\n--zz--\r\n',
    ),
    ("application/x-www-form-urlencoded", b"email=%ZZ&csrf_token=%ff%fe&body=%00"),
    ("application/x-www-form-urlencoded", b"\xff\xfe=\xff"),
    ("application/json", b"{"),
    ("application/json", b'{"body": "x", "parentId": 1e400}'),
    ("text/plain", b"\x00" * 10),
]


def test_malformed_bodies_are_refused_not_500(admin: Member) -> None:
    app: FastAPI = admin.client.app  # type: ignore[assignment]
    paths = [r.path for r in _routes(app, "POST") if r.path not in SKIPPED_POSTS]
    for path in _fill_all(paths):
        for content_type, body in MALFORMED_BODIES:
            reply = admin.client.post(path, content=body, headers={"content-type": content_type})
            _assert_no_5xx(reply, f"POST {path} {content_type} {body[:20]!r}")


def _fill_all(paths: list[str]) -> list[str]:
    """Each path with valid values in its parameters."""
    return [(_fill(path, "2606.00001") or [path])[0] for path in paths]


@pytest.fixture
def empty_arxiv() -> Iterator[str]:
    """URL of a loopback arXiv API that has no papers."""
    with empty_arxiv_api() as url:
        yield url


@pytest.fixture
def api_app(settings: Settings, engine: Engine, site: list[str]) -> Iterator[FastAPI]:
    """The live app on a site with papers and a keyword index."""
    app = create_app(settings, engine)
    with TestClient(app):
        yield app


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _cases(operation: schemathesis.APIOperation, papers: list[str]) -> Any:
    """Valid and invalid generated requests; those about a paper also name stored papers."""
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if "{arxiv_id}" in operation.path:
        strategies += [
            operation.as_strategy(path_parameters={"arxiv_id": paper}) for paper in papers[:2]
        ]
    return hypothesis.strategies.one_of(strategies)


def test_api_matches_its_openapi_schema(
    api_app: FastAPI, make_member: Make, api_token: Any, site: list[str]
) -> None:
    member: Member = make_member("fuzzer")
    auth = {"Authorization": f"Bearer {api_token(member.id)}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @hypothesis.settings(
            max_examples=40,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=_cases(operation, site))
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=auth)
            case.validate_response(response, checks=CHECKS)

        check()
