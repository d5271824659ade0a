"""arXiv listing feeds, RSS 2.0 and Atom forms (hand-written fixtures, see fixtures/README.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.http import Fetcher
from dailypapers.sources.rss import fetch_listing, parse_listing, split_authors

from .conftest import FIXTURES
from .recorded_http import RecordedServer

RSS = (FIXTURES / "rss_cs.LG+cs.CL.xml").read_text()
ATOM = (FIXTURES / "atom_cs.LG+cs.CL.xml").read_text()
FIELDS = [
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "day",
    "announce_type",
    "doi",
    "journal_ref",
    "license",
    "cursor",
    "ref",
    "error",
]


def view(paper: RawPaper) -> dict[str, object]:
    return {name: getattr(paper, name) for name in FIELDS}


@pytest.mark.parametrize("text", [RSS, ATOM], ids=["rss", "atom"])
def test_parses_every_announce_type(text: str) -> None:
    papers = list(parse_listing(text))
    assert [(p.arxiv_id, p.announce_type) for p in papers] == [
        ("2501.00001v1", "new"),
        ("2501.00002v1", "new"),
        ("2501.00417v1", "cross"),
        ("2310.01234v3", "replace"),
        ("2402.05678v2", "replace-cross"),
    ]
    assert all(p.day == dt.date(2025, 1, 2) and p.error is None for p in papers)
    assert [p.cursor for p in papers] == ["1", "2", "3", "4", "5"]
    first = papers[0]
    assert first.title == "Sparse Mixture Routing for Tiny Language Models"
    assert first.abstract is not None
    assert first.abstract.startswith("We study how sparse expert routing")
    assert first.abstract.endswith("a simple load penalty fixes it.")
    assert first.authors == ["Alice Martin", "Bo Chen", "Carla Rossi"]
    assert first.categories == ["cs.LG", "cs.AI"] and first.primary_category == "cs.LG"
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    assert first.ref == "item 2501.00001v1"
    assert papers[1].authors == ["Dmitri Volkov", "Emma O'Neil"]  # affiliation dropped
    assert papers[2].primary_category == "stat.ML"  # a cross-list keeps its own primary
    replaced = papers[3]
    assert replaced.doi == "10.1000/jmlr.2024.5678"
    assert replaced.journal_ref == "J. Mach. Learn. Res. 25 (2024) 1-30"


def test_both_forms_give_the_same_records() -> None:
    assert [view(p) for p in parse_listing(RSS)] == [view(p) for p in parse_listing(ATOM)]


def test_published_is_the_announcement_date_as_given() -> None:
    assert next(parse_listing(RSS)).published == "Thu, 02 Jan 2025 00:00:00 -0500"
    assert next(parse_listing(ATOM)).published == "2025-01-02T00:00:00-05:00"


def test_resume_skips_what_was_read() -> None:
    papers = list(parse_listing(ATOM))
    resumed = list(parse_listing(ATOM, resume=papers[1].cursor))
    assert [view(p) for p in resumed] == [view(p) for p in papers[2:]]


def test_fetch_listing_requests_the_category_url(fetcher: Fetcher) -> None:
    with RecordedServer() as server:
        server.add_text("/atom/cs.LG+cs.CL", ATOM)
        papers = list(
            fetch_listing(fetcher, base_url=f"{server.url}/atom/", categories=["cs.LG", "cs.CL"])
        )
        assert [r.path for r in server.requests] == ["/atom/cs.LG+cs.CL"]
    assert len(papers) == 5


def test_empty_feed_yields_nothing() -> None:
    empty = RSS[: RSS.index("    <item>")] + "  </channel>\n</rss>\n"
    assert list(parse_listing(empty)) == []


def test_item_without_id_is_an_error_record() -> None:
    broken = RSS.replace("arXiv:2501.00002v1 Announce Type: new", "Announce Type: new").replace(
        "oai:arXiv.org:2501.00002v1", "something-else"
    )
    papers = list(parse_listing(broken))
    assert len(papers) == 5
    assert papers[1].error is not None and papers[1].ref == "item 2" and papers[1].cursor == "2"
    assert papers[2].error is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("<html><body>Not found", "not XML"), ("<opml/>", "neither RSS nor Atom")],
)
def test_bad_feeds_raise(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(parse_listing(text))


def test_split_authors() -> None:
    assert split_authors("A. One, B. Two (MIT, CSAIL), C. Three") == [
        "A. One",
        "B. Two",
        "C. Three",
    ]
    assert split_authors("  Solo Author ") == ["Solo Author"]
    assert split_authors("") == []
