"""Everything stored about one user, read out ("my data") or deleted with the account.

The export reads every table with a ``user_id`` column (so a table added later is exported
without a change here), leaving out secrets: password and token hashes, session ids and
CSRF tokens, and uploaded files. Deleting an account hands what others still see (comments
kept, submissions) to the site's one placeholder account, ``[deleted]``, which cannot log
in; everything else of the user goes with the user row (foreign keys cascade).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, exists, func, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.schema import (
    comments,
    daily_entries,
    list_items,
    metadata,
    papers,
    reading_lists,
    subscriptions,
    users,
    votes,
)

GHOST = "[deleted]"  # no username passes check_username's pattern, so no one can take it
SECRET_COLUMNS = {"password_hash", "token_hash", "csrf", "payload"}
SECRET_TABLES = {"sessions": {"id"}}  # a session's id is the hash of its cookie
NOT_PERSONAL = {"rate_limits"}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    return value


def _rows(conn: Connection, query: Any, drop: set[str] | None = None) -> list[dict[str, Any]]:
    hidden = SECRET_COLUMNS | (drop or set())
    return [
        {str(k): _plain(v) for k, v in row.items() if k not in hidden}
        for row in conn.execute(query).mappings()
    ]


def user_tables(*, conn: Connection, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table holding the user's rows (by ``user_id``), secrets left out."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, table in sorted(metadata.tables.items()):
        if "user_id" not in table.c or name in NOT_PERSONAL:
            continue
        query = select(table).where(table.c.user_id == user_id)
        if "id" in table.c and name not in SECRET_TABLES:
            query = query.order_by(table.c.id)
        found[name] = _rows(conn, query, SECRET_TABLES.get(name))
    return found


def user_row(*, conn: Connection, user_id: int) -> dict[str, Any] | None:
    """The user's own row, without the password hash."""
    rows = _rows(conn, select(users).where(users.c.id == user_id))
    return rows[0] if rows else None


def submissions(*, conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The papers the user put on a day's list."""
    query = (
        select(daily_entries.c.paper_id, daily_entries.c.day, daily_entries.c.submitted_at)
        .where(daily_entries.c.submitted_by_id == user_id)
        .order_by(daily_entries.c.submitted_at)
    )
    return _rows(conn, query)


def saved_items(*, conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The papers on the user's lists, with their notes (``list_id`` says which list)."""
    query = (
        select(
            list_items.c.list_id, list_items.c.paper_id, list_items.c.note, list_items.c.added_at
        )
        .join(reading_lists, reading_lists.c.id == list_items.c.list_id)
        .where(reading_lists.c.user_id == user_id)
        .order_by(list_items.c.added_at, list_items.c.paper_id)
    )
    return _rows(conn, query)


def email_subscription(*, conn: Connection, email: str | None) -> list[dict[str, Any]]:
    """A digest subscription made with the user's address but not linked to the account."""
    if not email:
        return []
    query = select(subscriptions).where(
        func.lower(subscriptions.c.email) == email.lower(), subscriptions.c.user_id.is_(None)
    )
    return _rows(conn, query)


def ghost_id(*, conn: Connection) -> int:
    """The placeholder account that deleted users' kept contributions belong to."""
    found = conn.execute(select(users.c.id).where(users.c.username == GHOST)).scalar()
    if found is not None:
        return int(found)
    key = conn.execute(
        users.insert().values(
            username=GHOST,
            display_name="Deleted user",
            email=None,
            password_hash=None,
            is_admin=False,
            created_at=dt.datetime.now(dt.UTC),
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def delete_user(*, conn: Connection, user: RowMapping, remove: bool) -> dict[str, int]:
    """Delete the account. ``remove``: the user's votes are taken off the counts and their
    comments deleted (a comment others replied to stays as "[deleted]", as when deleting one
    comment); otherwise votes stay in the counts and comments stay, shown as by
    "Deleted user". Either way submissions stay on their lists as by "Deleted user". Returns
    counts of what was done."""
    user_id = user["id"]
    ghost = ghost_id(conn=conn)
    voted = select(votes.c.paper_id).where(votes.c.user_id == user_id)
    vote_count = int(conn.execute(select(func.count()).select_from(voted.subquery())).scalar_one())
    if remove:
        conn.execute(
            update(papers)
            .where(papers.c.id.in_(voted), papers.c.upvotes > 0)
            .values(upvotes=papers.c.upvotes - 1)
        )
    conn.execute(delete(votes).where(votes.c.user_id == user_id))
    comment_count = int(
        conn.execute(select(func.count()).where(comments.c.user_id == user_id)).scalar_one()
    )
    if remove:
        conn.execute(
            update(comments)
            .where(comments.c.user_id == user_id)
            .values(body="", html="", deleted_at=dt.datetime.now(dt.UTC), user_id=ghost)
        )
        _drop_deleted_leaves(conn, ghost)
    else:
        conn.execute(update(comments).where(comments.c.user_id == user_id).values(user_id=ghost))
    conn.execute(
        update(daily_entries)
        .where(daily_entries.c.submitted_by_id == user_id)
        .values(submitted_by_id=ghost, submitter_name=None, submitter_fullname=None)
    )
    if user["email"]:
        conn.execute(
            delete(subscriptions).where(func.lower(subscriptions.c.email) == user["email"].lower())
        )
    conn.execute(delete(users).where(users.c.id == user_id))  # the rest cascades
    return {"votes": vote_count, "comments": comment_count}


def _drop_deleted_leaves(conn: Connection, ghost: int) -> None:
    """Delete the placeholder's deleted comments nobody replied to (repeated, so a chain of
    the user's own replies goes entirely)."""
    child = comments.alias("child")
    for _ in range(100):
        leaves = (
            select(comments.c.id)
            .where(
                comments.c.user_id == ghost,
                comments.c.deleted_at.is_not(None),
                ~exists().where(child.c.parent_id == comments.c.id),
            )
            .scalar_subquery()
        )
        if not conn.execute(delete(comments).where(comments.c.id.in_(leaves))).rowcount:
            return
