"""Paper pages in a real browser (Chromium) as reference managers and link previews read them,
and text-mode LaTeX and comment math as a reader sees them.

The meta tags are read the way Zotero's "Embedded Metadata" translator reads them
(zotero/translators, ``Embedded Metadata.js``): ``getContentText`` takes the first
``html>head>meta[name$="<tag>"]``'s content, ``getContent`` every ``/html/head/meta`` whose
name ends with the tag (authors, PDF URL, keywords), ``HIGHWIRE_MAPPINGS`` names the Zotero
field each tag fills (later tags of the map overwriting earlier ones, as ``processFields``
does), and ``citation_abstract_html_url`` is the item's URL when nothing else gave one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from dailypapers.community import accounts, actions
from dailypapers.index.build import run_index
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.render.latex import to_text
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine, write_transaction
from dailypapers.web.app import create_app
from tests.browser.live import LiveServer, fresh_database
from tests.conftest import BACKENDS
from tests.core.helpers import raw

pytestmark = pytest.mark.browser

BASE = "http://papers.example.org"  # not the live server's address: links come from settings
PAPER = "2606.00001"
TITLE = r"Sparse \emph{attention} with $O(n \log n)$ cost -- at scale"
ABSTRACT = (
    r"We propose \emph{SparseFormer}, a \textbf{fast} model: $x^2 + y^2$ and \(a_{1}\). "
    r"It is ``simple'' and 50\% cheaper; see \href{https://example.org/code}{\texttt{code}}."
    "\n\n"
    r"A second paragraph with {\"o} and Fig.~1."
)
AUTHORS = ["Ada Lovelace", "Jürgen Müller", "Zoë O'Brien-Smith"]
COMMENT = (
    "Nice bound: $x^2$, and \\(\\frac{a}{b}\\). Hostile: $<img src=x onerror=window.pwned=1>$ "
    "[link](javascript:window.pwned=1) costs $5"
)

# Zotero's Embedded Metadata translator, the parts that read Highwire tags.
ZOTERO_JS = """() => {
  const HIGHWIRE_MAPPINGS = {
    citation_title: "title", citation_publication_date: "date", citation_cover_date: "date",
    citation_date: "date", citation_journal_title: "publicationTitle",
    citation_journal_abbrev: "journalAbbreviation", citation_inbook_title: "publicationTitle",
    citation_book_title: "bookTitle", citation_volume: "volume", citation_issue: "issue",
    citation_series_title: "series", citation_conference_title: "conferenceName",
    citation_conference: "conferenceName", citation_dissertation_institution: "university",
    citation_technical_report_institution: "institution",
    citation_technical_report_number: "number", citation_publisher: "publisher",
    citation_isbn: "ISBN", citation_abstract: "abstractNote", citation_doi: "DOI",
    citation_public_url: "url", citation_language: "language"
  };
  const getContentText = (name) => {
    const node = document.querySelector('html>head>meta[name$="' + name + '"]');
    return node ? (node.content || node.getAttribute("contents")) : null;
  };
  const getContent = (name) => {
    const path = '/html/*[local-name() = "head" or local-name() = "body"]/meta['
      + 'substring(@name, string-length(@name)-' + (name.length - 1) + ')="' + name + '"]/@content';
    const snapshot = XPathResult.ORDERED_NODE_SNAPSHOT_TYPE;
    const found = document.evaluate(path, document, null, snapshot, null);
    const values = [];
    for (let i = 0; i < found.snapshotLength; i++) values.push(found.snapshotItem(i).nodeValue);
    return values;
  };
  const item = {};
  for (const meta in HIGHWIRE_MAPPINGS) {
    const value = getContentText(meta);
    if (value && value.trim()) item[HIGHWIRE_MAPPINGS[meta]] = value.trim().replace(/\\s+/g, " ");
  }
  item.creators = getContent("citation_author").flatMap((v) => v.split(/\\s*;\\s*/));
  item.pdf = getContent("citation_pdf_url")[0] || null;
  item.tags = getContent("citation_keywords").flatMap((v) => v.split(";").map((t) => t.trim()))
    .filter(Boolean);
  if (!item.url) item.url = getContentText("citation_abstract_html_url");
  if (!item.date) item.date = getContentText("citation_online_date");
  item.arxiv = getContentText("citation_arxiv_id");
  item.itemType = getContentText("citation_journal_title") ? "journalArticle"
    : getContentText("citation_title") ? "journalArticle (guessed)" : null;
  const property = (p) => {
    const node = document.querySelector('meta[property="' + p + '"], meta[name="' + p + '"]');
    return node ? node.content : null;
  };
  item.card = {};
  for (const p of ["og:title", "og:description", "og:url", "og:type", "og:site_name", "og:image",
                   "twitter:card", "twitter:title"]) item.card[p] = property(p);
  item.canonical = (document.querySelector('link[rel="canonical"]') || {}).href || null;
  const bib = document.querySelector('link[rel="alternate"][type="application/x-bibtex"]');
  item.bibtex = bib ? bib.href : null;
  return item;
}"""


@pytest.fixture(scope="module", params=BACKENDS)
def live_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A live server with one paper (LaTeX in its title and abstract) and one comment."""
    tmp: Path = tmp_path_factory.mktemp(f"citations-{request.param}")
    with fresh_database(request, tmp, request.param, "citations") as url:
        settings = Settings(
            data_dir=tmp / "data",
            database_url=url,
            base_url=BASE,
            semantic_search=False,
            arxiv_request_interval=0,
            rate_limit_signup="off",
            rate_limit_login="off",
        )
        engine = make_engine(url)
        try:
            _fill(engine, settings)
            with LiveServer(create_app(settings, engine)) as server:
                yield server.url
        finally:
            engine.dispose()


def _fill(engine: Any, settings: Settings) -> None:
    records = [
        raw(
            PAPER,
            title=TITLE,
            abstract=ABSTRACT,
            authors=AUTHORS,
            categories=["cs.LG", "stat.ML"],
            published="2026-06-01T12:00:00Z",
            updated="2026-06-03T12:00:00Z",
            day="2026-06-01",
            doi="10.1234/sparse.5",
            journal_ref="J. Sparse Models 12 (2026) 1-20",
        )
    ]
    report = run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "citations"},
        records=lambda _: records,
        explicit_days=True,
    )
    assert report.rejected == 0, report.summary()
    with write_transaction(engine) as conn:
        member = accounts.create_user(
            conn, email="ada@example.org", password="correct horse battery", username="ada"
        )
    actions.add_comment(engine, member, PAPER, COMMENT, None)
    run_index(engine=engine, root=settings.index_dir, embedder=None)


@pytest.fixture
def page(browser: Browser, live_site: str) -> Iterator[Page]:
    """A fresh page on the live site that fails the test on any script error."""
    context = browser.new_context(base_url=live_site)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def test_zotero_reads_the_paper_from_its_meta_tags(page: Page) -> None:
    page.goto(f"/papers/{PAPER}")
    item = page.evaluate(ZOTERO_JS)
    plain_abstract = to_text(" ".join(ABSTRACT.split()), dollar="$")
    assert item["title"] == "Sparse attention with $O(n \\log n)$ cost \u2013 at scale"
    assert item["creators"] == AUTHORS
    assert item["date"] == "2026/06/01"
    assert item["publicationTitle"] == "J. Sparse Models 12 (2026) 1-20"
    assert item["itemType"] == "journalArticle"
    assert item["DOI"] == "10.1234/sparse.5"
    assert item["abstractNote"] == " ".join(plain_abstract.split())  # Zotero's trimInternal
    assert "\\emph" not in item["abstractNote"] and "SparseFormer" in item["abstractNote"]
    assert item["pdf"] == f"https://arxiv.org/pdf/{PAPER}v1"
    assert item["url"] == f"{BASE}/papers/{PAPER}"
    assert item["arxiv"] == PAPER
    assert item["tags"] == ["cs.LG", "stat.ML"]
    card = item["card"]
    assert card["og:title"] == item["title"]
    assert card["og:url"] == f"{BASE}/papers/{PAPER}"  # the configured base, not the Host
    assert card["og:type"] == "article"
    assert card["og:site_name"] == "Daily Papers"
    assert card["og:description"].startswith("We propose SparseFormer, a fast model")
    assert card["twitter:card"] == "summary" and card["twitter:title"] == item["title"]
    assert card["og:image"] is None
    assert item["bibtex"].endswith(f"/papers/{PAPER}.bib")
    online = page.evaluate("document.querySelector('meta[name=citation_online_date]').content")
    assert online == "2026/06/03"


def test_text_mode_latex_renders_as_formatting_and_math_as_katex(page: Page) -> None:
    page.goto(f"/papers/{PAPER}")
    expect(page).to_have_title(
        "Sparse attention with $O(n \\log n)$ cost \u2013 at scale \u00b7 Daily Papers"
    )
    abstract = page.locator(".abstract-full")
    expect(abstract.locator("em").first).to_have_text("SparseFormer")
    expect(abstract.locator("strong")).to_have_text("fast")
    link = abstract.locator("a")
    expect(link).to_have_attribute("href", "https://example.org/code")
    expect(link.locator("code")).to_have_text("code")
    expect(abstract.locator(".katex")).to_have_count(2)  # $x^2 + y^2$ and \(a_{1}\)
    text = abstract.inner_text()
    for raw_macro in ("\\emph", "\\textbf", "\\href", "``", "\\%", '\\"o'):
        assert raw_macro not in text
    assert "\u201csimple\u201d" in text and "50% cheaper" in text and "ö" in text
    title = page.locator("h1.paper-title")
    expect(title.locator("em")).to_have_text("attention")
    expect(title.locator(".katex")).to_have_count(1)
    # The card on the day's list shows the plain text, with its math rendered.
    page.goto("/papers?date=2026-06-01")
    card = page.locator(f'article.card[data-paper-id="{PAPER}"]')
    expect(card.locator(".abstract .katex").first).to_be_visible()
    assert "\\emph" not in card.inner_text() and "SparseFormer" in card.inner_text()
    # So do search results, with the words found highlighted.
    page.goto("/search?q=SparseFormer&mode=keyword")
    result = page.locator(f'article.result[data-paper-id="{PAPER}"]')
    expect(result.locator(".abstract mark").first).to_have_text("SparseFormer")
    assert "\\emph" not in result.inner_text() and "\\textbf" not in result.inner_text()


def test_comment_math_renders_with_katex_and_hostile_math_stays_text(page: Page) -> None:
    page.goto(f"/papers/{PAPER}")
    body = page.locator(".comment-body")
    expect(body.locator(".katex")).to_have_count(3)  # x^2, \frac{a}{b}, the <img> as TeX
    expect(body.locator(".katex annotation").first).to_have_text("x^2")
    assert body.locator("img").count() == 0
    expect(body.locator("a")).to_have_count(0)  # the javascript: link is text
    assert "$5" in body.inner_text()
    assert page.evaluate("window.pwned") is None
