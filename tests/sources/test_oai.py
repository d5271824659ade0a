"""OAI-PMH harvesting: recorded arXiv response (with 503 Retry-After) and hand-written pages."""

from __future__ import annotations

import datetime as dt

import pytest

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.http import Fetcher
from dailypapers.sources.oai import fetch_oai

from .conftest import FIXTURES, FakeTime
from .recorded_http import RecordedServer

FIRST_PAGE = "/oai2?verb=ListRecords&metadataPrefix=arXiv&from=2024-01-01&until=2024-01-02&set=cs"
NEXT_PAGE = "/oai2?verb=ListRecords&resumptionToken=6960524|1001"


@pytest.fixture
def oai(arxiv_server: RecordedServer) -> str:
    arxiv_server.add_text(FIRST_PAGE, (FIXTURES / "oai_page1.xml").read_text())
    arxiv_server.add_text(NEXT_PAGE, (FIXTURES / "oai_page2.xml").read_text())
    return f"{arxiv_server.url}/oai2"


def harvest(fetcher: Fetcher, base_url: str, resume: str | None = None) -> list[RawPaper]:
    return list(
        fetch_oai(
            fetcher,
            base_url=base_url,
            date_from=dt.date(2024, 1, 1),
            date_until=dt.date(2024, 1, 2),
            set_spec="cs",
            resume=resume,
        )
    )


def test_recorded_list_records_after_503_retry_after(
    arxiv_server: RecordedServer, fetcher: Fetcher, fake_time: FakeTime
) -> None:
    papers = list(
        fetch_oai(
            fetcher,
            base_url=f"{arxiv_server.url}/oai2",
            date_from=dt.date(2015, 1, 1),
            date_until=dt.date(2015, 1, 3),
        )
    )
    assert fake_time.sleeps == [10.0]  # the recorded "Retry-After: 10", then no extra spacing
    assert len(arxiv_server.requests) == 2
    assert arxiv_server.requests[0].params == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "from": "2015-01-01",
        "until": "2015-01-03",
    }
    first, second = papers
    assert first.arxiv_id == "1412.8544"
    assert first.authors == ["Sander Uijlen", "Bas Westerbaan"]
    assert first.title == "A Kochen-Specker system has at least 22 vectors (extended abstract)"
    assert first.categories == ["cs.DM"] and first.primary_category == "cs.DM"
    assert first.published == "2014-12-29" and first.updated is None
    assert first.comment == "In Proceedings QPL 2014, arXiv:1412.8102"
    assert first.journal_ref == "EPTCS 172, 2014, pp. 154-164"
    assert first.doi == "10.4204/EPTCS.172.11"
    assert first.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert first.abstract is not None and "Kochen-Specker (KS) system" in first.abstract
    assert first.ref == "record oai:arXiv.org:1412.8544"
    assert second.arxiv_id == "hep-th/9504118"
    assert second.authors == ["M. Requardt"]
    assert second.abstract is not None and '"strength"' in second.abstract


def test_follows_resumption_tokens_and_skips_deleted(
    oai: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    papers = harvest(fetcher, oai)
    assert [p.arxiv_id for p in papers] == [
        "2401.00101",
        "2312.05555",
        "2401.00202",
        "hep-th/9901001",
    ]
    assert [p.cursor for p in papers] == ["|1", "|3", "6960524|1001|1", "6960524|1001|2"]
    assert arxiv_server.requests[1].params == {
        "verb": "ListRecords",
        "resumptionToken": "6960524|1001",
    }
    assert len(arxiv_server.requests) == 2  # the empty token on page 2 ends the harvest
    moreau = papers[1]
    assert moreau.authors == ["Jean-Luc Moreau Jr", "Yui Tanaka"]
    assert moreau.categories == ["cs.DB", "cs.DS"]
    assert (moreau.published, moreau.updated) == ("2023-12-09", "2024-01-02")
    assert (moreau.comment, moreau.doi) == ("9 pages", "10.1000/vldb.2024.1")
    assert papers[0].title == "Tokenizer-Free Retrieval with Byte\n  Patches"  # ingest cleans


def test_resume_from_every_cursor_loses_and_repeats_nothing(
    oai: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    papers = harvest(fetcher, oai)
    for index, paper in enumerate(papers):
        resumed = harvest(fetcher, oai, resume=paper.cursor)
        assert [p.arxiv_id for p in resumed] == [p.arxiv_id for p in papers[index + 1 :]]
        assert [p.cursor for p in resumed] == [p.cursor for p in papers[index + 1 :]]


def test_resume_mid_run_starts_at_the_saved_page(
    oai: str, arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    resumed = harvest(fetcher, oai, resume="6960524|1001|1")
    assert [p.arxiv_id for p in resumed] == ["hep-th/9901001"]
    assert [r.params for r in arxiv_server.requests] == [
        {"verb": "ListRecords", "resumptionToken": "6960524|1001"}
    ]


def test_no_records_match_is_an_empty_harvest(
    arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    arxiv_server.add_text(
        "/oai2?verb=ListRecords&metadataPrefix=arXiv&from=2024-01-06&until=2024-01-07",
        (FIXTURES / "oai_no_records.xml").read_text(),
    )
    papers = fetch_oai(
        fetcher,
        base_url=f"{arxiv_server.url}/oai2",
        date_from=dt.date(2024, 1, 6),
        date_until=dt.date(2024, 1, 7),
    )
    assert list(papers) == []


def test_other_oai_errors_raise(arxiv_server: RecordedServer, fetcher: Fetcher) -> None:
    arxiv_server.add_text(
        "/oai2?verb=ListRecords&resumptionToken=expired|5",
        (FIXTURES / "oai_bad_token.xml").read_text(),
    )
    with pytest.raises(SourceError, match=r"OAI-PMH error badResumptionToken: The value of"):
        list(fetch_oai(fetcher, base_url=f"{arxiv_server.url}/oai2", resume="expired|5|0"))


def test_record_without_metadata_is_an_error_record(
    arxiv_server: RecordedServer, fetcher: Fetcher
) -> None:
    page = (FIXTURES / "oai_page2.xml").read_text()
    broken = page.replace("<id>2401.00202</id>", "<id> </id>")
    arxiv_server.add_text("/oai2?verb=ListRecords&resumptionToken=t1", broken)
    bad, good = fetch_oai(fetcher, base_url=f"{arxiv_server.url}/oai2", resume="t1|0")
    assert bad.error is not None and bad.ref == "record oai:arXiv.org:2401.00202"
    assert bad.cursor == "t1|1"
    assert good.arxiv_id == "hep-th/9901001" and good.error is None


def test_non_xml_page_raises(arxiv_server: RecordedServer, fetcher: Fetcher) -> None:
    arxiv_server.add_text("/oai2?verb=ListRecords&metadataPrefix=arXiv", "Service moved")
    with pytest.raises(SourceError, match="OAI-PMH response is not XML"):
        list(fetch_oai(fetcher, base_url=f"{arxiv_server.url}/oai2"))
