"""Browsing by category and by author, and the counts charts draw (papers per day, votes per
day). Each function is one statement whatever the number of papers it covers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import orjson
from sqlalchemy import ColumnElement, Connection, Text, cast, exists, func, or_, select, type_coerce
from sqlalchemy.engine import RowMapping

from dailypapers.storage.schema import daily_entries, paper_categories, papers, votes

MAX_CATEGORIES = 10
MAX_AUTHOR_CANDIDATES = 50_000  # rows a name's first pass may read (a ceiling, not a page)


def in_categories(
    names: Sequence[str], paper_id: ColumnElement[str] | None = None
) -> ColumnElement[bool]:
    """Papers (``paper_id``: papers.id by default) in any of ``names``; an archive name
    (``cs``, ``astro-ph``) also matches every category under it (``cs.CL``), as on arXiv."""
    column = papers.c.id if paper_id is None else paper_id
    matches = or_(
        *(
            paper_categories.c.category == name
            if "." in name
            else or_(
                paper_categories.c.category == name, paper_categories.c.category.like(f"{name}.%")
            )
            for name in list(dict.fromkeys(names))[:MAX_CATEGORIES]
        )
    )
    return exists().where(paper_categories.c.paper_id == column, matches)


def papers_per_day(
    *, conn: Connection, start: dt.date, end: dt.date, categories: Sequence[str] = ()
) -> dict[dt.date, int]:
    """Visible papers listed on each day from ``start`` to ``end`` (days with none left out)."""
    where = [
        daily_entries.c.day >= start,
        daily_entries.c.day <= end,
        papers.c.hidden.is_(False),
    ]
    if categories:
        where.append(in_categories(categories))
    query = (
        select(daily_entries.c.day, func.count())
        .select_from(daily_entries.join(papers, papers.c.id == daily_entries.c.paper_id))
        .where(*where)
        .group_by(daily_entries.c.day)
    )
    return {_date(day): int(n) for day, n in conn.execute(query)}


def vote_times(*, conn: Connection, paper_id: str) -> list[dt.datetime]:
    """When each of the paper's stored votes was cast, oldest first."""
    query = (
        select(votes.c.created_at).where(votes.c.paper_id == paper_id).order_by(votes.c.created_at)
    )
    return list(conn.execute(query).scalars())


def author_candidates(*, conn: Connection, patterns: Sequence[str]) -> list[RowMapping]:
    """Visible papers whose author list, as lower-case text, matches any of the SQL ``LIKE``
    ``patterns`` (a coarse first pass; the caller compares names exactly), newest first: id,
    authors, and categories and publication time unparsed (``json_list``, ``as_datetime``
    read them for the few rows the caller keeps; a common surname has thousands)."""
    query = (
        select(
            papers.c.id,
            papers.c.authors,
            type_coerce(papers.c.categories, Text).label("categories"),
            type_coerce(papers.c.published_at, Text).label("published_at"),
        )
        .where(
            papers.c.hidden.is_(False),
            or_(*(func.lower(cast(papers.c.authors, Text)).like(p) for p in patterns)),
        )
        .order_by(papers.c.published_at.desc(), papers.c.id.desc())
        .limit(MAX_AUTHOR_CANDIDATES)
    )
    return list(conn.execute(query).mappings())


def json_list(value: object) -> list[str]:
    """A JSON list column read as text by ``author_candidates`` (or already parsed)."""
    if isinstance(value, str):
        value = orjson.loads(value)
    assert isinstance(value, list)
    return value


def as_datetime(value: object) -> dt.datetime:
    """A UTC time column read as text by ``author_candidates`` (SQLite gives its text,
    PostgreSQL's driver a datetime): an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _date(value: object) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    assert isinstance(value, dt.date)
    return value
