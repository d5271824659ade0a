"""Daily-list repository: which paper is on which day, and the list queries pages are built from.

Every list query is a fixed number of statements whatever the page size (no N+1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Literal

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from dailypapers.records import Listing
from dailypapers.storage.browse import in_categories
from dailypapers.storage.bulk import insert_rows
from dailypapers.storage.schema import comments, daily_entries, papers, users

Sort = Literal["publishedAt", "trending"]
# The submitter named for entries nobody submitted (featured automatically from arXiv's
# announcements, or imported without a submitter); a reserved username.
SYSTEM_SUBMITTER = "arxiv"

# Visible comments per paper, as a correlated subquery (one indexed lookup per row listed).
_COMMENT_COUNT = (
    select(func.count())
    .where(
        comments.c.paper_id == papers.c.id,
        comments.c.hidden.is_(False),
        comments.c.deleted_at.is_(None),
    )
    .correlate(papers)
    .scalar_subquery()
    .label("num_comments")
)

ENTRY_COLUMNS = (
    papers,
    _COMMENT_COUNT,
    daily_entries.c.day,
    daily_entries.c.submitted_at,
    daily_entries.c.origin,
    func.coalesce(
        users.c.display_name, daily_entries.c.submitter_fullname, daily_entries.c.submitter_name
    ).label("submitter"),
    users.c.username.label("submitter_username"),
    daily_entries.c.submitter_name,
)


def _by_submitter(submitter: str) -> ColumnElement[bool]:
    """Entries submitted by ``submitter`` (an account's or an import's username); the system
    submitter's are those nobody submitted."""
    if submitter == SYSTEM_SUBMITTER:
        return and_(users.c.username.is_(None), daily_entries.c.submitter_name.is_(None))
    return func.coalesce(users.c.username, daily_entries.c.submitter_name) == submitter


def add_listings(*, conn: Connection, listings: Sequence[Listing]) -> list[str]:
    """Put papers on their day's list unless already listed; returns the ids newly listed.

    An entry is stamped with its listing's ``listed_at`` (now when it has none). Importing
    an entry again from the same source refreshes its listing time and submitter's full
    name (older imports lacked them). Upvote counts from an import raise the stored count,
    never lower it.
    """
    if not listings:
        return []
    unique: dict[str, Listing] = {}
    for listing in listings:
        unique.setdefault(listing.arxiv_id, listing)
    ids = list(unique)
    already = set(
        conn.execute(select(daily_entries.c.paper_id).where(daily_entries.c.paper_id.in_(ids)))
        .scalars()
        .all()
    )
    now = dt.datetime.now(dt.UTC)
    rows: list[dict[str, object]] = [
        {
            "day": item.day,
            "paper_id": item.arxiv_id,
            "submitter_name": item.submitter_name,
            "submitter_fullname": item.submitter_fullname,
            "submitted_at": item.listed_at or now,
            "origin": item.origin,
        }
        for item in unique.values()
        if item.arxiv_id not in already
    ]
    # Rows for papers already listed were filtered out above. A concurrent writer listing the
    # same paper makes the unique constraint fail this batch's transaction; the ingest run
    # then stops and resumes from its last checkpoint, so nothing is doubled.
    insert_rows(conn=conn, table=daily_entries, rows=rows)
    _refresh_imports(conn, [item for item in unique.values() if item.arxiv_id in already])
    votes = [{"b_id": item.arxiv_id, "n": item.upvotes} for item in unique.values() if item.upvotes]
    if votes:
        conn.execute(
            update(papers)
            .where(and_(papers.c.id == bindparam("b_id"), papers.c.upvotes < bindparam("n")))
            .values(upvotes=bindparam("n")),
            votes,
        )
    return [str(row["paper_id"]) for row in rows]


def _refresh_imports(conn: Connection, listings: Sequence[Listing]) -> None:
    """Listing time and full name of entries already imported from the same source."""
    changes = [
        {
            "b_paper": item.arxiv_id,
            "b_origin": item.origin,
            "b_at": item.listed_at,
            "b_fullname": item.submitter_fullname,
        }
        for item in listings
        if item.listed_at is not None
    ]
    if changes:
        conn.execute(
            update(daily_entries)
            .where(
                daily_entries.c.paper_id == bindparam("b_paper"),
                daily_entries.c.origin == bindparam("b_origin"),
                daily_entries.c.submitted_by_id.is_(None),
            )
            .values(
                submitted_at=bindparam("b_at"),
                submitter_fullname=func.coalesce(
                    bindparam("b_fullname"), daily_entries.c.submitter_fullname
                ),
            ),
            changes,
        )


def _visible_entries() -> Select[tuple[object, ...]]:
    return (
        select(*ENTRY_COLUMNS)
        .select_from(
            daily_entries.join(papers, papers.c.id == daily_entries.c.paper_id).outerjoin(
                users, users.c.id == daily_entries.c.submitted_by_id
            )
        )
        .where(papers.c.hidden.is_(False))
    )


def list_entries(
    *,
    conn: Connection,
    start: dt.date,
    end: dt.date,
    submitter: str | None = None,
    offset: int = 0,
    limit: int = 50,
    categories: Sequence[str] = (),
) -> tuple[list[RowMapping], int]:
    """Papers listed between ``start`` and ``end`` (inclusive), newest first: one page of
    them and the total; only those in ``categories`` when given (storage/browse.py).
    (Trending order is ranked in ``queries/daily.py``.)"""
    where = [daily_entries.c.day >= start, daily_entries.c.day <= end]
    if submitter:
        where.append(_by_submitter(submitter))
    if categories:
        where.append(in_categories(categories))
    order = (daily_entries.c.day.desc(), papers.c.published_at.desc(), papers.c.id.desc())
    query = _visible_entries().where(*where).order_by(*order).offset(offset).limit(limit)
    rows = list(conn.execute(query).mappings())
    # Always counted, so the number of queries does not depend on the page's size.
    count = _visible_entries().with_only_columns(func.count()).where(*where)
    return rows, int(conn.execute(count).scalar_one())


def trending_candidates(
    *,
    conn: Connection,
    start: dt.date,
    end: dt.date,
    submitter: str | None = None,
    categories: Sequence[str] = (),
) -> list[RowMapping]:
    """Id, upvotes, day and publication time of every visible paper listed in the period
    (only those in ``categories`` when given)."""
    where = [daily_entries.c.day >= start, daily_entries.c.day <= end, papers.c.hidden.is_(False)]
    if submitter:
        where.append(_by_submitter(submitter))
    if categories:
        where.append(in_categories(categories))
    query = (
        select(papers.c.id, papers.c.upvotes, daily_entries.c.day, papers.c.published_at)
        .select_from(
            daily_entries.join(papers, papers.c.id == daily_entries.c.paper_id).outerjoin(
                users, users.c.id == daily_entries.c.submitted_by_id
            )
        )
        .where(*where)
    )
    return list(conn.execute(query).mappings())


def entry_for_paper(*, conn: Connection, arxiv_id: str) -> RowMapping | None:
    """A paper with its daily-list entry (day and submitter), if it is on a list."""
    query = (
        select(*ENTRY_COLUMNS)
        .select_from(
            papers.outerjoin(daily_entries, daily_entries.c.paper_id == papers.c.id).outerjoin(
                users, users.c.id == daily_entries.c.submitted_by_id
            )
        )
        .where(papers.c.id == arxiv_id)
    )
    return conn.execute(query).mappings().first()


def latest_day(
    *, conn: Connection, on_or_before: dt.date | None = None, categories: Sequence[str] = ()
) -> dt.date | None:
    """The most recent day that has a visible paper on its list (one in ``categories``
    when given)."""
    query = select(func.max(daily_entries.c.day))
    if on_or_before is not None:
        query = query.where(daily_entries.c.day <= on_or_before)
    if categories:
        query = query.where(in_categories(categories, daily_entries.c.paper_id))
    value = conn.execute(query).scalar_one_or_none()
    return _as_date(value)


def neighbour_days(
    *, conn: Connection, start: dt.date, end: dt.date, categories: Sequence[str] = ()
) -> tuple[dt.date | None, dt.date | None]:
    """The nearest listed day before ``start`` and after ``end`` (skipping empty days; and
    days with nothing in ``categories`` when given)."""
    extra = [in_categories(categories, daily_entries.c.paper_id)] if categories else []
    before = conn.execute(
        select(func.max(daily_entries.c.day)).where(daily_entries.c.day < start, *extra)
    ).scalar_one_or_none()
    after = conn.execute(
        select(func.min(daily_entries.c.day)).where(daily_entries.c.day > end, *extra)
    ).scalar_one_or_none()
    return _as_date(before), _as_date(after)


def _as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    assert isinstance(value, dt.date)
    return value


def iter_entries_with_papers(
    *, conn: Connection, batch_size: int = 1000
) -> Iterator[list[RowMapping]]:
    """All papers (listed or not) with their entry, in id order, keyset-paginated batches."""
    last = ""
    base = select(*ENTRY_COLUMNS).select_from(
        papers.outerjoin(daily_entries, daily_entries.c.paper_id == papers.c.id).outerjoin(
            users, users.c.id == daily_entries.c.submitted_by_id
        )
    )
    while True:
        rows = list(
            conn.execute(
                base.where(papers.c.id > last).order_by(papers.c.id).limit(batch_size)
            ).mappings()
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


# Built once: constructing the select and its cache key took half of the 0.55 ms that 20
# search hits' rows cost (bench/search_latency.py's profile); the ids are one expanding
# parameter, so each call only binds them. On PostgreSQL they are one array parameter
# (``= ANY``): one prepared statement whatever their number, and no placeholder per id to
# render and cast (0.09 ms of 20 hits' 0.9).
_ENTRIES = select(*ENTRY_COLUMNS).select_from(
    papers.outerjoin(daily_entries, daily_entries.c.paper_id == papers.c.id).outerjoin(
        users, users.c.id == daily_entries.c.submitted_by_id
    )
)
_ENTRIES_BY_ID = _ENTRIES.where(
    papers.c.id.in_(bindparam("ids", expanding=True)), papers.c.hidden.is_(False)
)
_ENTRIES_BY_ID_ARRAY = _ENTRIES.where(
    papers.c.id == any_(bindparam("ids", type_=ARRAY(String))), papers.c.hidden.is_(False)
)


def entries_for_papers(*, conn: Connection, ids: Sequence[str]) -> dict[str, RowMapping]:
    """Visible papers with their entry (day, submitter), by id, in one query per 900 ids."""
    found: dict[str, RowMapping] = {}
    unique = list(dict.fromkeys(ids))
    query = _ENTRIES_BY_ID_ARRAY if conn.dialect.name == "postgresql" else _ENTRIES_BY_ID
    for start in range(0, len(unique), 900):
        rows = conn.execute(query, {"ids": unique[start : start + 900]})
        for row in rows.mappings():
            found[row["id"]] = row
    return found


def papers_page(*, conn: Connection, before: str | None, limit: int) -> list[RowMapping]:
    """Visible papers (listed or not) with their entry, by arXiv id descending, those before
    ``before`` (keyset pagination on the primary key), at most ``limit``."""
    query = select(*ENTRY_COLUMNS).select_from(
        papers.outerjoin(daily_entries, daily_entries.c.paper_id == papers.c.id).outerjoin(
            users, users.c.id == daily_entries.c.submitted_by_id
        )
    )
    query = query.where(papers.c.hidden.is_(False))
    if before is not None:
        query = query.where(papers.c.id < before)
    return list(conn.execute(query.order_by(papers.c.id.desc()).limit(limit)).mappings())
