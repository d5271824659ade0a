"""The daily list: one function behind the home, day/week/month pages and ``/api/daily_papers``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.queries import periods
from dailypapers.queries.periods import Kind, Period
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
) -> DailyList | None:
    """The list for ``period`` (the latest listed day when None); None when nothing is listed.

    Costs a fixed number of queries whatever the number of papers on the page.
    """
    if period is None:
        latest = daily.latest_day(conn=conn)
        if latest is None:
            return None
        period = periods.day(latest)
    entries, total = daily.list_entries(
        conn=conn,
        start=period.start,
        end=period.end,
        sort=sort,
        submitter=submitter,
        offset=page * limit,
        limit=limit,
    )
    previous, following = _neighbour(conn, period.kind, period)
    return DailyList(period, entries, total, page, limit, previous, following, sort)


def paper_detail(*, conn: Connection, arxiv_id: str) -> RowMapping | None:
    """A visible paper with its day and submitter, or None."""
    row = daily.entry_for_paper(conn=conn, arxiv_id=arxiv_id)
    if row is None or row["hidden"]:
        return None
    return row


def arxiv_links(row: RowMapping) -> dict[str, str]:
    """Links to the arXiv abstract and PDF pages of a paper (latest version)."""
    return {
        "abs": f"https://arxiv.org/abs/{row['id']}",
        "pdf": f"https://arxiv.org/pdf/{row['id']}v{row['version']}",
    }


def bibtex(row: RowMapping) -> str:
    """A BibTeX ``@misc`` entry in the form arXiv itself exports."""
    authors = " and ".join(row["authors"]) or "Unknown"
    first = (row["authors"][0].split()[-1] if row["authors"] else "anon").lower()
    first = "".join(ch for ch in first if ch.isalnum()) or "anon"
    year = row["published_at"].year
    word = next((w.lower() for w in row["title"].split() if w.isalpha() and len(w) > 3), "paper")
    fields: list[tuple[str, Any]] = [
        ("title", "{" + row["title"] + "}"),
        ("author", authors),
        ("year", year),
        ("eprint", row["id"]),
        ("archivePrefix", "arXiv"),
        *([("primaryClass", row["primary_category"])] if row["primary_category"] else []),
        ("url", f"https://arxiv.org/abs/{row['id']}"),
    ]
    if row["doi"]:
        fields.append(("doi", row["doi"]))
    if row["journal_ref"]:
        fields.append(("note", row["journal_ref"]))
    body = ",\n".join(f"      {name}={{{value}}}" for name, value in fields)
    return f"@misc{{{first}{year}{word},\n{body}\n}}"
