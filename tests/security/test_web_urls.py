"""Issue 11, item 8: a URL from data (a paper's licence) becomes a link only when it is an
absolute http(s) URL; ``javascript:``, ``data:`` and disguised variants are dropped at ingest
and, if already stored, shown as text. Every ``href``/``src`` of every page and email template
is checked to come from a fixed prefix, a server-built link or the one ``safe_url`` filter."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.ingest.normalize import normalize
from dailypapers.records import Paper
from dailypapers.storage.papers import upsert_papers
from dailypapers.urls import safe_url
from tests.core.helpers import raw

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "dailypapers" / "web" / "templates"
HOSTILE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "\x01javascript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/x",
]
# Template expressions that hold links the server builds itself (paths, signed tokens).
SERVER_BUILT = {"link", "link[0]", "error_link", "preview", "unsubscribe", "links.abs", "links.pdf"}
SERVER_BUILT |= {"preferences_url", "unsubscribe_url", "action"}
# The configured base URL followed by this request's own path, or a feed path of ours
# (feeds/discovery.py: canonical, alternates).
SERVER_BUILT |= {"canonical_url", "feed.href"}
# A list's own page, set by the template that includes _period_list.html ("/papers", "/c/...").
SERVER_BUILT |= {"list_path"}


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_url_refuses_every_non_http_link(value: str) -> None:
    assert safe_url(value) is None


def test_safe_url_keeps_real_licences() -> None:
    url = "http://creativecommons.org/licenses/by/4.0/"
    assert safe_url(url) == url
    assert safe_url("https://arxiv.org/licenses/nonexclusive-distrib/1.0/") is not None


@pytest.mark.parametrize("value", HOSTILE)
def test_ingest_drops_hostile_licences(value: str) -> None:
    stored = normalize(raw(license=value)).license
    # Dropped, or (whitespace folded inside the scheme) text no browser reads as a link.
    assert stored is None or not re.match(r"^[a-z][a-z0-9+.-]*:", stored, re.I), stored


def test_ingest_keeps_plain_text_and_http_licences() -> None:
    assert normalize(raw(license="CC BY 4.0")).license == "CC BY 4.0"
    url = "http://creativecommons.org/licenses/by-sa/4.0/"
    assert normalize(raw(license=url)).license == url


def _store(engine: Engine, arxiv_id: str, licence: str) -> None:
    """A paper stored with ``licence`` as is (as an older version or another tool might have)."""
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    paper = Paper(
        arxiv_id=arxiv_id,
        version=1,
        title=f"Paper {arxiv_id}",
        abstract="We study things.",
        authors=("Ada Lovelace",),
        categories=("cs.LG",),
        primary_category="cs.LG",
        published_at=now,
        updated_at=now,
        license=licence,
    )
    with engine.begin() as conn:
        upsert_papers(conn=conn, batch=[paper])


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src|action)\s*=\s*["\']?([^"\' >]*)', html, re.I)


def test_stored_hostile_licence_renders_as_text(client: TestClient, engine: Engine) -> None:
    for n, value in enumerate(HOSTILE, start=1):
        _store(engine, f"2606.0{n:04d}", value)
    _store(engine, "2606.09999", "https://creativecommons.org/licenses/by/4.0/")
    for n, value in enumerate(HOSTILE, start=1):
        for path in (f"/papers/2606.0{n:04d}", f"/api/papers/2606.0{n:04d}"):
            assert client.get(path).status_code == 200, path
        html = client.get(f"/papers/2606.0{n:04d}").text
        assert "Licence" in html
        for link in _links(html):
            assert link.startswith(("/", "https://", "http://", "#")), (value, link)
            assert "script" not in link.lower() and not link.startswith("//"), (value, link)
    safe = client.get("/papers/2606.09999").text
    assert 'href="https://creativecommons.org/licenses/by/4.0/"' in safe
    # The JSON twin never hands a client a scheme it could turn into a link.
    for n, _value in enumerate(HOSTILE, start=1):
        assert client.get(f"/api/papers/2606.0{n:04d}").json()["license"] is None
    licence = client.get("/api/papers/2606.09999").json()["license"]
    assert licence == "https://creativecommons.org/licenses/by/4.0/"


def test_every_template_link_is_fixed_server_built_or_checked() -> None:
    templates = list(TEMPLATES.rglob("*.html"))
    assert any(t.parent.name == "email" for t in templates)
    for template in templates:
        text = template.read_text()
        for value in re.findall(r'(?:href|src|action)="([^"]*)"', text):
            if not value.startswith("{{"):
                # A literal path or a fixed prefix followed by data (``/papers/{{ id }}``).
                assert value.startswith(("/", "#", "https://", "mailto:")), (template, value)
                continue
            expression = value[2:].split("}}", 1)[0].strip()
            if expression == "base" or expression.startswith("base "):
                continue  # the configured site URL
            ok = "| safe_url" in expression or expression in SERVER_BUILT
            assert ok, f"{template.name}: {value} is neither fixed nor checked by safe_url"
