"""Hugging Face daily papers JSON, from the recorded excerpt and malformed variants."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dailypapers.records import SourceError
from dailypapers.sources.hf_daily import fetch_hf_daily, parse_hf_daily
from dailypapers.sources.http import Fetcher

from .recorded_http import RecordedServer


@pytest.fixture
def excerpt(fixtures_dir: Path) -> str:
    path = fixtures_dir / "hf-daily-papers" / "daily_papers_2024-10-25_excerpt.json"
    if not path.is_file():
        pytest.skip(f"HF daily papers excerpt not found at {path}")
    return path.read_text()


def test_parses_the_recorded_excerpt(excerpt: str) -> None:
    first, second = parse_hf_daily(excerpt)
    assert first.arxiv_id == "2410.17243"
    assert first.upvotes == 64
    assert first.submitted_by == "ClownRat"
    assert first.day == dt.date(2024, 10, 25)  # the entry's own publishedAt
    assert first.published == "2024-10-22T17:59:30.000Z"  # the paper's publishedAt
    assert len(first.authors) == 9 and first.authors[0] == "Zesen Cheng"
    assert first.title is not None and first.title.startswith("Breaking the Memory Barrier")
    assert first.abstract is not None and first.abstract.startswith("Contrastive loss")
    assert (first.ref, first.cursor) == ("entry 2410.17243", "1")
    assert (second.arxiv_id, second.upvotes, second.submitted_by) == ("2410.18234", 2, "mamaj92")


def test_given_day_wins(excerpt: str) -> None:
    papers = list(parse_hf_daily(excerpt, day=dt.date(2024, 10, 26)))
    assert {p.day for p in papers} == {dt.date(2024, 10, 26)}


def test_malformed_entries_become_error_records(excerpt: str) -> None:
    good = json.loads(excerpt)
    no_name = {"paper": {"id": "2410.00001", "upvotes": "many"}, "submittedBy": {"fullname": "F"}}
    entries = [good[0], "not an object", {"paper": {}}, {"paper": {"id": 5}}, no_name, good[1]]
    papers = list(parse_hf_daily(json.dumps(entries)))
    assert [p.error is None for p in papers] == [True, False, False, False, True, True]
    assert [p.ref for p in papers[1:4]] == ["entry 2", "entry 3", "entry 4"]
    assert [p.cursor for p in papers] == ["1", "2", "3", "4", "5", "6"]
    assert (papers[4].submitted_by, papers[4].upvotes, papers[4].day) == ("F", None, None)


@pytest.mark.parametrize(
    ("text", "message"), [("{not json", "not JSON"), ('{"error": "x"}', "is a dict, not a list")]
)
def test_bad_responses_raise(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(parse_hf_daily(text))


def test_fetch_asks_for_the_day(excerpt: str, fetcher: Fetcher) -> None:
    with RecordedServer() as server:
        server.add_text("/api/daily_papers?date=2024-10-25", excerpt)
        papers = list(
            fetch_hf_daily(
                fetcher, base_url=f"{server.url}/api/daily_papers", day=dt.date(2024, 10, 25)
            )
        )
        assert server.requests[0].params == {"date": "2024-10-25"}
    assert [p.arxiv_id for p in papers] == ["2410.17243", "2410.18234"]
    resumed = list(parse_hf_daily(excerpt, resume=papers[0].cursor))
    assert [p.arxiv_id for p in resumed] == ["2410.18234"]
