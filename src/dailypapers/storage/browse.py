"""Browsing by category and by author (the ``paper_authors`` rows written with each paper),
and the counts charts draw (papers per day, votes per day). Each function is one statement
whatever the number of papers it covers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import orjson
from sqlalchemy import ColumnElement, Connection, exists, func, or_, select
from sqlalchemy.engine import RowMapping

from dailypapers.ingest.author_names import surname_key
from dailypapers.storage.schema import daily_entries, paper_authors, paper_categories, papers, votes

MAX_CATEGORIES = 10


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


def author_rows(paper_id: str, authors: Sequence[str]) -> list[dict[str, object]]:
    """The ``paper_authors`` rows of one paper: each author with a letter in their name, with
    its position and folded surname."""
    rows: list[dict[str, object]] = []
    for position, name in enumerate(authors):
        surname = surname_key(name)
        if surname:
            rows.append(
                {"paper_id": paper_id, "position": position, "name": name, "surname": surname}
            )
    return rows


def surname_names(*, conn: Connection, surname: str) -> list[str]:
    """Every author name written on a visible paper with this folded surname, once per paper
    that writes it (the spellings an author page groups)."""
    query = (
        select(paper_authors.c.name)
        .select_from(paper_authors.join(papers, papers.c.id == paper_authors.c.paper_id))
        .where(paper_authors.c.surname == surname, papers.c.hidden.is_(False))
    )
    return list(conn.execute(query).scalars())


def papers_by_names(*, conn: Connection, surname: str, names: Sequence[str]) -> list[RowMapping]:
    """Id, authors, categories and publication time of the visible papers that write any of
    ``names`` (spellings with this folded surname), newest first."""
    by_name = select(paper_authors.c.paper_id).where(
        paper_authors.c.surname == surname, paper_authors.c.name.in_(list(names))
    )
    query = (
        select(papers.c.id, papers.c.authors, papers.c.categories, papers.c.published_at)
        .where(papers.c.hidden.is_(False), papers.c.id.in_(by_name))
        .order_by(papers.c.published_at.desc(), papers.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def json_list(value: object) -> list[str]:
    """A JSON list column (parsed already, or as text)."""
    if isinstance(value, str):
        value = orjson.loads(value)
    assert isinstance(value, list)
    return value


def as_datetime(value: object) -> dt.datetime:
    """A UTC time column (a datetime, or SQLite's text): an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _date(value: object) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    assert isinstance(value, dt.date)
    return value
