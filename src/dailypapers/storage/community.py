"""Community repository: votes, submissions, comments and moderation flags.

Vote counts live on ``papers.upvotes`` and change in the same transaction as the vote row,
guarded by the vote's primary key, so concurrent and repeated clicks leave exact counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.daily import ENTRY_COLUMNS
from dailypapers.storage.schema import comments, daily_entries, papers, users, votes


def add_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Record an upvote; False when the user had already voted (nothing changes)."""
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    added = (
        conn.execute(
            upsert_insert(conn, votes)
            .values(user_id=user_id, paper_id=paper_id, created_at=dt.datetime.now(dt.UTC))
            .on_conflict_do_nothing(index_elements=["user_id", "paper_id"])
            .returning(votes.c.user_id)
        ).first()
        is not None
    )
    if added:
        conn.execute(
            update(papers).where(papers.c.id == paper_id).values(upvotes=papers.c.upvotes + 1)
        )
    return bool(added)


def remove_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Withdraw an upvote; False when there was none."""
    removed = conn.execute(
        delete(votes).where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
    ).rowcount
    if removed:
        conn.execute(
            update(papers)
            .where(papers.c.id == paper_id, papers.c.upvotes > 0)
            .values(upvotes=papers.c.upvotes - 1)
        )
    return bool(removed)


def upvote_count(*, conn: Connection, paper_id: str) -> int:
    """A paper's upvote count."""
    return int(
        conn.execute(select(papers.c.upvotes).where(papers.c.id == paper_id)).scalar_one_or_none()
        or 0
    )


def voted(*, conn: Connection, user_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the user has upvoted (one query)."""
    if not ids:
        return set()
    query = select(votes.c.paper_id).where(
        votes.c.user_id == user_id, votes.c.paper_id.in_(list(dict.fromkeys(ids))[:1000])
    )
    return set(conn.execute(query).scalars())


def _entries_join() -> object:
    return daily_entries.join(papers, papers.c.id == daily_entries.c.paper_id).outerjoin(
        users, users.c.id == daily_entries.c.submitted_by_id
    )


def submit_entry(*, conn: Connection, paper_id: str, day: dt.date, user_id: int) -> None:
    """Put a paper on ``day``'s list as submitted by ``user_id`` (unique per paper)."""
    conn.execute(
        insert(daily_entries).values(
            day=day,
            paper_id=paper_id,
            submitted_by_id=user_id,
            submitted_at=dt.datetime.now(dt.UTC),
            origin="submitted",
        )
    )


def listed_day(*, conn: Connection, paper_id: str) -> dt.date | None:
    """The day a paper is listed on, if any."""
    value = conn.execute(
        select(daily_entries.c.day).where(daily_entries.c.paper_id == paper_id)
    ).scalar_one_or_none()
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def submissions(
    *, conn: Connection, user_id: int | None = None, limit: int = 50, include_hidden: bool = False
) -> list[RowMapping]:
    """Papers submitted by people (one user's, or everyone's), newest first."""
    query = (
        select(*ENTRY_COLUMNS)
        .select_from(_entries_join())  # type: ignore[arg-type]
        .where(daily_entries.c.submitted_by_id.is_not(None))
        .order_by(daily_entries.c.submitted_at.desc(), daily_entries.c.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(daily_entries.c.submitted_by_id == user_id)
    if not include_hidden:
        query = query.where(papers.c.hidden.is_(False))
    return list(conn.execute(query).mappings())


def upvoted_papers(*, conn: Connection, user_id: int, limit: int = 50) -> list[RowMapping]:
    """Visible papers a user upvoted, most recent vote first."""
    query = (
        select(*ENTRY_COLUMNS)
        .select_from(
            votes.join(papers, papers.c.id == votes.c.paper_id)
            .outerjoin(daily_entries, daily_entries.c.paper_id == papers.c.id)
            .outerjoin(users, users.c.id == daily_entries.c.submitted_by_id)
        )
        .where(votes.c.user_id == user_id, papers.c.hidden.is_(False))
        .order_by(votes.c.created_at.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def set_paper_hidden(*, conn: Connection, paper_id: str, hidden: bool) -> bool:
    """Hide a paper from lists and search (or show it again); False if unknown."""
    result = conn.execute(update(papers).where(papers.c.id == paper_id).values(hidden=hidden))
    return result.rowcount > 0


COMMENT_COLUMNS = (
    comments,
    users.c.username,
    users.c.display_name,
    users.c.banned_at.label("author_banned_at"),
)


def add_comment(
    *,
    conn: Connection,
    paper_id: str,
    user_id: int,
    body: str,
    html: str,
    parent_id: int | None,
) -> int:
    """Store a comment (its Markdown ``body`` and that body's rendered ``html``); its id."""
    key = conn.execute(
        insert(comments).values(
            paper_id=paper_id,
            user_id=user_id,
            parent_id=parent_id,
            body=body,
            html=html,
            created_at=dt.datetime.now(dt.UTC),
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def get_comment(*, conn: Connection, comment_id: int, lock: bool = False) -> RowMapping | None:
    """One comment with its author; ``lock``: held against deletion until the transaction ends
    (a reply being written to it), on PostgreSQL (SQLite has one writer at a time)."""
    query = (
        select(*COMMENT_COLUMNS)
        .select_from(comments.join(users, users.c.id == comments.c.user_id))
        .where(comments.c.id == comment_id)
    )
    if lock:
        query = query.with_for_update(read=True, of=comments)
    return conn.execute(query).mappings().first()


def paper_comments(*, conn: Connection, paper_id: str) -> list[RowMapping]:
    """Every comment on a paper (hidden and deleted included, the caller decides), oldest first."""
    query = (
        select(*COMMENT_COLUMNS)
        .select_from(comments.join(users, users.c.id == comments.c.user_id))
        .where(comments.c.paper_id == paper_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    return list(conn.execute(query).mappings())


def edit_comment(*, conn: Connection, comment_id: int, body: str, html: str) -> None:
    """Replace a comment's text and its rendered HTML."""
    conn.execute(
        update(comments)
        .where(comments.c.id == comment_id)
        .values(body=body, html=html, edited_at=dt.datetime.now(dt.UTC))
    )


def delete_comment(*, conn: Connection, comment_id: int) -> None:
    """Delete a comment: removed outright when nobody replied, else blanked and marked.

    The row is locked first: a reply being written (which holds its parent with
    ``get_comment(lock=True)``) commits before the count, so it is counted, never deleted
    with its parent by the cascade after its author was told it was stored.
    """
    conn.execute(select(comments.c.id).where(comments.c.id == comment_id).with_for_update())
    has_replies = conn.execute(
        select(func.count()).where(comments.c.parent_id == comment_id)
    ).scalar_one()
    if has_replies:
        conn.execute(
            update(comments)
            .where(comments.c.id == comment_id)
            .values(body="", html="", deleted_at=dt.datetime.now(dt.UTC))
        )
    else:
        conn.execute(delete(comments).where(comments.c.id == comment_id))


def set_comment_hidden(*, conn: Connection, comment_id: int, hidden: bool) -> bool:
    """Hide a comment (moderation) or show it again; False if unknown."""
    result = conn.execute(update(comments).where(comments.c.id == comment_id).values(hidden=hidden))
    return result.rowcount > 0


def recent_comments(*, conn: Connection, limit: int = 50) -> list[RowMapping]:
    """The latest comments on the site, with paper titles, for moderators."""
    query = (
        select(*COMMENT_COLUMNS, papers.c.title.label("paper_title"))
        .select_from(
            comments.join(users, users.c.id == comments.c.user_id).join(
                papers, papers.c.id == comments.c.paper_id
            )
        )
        .where(comments.c.deleted_at.is_(None))
        .order_by(comments.c.created_at.desc(), comments.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def user_comment_count(*, conn: Connection, user_id: int) -> int:
    """How many visible comments a user wrote."""
    query = select(func.count()).where(
        and_(comments.c.user_id == user_id, comments.c.deleted_at.is_(None))
    )
    return int(conn.execute(query).scalar_one())
