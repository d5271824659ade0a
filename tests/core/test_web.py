"""Pages and their JSON twins through the in-process HTTP client, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.records import RawPaper
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.core.helpers import raw


def load(engine: Engine, records: list[RawPaper]) -> None:
    run_ingest(
        engine=engine,
        source="t",
        params={"n": len(records), "first": records[0].arxiv_id},
        records=lambda _: records,
        explicit_days=True,
    )


def papers_on(day: str, count: int, start: int = 1, **fields: object) -> list[RawPaper]:
    month = day[2:4] + day[5:7]
    return [
        raw(f"{month}.{n:05d}", day=day, published=f"{day}T10:{n % 60:02d}:00Z", **fields)
        for n in range(start, start + count)
    ]


@pytest.fixture
def site(engine: Engine) -> Engine:
    """Mon Jun 1, Tue Jun 2 and Mon Jun 8 2026 have papers; the days between are empty."""
    load(
        engine,
        papers_on("2026-06-01", 3, 1)
        + papers_on("2026-06-02", 2, 10)
        + papers_on("2026-06-08", 1, 20, upvotes=7, submitted_by="akhaliq"),
    )
    return engine


def test_home_shows_the_latest_day(client: TestClient, site: Engine) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Jun 8, 2026" in page.text and "2606.00020" in page.text
    assert "Submitted by akhaliq" in page.text
    assert 'href="/papers?date=2026-06-02"' in page.text  # previous skips the empty days


def test_day_navigation_skips_empty_days(client: TestClient, site: Engine) -> None:
    page = client.get("/papers?date=2026-06-02")
    assert 'rel="prev" href="/papers?date=2026-06-01"' in page.text
    assert 'rel="next" href="/papers?date=2026-06-08"' in page.text
    first = client.get("/papers?date=2026-06-01")
    assert 'class="prev disabled"' in first.text


def test_week_and_month_views(client: TestClient, site: Engine) -> None:
    week = client.get("/papers?week=2026-W23")
    assert week.status_code == 200
    assert "Week 23, 2026" in week.text and "5 papers" in week.text
    assert 'rel="next" href="/papers?week=2026-W24"' in week.text
    month = client.get("/papers?month=2026-06")
    assert "June 2026" in month.text and "6 papers" in month.text
    assert month.text.index("Jun 8, 2026") < month.text.index("Jun 1, 2026")


def test_empty_and_invalid_periods(client: TestClient, site: Engine) -> None:
    empty = client.get("/papers?date=2026-06-05")
    assert empty.status_code == 404
    assert "No papers for Jun 5, 2026" in empty.text
    assert "/papers?date=2026-06-02" in empty.text and "/papers?date=2026-06-08" in empty.text
    for query in (
        "date=2026-02-30",
        "date=yesterday",
        "week=2026-W60",
        "month=2026-13",
        "date=2026-06-01&week=2026-W23",
    ):
        bad = client.get(f"/papers?{query}")
        assert bad.status_code == 400, query
        assert "must look like" in bad.text or "only one" in bad.text
    assert client.get("/papers?date=2026-06-01&p=-1").status_code == 400


def test_paper_page(client: TestClient, engine: Engine) -> None:
    load(
        engine,
        [
            raw(
                "2606.00001v2",
                title="Attention with $O(n)$ memory",
                day="2026-06-01",
                comment="12 pages",
                journal_ref="NeurIPS 2026",
                doi="10.1234/abc",
                license="http://creativecommons.org/licenses/by/4.0/",
            )
        ],
    )
    page = client.get("/papers/2606.00001")
    assert page.status_code == 200
    text = page.text
    assert "Attention with $O(n)$ memory" in text
    assert 'href="https://arxiv.org/abs/2606.00001"' in text
    assert 'href="https://arxiv.org/pdf/2606.00001v2"' in text
    # A journal reference makes it an @article with a journal field (render/bibtex.py).
    assert "@article{lovelace2026attentionmemory," in text and "eprint={2606.00001}" in text
    assert "journal={NeurIPS 2026}" in text
    for piece in (
        "12 pages",
        "NeurIPS 2026",
        "10.1234/abc",
        "v2",
        "cs.LG",
        "stat.ML",
        "Ada Lovelace",
        "/static/katex/katex.min.js",
    ):
        assert piece in text
    redirect = client.get("/papers/2606.00001v1", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/papers/2606.00001"


def test_old_style_ids(client: TestClient, engine: Engine) -> None:
    load(engine, [raw("hep-th/9901001", categories=["hep-th"], day="2026-06-01")])
    assert client.get("/papers/hep-th/9901001").status_code == 200
    assert client.get("/api/papers/hep-th/9901001").json()["id"] == "hep-th/9901001"


def test_unknown_papers_and_pages_are_clear_404s(client: TestClient, site: Engine) -> None:
    for path in ("/papers/2606.99999", "/papers/not-an-id", "/no/such/page"):
        page = client.get(path)
        assert page.status_code == 404 and "text/html" in page.headers["content-type"], path
    api = client.get("/api/papers/2606.99999")
    assert api.status_code == 404 and api.json() == {"error": "paper 2606.99999 not found"}
    assert client.get("/api/nothing").json() == {"error": "Not Found"}


def test_api_daily_papers_shape(client: TestClient, site: Engine) -> None:
    items = client.get("/api/daily_papers?date=2026-06-08").json()
    assert len(items) == 1
    item = items[0]
    assert item["paper"]["id"] == "2606.00020"
    assert [a["name"] for a in item["paper"]["authors"]] == ["Ada Lovelace", "Alan Turing"]
    assert item["paper"]["upvotes"] == item["upvotes"] == 7
    assert item["paper"]["publishedAt"] == "2026-06-08T10:20:00.000Z"
    assert item["submittedBy"]["name"] == "akhaliq"
    assert item["submittedBy"]["fullname"] == "akhaliq"
    assert item["title"] == item["paper"]["title"] and item["summary"] == item["paper"]["summary"]
    assert item["date"] == "2026-06-08"
    latest = client.get("/api/daily_papers").json()
    assert [i["paper"]["id"] for i in latest] == ["2606.00020"]


def test_api_paging_sorting_filters(client: TestClient, site: Engine) -> None:
    week = client.get("/api/daily_papers?week=2026-W23&limit=2").json()
    assert [i["paper"]["id"] for i in week] == ["2606.00011", "2606.00010"]
    page2 = client.get("/api/daily_papers?week=2026-W23&limit=2&p=1").json()
    assert [i["paper"]["id"] for i in page2] == ["2606.00003", "2606.00002"]
    trending = client.get("/api/daily_papers?month=2026-06&sort=trending&limit=1").json()
    assert trending[0]["paper"]["id"] == "2606.00020"
    by = client.get("/api/daily_papers?month=2026-06&submitter=akhaliq").json()
    assert [i["paper"]["id"] for i in by] == ["2606.00020"]
    assert client.get("/api/daily_papers?date=2026-06-05").json() == []


@pytest.mark.parametrize(
    "query",
    [
        "date=2026-13-01",
        "week=W23",
        "month=june",
        "p=-1",
        "p=abc",
        "limit=0",
        "limit=101",
        "sort=random",
        "date=2026-02-30",
        "week=2025-W53",
        "limit=" + "9" * 40,
    ],
)
def test_api_invalid_parameters_are_422_json(client: TestClient, site: Engine, query: str) -> None:
    response = client.get(f"/api/daily_papers?{query}")
    assert response.status_code == 422
    assert response.json()["error"]


def test_health_and_openapi(client: TestClient, site: Engine) -> None:
    health = client.get("/health").json()
    assert {k: health[k] for k in ("status", "database", "papers")} == {
        "status": "ok",
        "database": "ok",
        "papers": 6,
    }
    assert health["index"]["state"] == "missing" and health["storage"]["state"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/daily_papers" in spec["paths"] and "/api/papers/{arxiv_id}" in spec["paths"]
    assert client.get("/docs").status_code == 200


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.mark.parametrize(
    "path",
    [
        "/papers?date={day}",
        "/api/daily_papers?date={day}&limit=100",
        "/papers?week=2026-W23",
        "/papers?month=2026-06",
        "/",
    ],
)
def test_a_day_of_200_papers_costs_the_same_queries_as_a_day_of_2(
    settings: Settings, engine: Engine, path: str
) -> None:
    load(engine, papers_on("2026-06-01", 2, 1) + papers_on("2026-06-03", 200, 100))
    counts = []
    # The response cache off: the second request for a week, month or "/" would be a hit. No
    # index follower: its poll (a query of its own thread) must not land in a request's count.
    quiet = settings.model_copy(update={"cache_max_mb": 0, "index_follow_seconds": 0})
    with TestClient(create_app(quiet, engine)) as client:
        for day in ("2026-06-01", "2026-06-03"):
            url = path.format(day=day)
            if path == "/":
                url = "/"
            with count_queries(engine) as statements:
                assert client.get(url).status_code == 200
            counts.append(len(statements))
    assert counts[0] == counts[1]
    assert counts[0] <= 9  # revision, list, count, previous, next, chart (+ BEGINs on SQLite)


def test_security_headers(client: TestClient, site: Engine) -> None:
    response = client.get("/")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_dates_are_utc(client: TestClient, engine: Engine) -> None:
    load(engine, [raw("2606.00001", published="2026-06-01T23:30:00-05:00", day="2026-06-02")])
    paper = client.get("/api/papers/2606.00001").json()
    assert paper["publishedAt"] == "2026-06-02T04:30:00.000Z"
    assert dt.date.fromisoformat(paper["dailyDate"]) == dt.date(2026, 6, 2)


def test_rows_by_id_keep_visible_papers_in_any_number(engine: Engine) -> None:
    """``entries_for_papers`` (search hits, lists): every visible paper asked for once,
    repeats and unknown or odd ids ignored, hidden papers left out, more than one batch of
    ids (900) at a time, and the day entry joined when there is one."""
    from sqlalchemy import update

    from dailypapers.storage import daily
    from dailypapers.storage.schema import papers

    records = papers_on("2026-06-01", 3, 1) + [
        raw(f"2606.{n:05d}", published="2026-06-01T09:00:00Z") for n in range(100, 1100)
    ]
    load(engine, records)
    with engine.begin() as conn:
        conn.execute(update(papers).where(papers.c.id == "2606.00002").values(hidden=True))
    ids = [r.arxiv_id for r in records]
    asked = ids + ids[:5] + ["2606.99999", "", "x\x00y", "' OR 1=1 --", "é" * 64]
    with engine.connect() as conn:
        found = daily.entries_for_papers(conn=conn, ids=asked)
        assert set(found) == set(ids) - {"2606.00002"}
        assert found["2606.00001"]["day"] == dt.date(2026, 6, 1)
        assert found["2606.00100"]["day"] is None
        assert found["2606.00001"]["published_at"].tzinfo is dt.UTC
        assert daily.entries_for_papers(conn=conn, ids=[]) == {}
        assert list(daily.entries_for_papers(conn=conn, ids=["2606.00003"])) == ["2606.00003"]
