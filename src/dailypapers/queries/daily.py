"""The daily list: one function behind the home, day/week/month pages and ``/api/daily_papers``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.ingest.normalize import Rejected, parse_arxiv_id
from dailypapers.queries import periods
from dailypapers.queries.periods import Kind, Period
from dailypapers.ranking import trending
from dailypapers.storage import daily


@dataclass(slots=True)
class DailyList:
    """One page of a period's list, with navigation to the nearest non-empty periods."""

    period: Period
    entries: list[RowMapping]
    total: int
    page: int
    limit: int
    previous: Period | None
    next: Period | None
    sort: daily.Sort

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.limit))

    @property
    def days(self) -> list[tuple[dt.date, list[RowMapping]]]:
        """Entries grouped by day, newest day first (week and month views)."""
        groups: dict[dt.date, list[RowMapping]] = {}
        for entry in self.entries:
            groups.setdefault(entry["day"], []).append(entry)
        return list(groups.items())


def _neighbour(conn: Connection, kind: Kind, period: Period) -> tuple[Period | None, Period | None]:
    before, after = daily.neighbour_days(conn=conn, start=period.start, end=period.end)
    return (
        periods.around(kind, before) if before else None,
        periods.around(kind, after) if after else None,
    )


def daily_list(
    *,
    conn: Connection,
    period: Period | None,
    page: int = 0,
    limit: int = 50,
    sort: daily.Sort = "publishedAt",
    submitter: str | None = None,
    now: dt.datetime | None = None,
) -> DailyList | None:
    """The list for ``period`` (the latest listed day when None; every day when None with a
    ``submitter``: that person's submissions, newest first); None when nothing is listed.

    Costs a fixed number of queries whatever the number of papers on the page.
    """
    if period is None and submitter:
        period = Period("day", periods.MIN_DATE, periods.MAX_DATE)
    if period is None:
        latest = daily.latest_day(conn=conn)
        if latest is None:
            return None
        period = periods.day(latest)
    if sort == "trending":
        entries, total = trending_page(conn, period, page, limit, submitter, now)
    else:
        entries, total = daily.list_entries(
            conn=conn,
            start=period.start,
            end=period.end,
            submitter=submitter,
            offset=page * limit,
            limit=limit,
        )
    previous, following = _neighbour(conn, period.kind, period)
    return DailyList(period, entries, total, page, limit, previous, following, sort)


def trending_page(
    conn: Connection,
    period: Period,
    page: int,
    limit: int,
    submitter: str | None,
    now: dt.datetime | None,
    categories: tuple[str, ...] = (),
) -> tuple[list[RowMapping], int]:
    """One page of the period's papers in trending order (only ``categories`` when given),
    and how many there are."""
    rows = daily.trending_candidates(
        conn=conn, start=period.start, end=period.end, submitter=submitter, categories=categories
    )
    candidates = [
        trending.Candidate(
            r["id"],
            int(r["upvotes"]),
            r["day"] if isinstance(r["day"], dt.date) else dt.date.fromisoformat(r["day"]),
            r["published_at"],
        )
        for r in rows
    ]
    ranked = trending.rank(candidates, now or dt.datetime.now(dt.UTC))
    ids = [c.paper_id for c in ranked[page * limit : (page + 1) * limit]]
    found = daily.entries_for_papers(conn=conn, ids=ids)
    return [found[i] for i in ids if i in found], len(candidates)


TRENDING_SPANS = {"day": 1, "week": 7, "month": 30}


def trending_list(
    *,
    conn: Connection,
    span: str,
    page: int = 0,
    limit: int = 50,
    now: dt.datetime | None = None,
) -> DailyList | None:
    """Trending papers listed in the last day, 7 days or 30 days up to the latest listed day
    (today on a site that ingests daily); None when nothing is listed."""
    now = now or dt.datetime.now(dt.UTC)
    latest = daily.latest_day(conn=conn, on_or_before=now.date())
    if latest is None:
        return None
    days = TRENDING_SPANS[span]
    start = latest - dt.timedelta(days=days - 1)
    period = Period("day", start, latest)  # the span; pages title it themselves
    entries, total = trending_page(conn, period, page, limit, None, now)
    return DailyList(period, entries, total, page, limit, None, None, "trending")


def paper_detail(*, conn: Connection, arxiv_id: str) -> RowMapping | None:
    """A visible paper with its day and submitter, or None."""
    row = daily.entry_for_paper(conn=conn, arxiv_id=arxiv_id)
    if row is None or row["hidden"]:
        return None
    return row


def papers_page(*, conn: Connection, before: str | None, limit: int) -> list[RowMapping]:
    """Visible papers, listed or not, by arXiv id descending, after the cursor ``before``."""
    return daily.papers_page(conn=conn, before=before, limit=limit)


def named_paper(*, conn: Connection, q: str) -> RowMapping | None:
    """The visible paper whose arXiv id or URL (``arXiv:`` form, version suffix allowed) is
    the whole query, if it is stored: search jumps to it."""
    if len(q) > 300:
        return None
    try:
        arxiv_id, _ = parse_arxiv_id(q)
    except Rejected:
        return None
    return paper_detail(conn=conn, arxiv_id=arxiv_id)


def arxiv_links(row: RowMapping) -> dict[str, str]:
    """Links to the arXiv abstract and PDF pages of a paper (latest version)."""
    return {
        "abs": f"https://arxiv.org/abs/{row['id']}",
        "pdf": f"https://arxiv.org/pdf/{row['id']}v{row['version']}",
    }
