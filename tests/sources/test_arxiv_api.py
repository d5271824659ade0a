"""arXiv API source against the recorded export.arxiv.org responses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dailypapers.records import SourceError
from dailypapers.sources.arxiv_api import build_search_query, fetch_api
from dailypapers.sources.http import Fetcher

from .conftest import FakeTime
from .recorded_http import RecordedServer


@pytest.fixture
def api(arxiv_server: RecordedServer) -> str:
    return f"{arxiv_server.url}/api/query"


@pytest.fixture
def empty_feed(fixtures_dir: Path) -> str:
    return (fixtures_dir / "arxiv-api-fixtures" / "atom_rsxiv" / "query_empty.xml").read_text()


def test_pages_through_results_with_correct_starts(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher, fake_time: FakeTime
) -> None:
    papers = list(fetch_api(fetcher, base_url=api, query="testing", page_size=10, max_results=60))
    assert len(papers) == 60
    assert all(p.error is None for p in papers)
    assert len({p.arxiv_id for p in papers}) == 60
    assert papers[0].arxiv_id == "2202.12139v1"
    assert papers[51].arxiv_id == "cs/0503050v1"  # an old-style id on the last page
    assert [p.cursor for p in papers] == [str(n) for n in range(1, 61)]
    assert [r.params["start"] for r in arxiv_server.requests] == ["0", "10", "20", "30", "40", "50"]
    assert {r.params["max_results"] for r in arxiv_server.requests} == {"10"}
    assert {r.params["sortBy"] for r in arxiv_server.requests} == {"relevance"}
    assert fake_time.sleeps == [3.0] * 5  # arXiv's 3 s between requests


def test_max_results_caps_the_last_page(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    papers = list(fetch_api(fetcher, base_url=api, query="testing", page_size=100, max_results=15))
    assert len(papers) == 15
    assert [(r.params["start"], r.params["max_results"]) for r in arxiv_server.requests] == [
        ("0", "15")
    ]


def test_resume_from_a_cursor_continues_right_after_it(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    first = list(fetch_api(fetcher, base_url=api, query="testing", page_size=15, max_results=15))
    cursor = first[4].cursor
    assert cursor == "5"
    resumed = list(
        fetch_api(
            fetcher, base_url=api, query="testing", page_size=15, max_results=20, resume=cursor
        )
    )
    assert [p.arxiv_id for p in resumed[:10]] == [p.arxiv_id for p in first[5:15]]
    assert resumed[0].cursor == "6"
    assert arxiv_server.requests[-1].params["start"] == "5"

    nine = list(
        fetch_api(fetcher, base_url=api, query="testing", page_size=15, max_results=24, resume="9")
    )
    assert [p.arxiv_id for p in nine[:6]] == [p.arxiv_id for p in first[9:15]]


def test_stops_on_an_empty_page(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher, empty_feed: str
) -> None:
    arxiv_server.add_text(
        "/api/query?search_query=testing&sortBy=relevance&sortOrder=descending"
        "&start=60&max_results=10",
        empty_feed,
    )
    papers = list(fetch_api(fetcher, base_url=api, query="testing", page_size=10, resume="50"))
    assert len(papers) == 10
    assert [r.params["start"] for r in arxiv_server.requests] == ["50", "60"]


def test_stops_when_total_results_is_reached(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    papers = list(fetch_api(fetcher, base_url=api, id_list=["0808.05394", "1707.08567"]))
    assert len(arxiv_server.requests) == 1
    assert arxiv_server.requests[0].params["id_list"] == "0808.05394,1707.08567"
    (paper,) = papers  # 0808.05394 does not exist: arXiv silently leaves it out
    assert paper.arxiv_id == "1707.08567v1"
    assert paper.primary_category == "cs.IT"
    assert paper.categories == ["cs.IT"]
    assert len(paper.authors) == 34
    assert paper.authors[0] == "Kees A. Schouhamer Immink"
    assert paper.comment is not None and paper.comment.startswith("44 pages")
    assert paper.published == "2017-07-27T08:18:33Z"
    assert paper.ref == "entry 1707.08567v1"


def test_entry_fields(api: str, fetcher: Fetcher) -> None:
    (paper,) = fetch_api(fetcher, base_url=api, id_list=["2104.12255v1"])
    assert paper.arxiv_id == "2104.12255v1"
    assert paper.title == "0"  # a real title that is falsy-looking
    assert paper.abstract is not None and paper.abstract.startswith("What is the funniest")
    assert paper.authors == ["Quan Thoi Minh Nguyen"]
    assert (paper.published, paper.updated) == ("2021-04-20T16:07:14Z", "2021-04-20T16:07:14Z")
    assert paper.journal_ref is None and paper.doi is None and paper.comment is None
    assert paper.cursor == "1"


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("astro-ph/0601001", "astro-ph/0601001v1"), ("quant-ph/0201082v1", "quant-ph/0201082v1")],
)
def test_old_style_ids(api: str, fetcher: Fetcher, requested: str, expected: str) -> None:
    (paper,) = fetch_api(fetcher, base_url=api, id_list=[requested])
    assert paper.arxiv_id == expected
    assert paper.error is None


def test_old_style_id_fields(api: str, fetcher: Fetcher) -> None:
    (paper,) = fetch_api(fetcher, base_url=api, id_list=["astro-ph/0601001"])
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert paper.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert paper.categories == ["astro-ph"] and paper.primary_category == "astro-ph"


def test_missing_id_yields_nothing(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    assert list(fetch_api(fetcher, base_url=api, id_list=["0000.0000"])) == []
    assert len(arxiv_server.requests) == 1


def test_http_400_raises_with_arxivs_message(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher, fake_time: FakeTime
) -> None:
    with pytest.raises(SourceError, match=r"^HTTP 400 from .*: incorrect id format for abc$"):
        list(fetch_api(fetcher, base_url=api, id_list=["abc"]))
    assert len(arxiv_server.requests) == 1  # not retried
    assert fake_time.sleeps == []


def test_error_entry_in_a_200_page_raises(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher, fixtures_dir: Path
) -> None:
    body = fixtures_dir / "arxiv-api-fixtures/atom_arxiv_py/id_abc_s0_m100_b79c8dcf6bc3.xml"
    arxiv_server.add_text(
        "/api/query?id_list=xyz&sortBy=relevance&sortOrder=descending&start=0&max_results=100",
        body.read_text(),
    )
    with pytest.raises(SourceError, match="arXiv API error: incorrect id format for abc"):
        list(fetch_api(fetcher, base_url=api, id_list=["xyz"]))


def test_entry_without_id_becomes_an_error_record(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    feed = """<feed xmlns="http://www.w3.org/2005/Atom"
                    xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
      <opensearch:totalResults>2</opensearch:totalResults>
      <entry><title>No id here</title></entry>
      <entry><id>http://arxiv.org/abs/2401.00001v2</id><title>Fine</title></entry>
    </feed>"""
    arxiv_server.add_text(
        "/api/query?id_list=2401.00001&sortBy=relevance&sortOrder=descending"
        "&start=0&max_results=100",
        feed,
    )
    bad, good = fetch_api(fetcher, base_url=api, id_list=["2401.00001"])
    assert bad.error is not None and bad.cursor == "1" and bad.arxiv_id is None
    assert good.error is None and good.arxiv_id == "2401.00001v2" and good.cursor == "2"


def test_non_xml_page_raises(api: str, arxiv_server: RecordedServer, fetcher: Fetcher) -> None:
    arxiv_server.add_text(
        "/api/query?search_query=x&sortBy=relevance&sortOrder=descending&start=0&max_results=100",
        "<html><body>maintenance",
    )
    with pytest.raises(SourceError, match="arXiv API response is not XML"):
        list(fetch_api(fetcher, base_url=api, query="x"))


def test_category_window_query_is_sorted_by_submission_date(
    api: str, arxiv_server: RecordedServer, fetcher: Fetcher, empty_feed: str
) -> None:
    search = "(cat:cs.LG OR cat:cs.CL) AND submittedDate:[202401010000 TO 202401022359]"
    arxiv_server.add_text(
        f"/api/query?search_query={search}&sortBy=submittedDate&sortOrder=descending"
        "&start=0&max_results=50",
        empty_feed,
    )
    papers = fetch_api(
        fetcher,
        base_url=api,
        categories=["cs.LG", "cs.CL"],
        date_from=dt.date(2024, 1, 1),
        date_to=dt.date(2024, 1, 2),
        page_size=50,
    )
    assert list(papers) == []
    assert arxiv_server.requests[0].params["search_query"] == search


def test_build_search_query() -> None:
    assert build_search_query(categories=["cs.LG"]) == "cat:cs.LG"
    assert build_search_query(
        categories=["cs.LG"], date_from=dt.date(2024, 5, 1), query="ti:llm"
    ).startswith("cat:cs.LG AND submittedDate:[202405010000 TO ")
    assert build_search_query(categories=["cs.LG"], query="abs:x OR abs:y").endswith(
        " AND (abs:x OR abs:y)"
    )
    assert build_search_query(query="all:electron") == "all:electron"


def test_needs_something_to_ask_for(fetcher: Fetcher) -> None:
    with pytest.raises(ValueError, match="needs"):
        next(fetch_api(fetcher, base_url="http://127.0.0.1:9/api/query"))
