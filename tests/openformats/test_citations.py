"""Meta tags of a paper page over HTTP: hostile text stays inside its attribute, links come from
the configured base URL whatever the ``Host`` header says, optional tags only when known."""

from __future__ import annotations

from html.parser import HTMLParser

import feedparser
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.render.latex import to_text
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.core.helpers import raw

HOSTILE = '"><script>alert(1)</script> & \\emph{x} <meta name="citation_title" content="fake">'


class _Head(HTMLParser):
    """The ``<meta>`` tags of ``<head>``, and how many scripts say ``alert``."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: list[dict[str, str]] = []
        self.inline_scripts = 0
        self.in_head = False
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "head":
            self.in_head = True
        elif tag == "meta" and self.in_head:
            self.meta.append(values)
        elif tag == "script":
            self.in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        elif tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and "alert" in data:
            self.inline_scripts += 1


def _meta(html: str) -> tuple[dict[str, list[str]], int]:
    head = _Head()
    head.feed(html)
    found: dict[str, list[str]] = {}
    for tag in head.meta:
        name = tag.get("name") or tag.get("property")
        if name:
            found.setdefault(name, []).append(tag.get("content", ""))
    return found, head.inline_scripts


def _ingest(engine: Engine, **fields: object) -> None:
    record = raw("2606.00001", day="2026-06-01", **fields)
    report = run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "citations"},
        records=lambda _: [record],
        explicit_days=True,
    )
    assert report.rejected == 0, report.summary()


def test_hostile_title_stays_in_its_attribute(settings: Settings, engine: Engine) -> None:
    _ingest(engine, title=HOSTILE, authors=['Eve "<b>" Doe'], abstract=HOSTILE)
    site = settings.model_copy(update={"base_url": "https://papers.example.org"})
    with TestClient(create_app(site, engine)) as client:
        response = client.get("/papers/2606.00001", headers={"host": "evil.example"})
    assert response.status_code == 200
    meta, inline_scripts = _meta(response.text)
    assert inline_scripts == 0
    assert meta["citation_title"] == [to_text(HOSTILE, dollar="$")]
    assert meta["citation_author"] == ['Eve "<b>" Doe']
    assert meta["og:title"] == meta["citation_title"]
    assert meta["og:url"] == ["https://papers.example.org/papers/2606.00001"]
    assert meta["citation_abstract_html_url"] == meta["og:url"]
    assert "evil.example" not in response.text


def test_optional_tags_only_when_known(client: TestClient, engine: Engine) -> None:
    _ingest(engine, title="Plain", categories=[], doi=None, journal_ref=None)
    meta, _ = _meta(client.get("/papers/2606.00001").text)
    for absent in ("citation_doi", "citation_journal_title", "citation_keywords", "og:image"):
        assert absent not in meta
    for present in ("citation_title", "citation_date", "citation_pdf_url", "twitter:card"):
        assert present in meta
    assert meta["citation_arxiv_id"] == ["2606.00001"]
    assert meta["citation_author"] == ["Ada Lovelace", "Alan Turing"]


def test_feeds_show_the_plain_text_of_text_mode_latex(client: TestClient, engine: Engine) -> None:
    _ingest(
        engine,
        title=r"\emph{Sparse} models -- with $x^2$",
        abstract=r"We \textbf{prune} 50\% of ``weights''.",
    )
    for url in ("/feeds/daily.rss?date=2026-06-01", "/feeds/daily.atom?date=2026-06-01"):
        feed = feedparser.parse(client.get(url).content)
        (entry,) = feed.entries
        assert entry.title == "Sparse models \u2013 with $x^2$"
        assert "\u201cweights\u201d" in entry.summary and "\\textbf" not in entry.summary
