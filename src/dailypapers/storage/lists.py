"""Reading lists repository: named lists of papers, each saved paper with a private note.

A list belongs to one user and has a ``visibility``: ``private`` (its owner only),
``unlisted`` (anyone holding its link: the ``token`` is unguessable) or ``public`` (shown on
the owner's profile, with a feed). Other modules read a user's saved papers through
``saved_paper_ids`` (one query, for the "Saved" mark on cards and for "For you").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.daily import ENTRY_COLUMNS
from dailypapers.storage.schema import daily_entries, list_items, papers, reading_lists, users

VISIBILITIES = ("private", "unlisted", "public")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_list(
    *, conn: Connection, user_id: int, name: str, token: str, visibility: str, description: str = ""
) -> int:
    """Create a list; returns its id (the caller checks the name is free: see ``list_named``)."""
    now = _now()
    return int(
        conn.execute(
            insert(reading_lists)
            .values(
                user_id=user_id,
                token=token,
                name=name,
                description=description,
                visibility=visibility,
                created_at=now,
                updated_at=now,
            )
            .returning(reading_lists.c.id)
        ).scalar_one()
    )


def update_list(*, conn: Connection, list_id: int, **values: str) -> None:
    """Change a list's name, description or visibility."""
    conn.execute(
        update(reading_lists)
        .where(reading_lists.c.id == list_id)
        .values(**values, updated_at=_now())
    )


def delete_list(*, conn: Connection, list_id: int) -> None:
    """Delete a list and its items (an import that filled it keeps its library entries)."""
    conn.execute(delete(reading_lists).where(reading_lists.c.id == list_id))


def _with_counts() -> Select[Any]:
    count = (
        select(func.count())
        .where(list_items.c.list_id == reading_lists.c.id)
        .correlate(reading_lists)
        .scalar_subquery()
    )
    return select(reading_lists, count.label("size"), users.c.username, users.c.display_name).join(
        users, users.c.id == reading_lists.c.user_id
    )


def list_by_token(*, conn: Connection, token: str) -> RowMapping | None:
    """A list by its address, with its size and owner's names; None if unknown."""
    query = _with_counts().where(reading_lists.c.token == token)
    return conn.execute(query).mappings().first()


def list_by_id(*, conn: Connection, list_id: int) -> RowMapping | None:
    """A list by its id, with its size and owner's names."""
    query = _with_counts().where(reading_lists.c.id == list_id)
    return conn.execute(query).mappings().first()


def list_named(*, conn: Connection, user_id: int, name: str) -> RowMapping | None:
    """The user's list called ``name`` (names are unique per user)."""
    query = select(reading_lists).where(
        reading_lists.c.user_id == user_id, reading_lists.c.name == name
    )
    return conn.execute(query).mappings().first()


def user_lists(
    *, conn: Connection, user_id: int, visibility: str | None = None
) -> list[RowMapping]:
    """The user's lists (only those of ``visibility`` when given), by name, with sizes."""
    query = _with_counts().where(reading_lists.c.user_id == user_id)
    if visibility is not None:
        query = query.where(reading_lists.c.visibility == visibility)
    return list(conn.execute(query.order_by(reading_lists.c.name)).mappings())


def save_paper(*, conn: Connection, list_id: int, paper_id: str, note: str | None = None) -> bool:
    """Put a paper on a list (a note given replaces the stored one); True if newly added."""
    statement = upsert_insert(conn, list_items).values(
        list_id=list_id, paper_id=paper_id, note=note or "", added_at=_now()
    )
    if note is None:
        statement = statement.on_conflict_do_nothing(index_elements=["list_id", "paper_id"])
    else:
        statement = statement.on_conflict_do_update(
            index_elements=["list_id", "paper_id"], set_={"note": note}
        )
    added = conn.execute(statement.returning(list_items.c.added_at)).first()
    conn.execute(
        update(reading_lists).where(reading_lists.c.id == list_id).values(updated_at=_now())
    )
    return added is not None


def save_papers(*, conn: Connection, list_id: int, paper_ids: Sequence[str]) -> int:
    """Put many papers on a list at once (an import); returns how many were new."""
    ids = list(dict.fromkeys(paper_ids))
    if not ids:
        return 0
    now = _now()
    statement = (
        upsert_insert(conn, list_items)
        .values([{"list_id": list_id, "paper_id": p, "note": "", "added_at": now} for p in ids])
        .on_conflict_do_nothing(index_elements=["list_id", "paper_id"])
        .returning(list_items.c.paper_id)
    )
    return len(conn.execute(statement).all())


def remove_paper(*, conn: Connection, list_id: int, paper_id: str) -> bool:
    """Take a paper off a list; False if it was not on it."""
    result = conn.execute(
        delete(list_items).where(list_items.c.list_id == list_id, list_items.c.paper_id == paper_id)
    )
    return result.rowcount > 0


def list_papers(
    *, conn: Connection, list_id: int, limit: int | None = None, offset: int = 0
) -> list[RowMapping]:
    """The papers of a list, newest saved first, as card rows (with the note and
    ``added_at``); hidden papers are left out."""
    query = (
        select(
            *ENTRY_COLUMNS,
            list_items.c.note,
            list_items.c.added_at,
        )
        .select_from(
            list_items.join(papers, papers.c.id == list_items.c.paper_id)
            .outerjoin(daily_entries, daily_entries.c.paper_id == papers.c.id)
            .outerjoin(users, users.c.id == daily_entries.c.submitted_by_id)
        )
        .where(list_items.c.list_id == list_id, papers.c.hidden.is_(False))
        .order_by(list_items.c.added_at.desc(), papers.c.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).mappings())


def saved_paper_ids(*, conn: Connection, user_id: int) -> set[str]:
    """Every paper on any of the user's lists (one query): the "Saved" mark on cards, and
    a positive signal for "For you"."""
    query = (
        select(list_items.c.paper_id)
        .join(reading_lists, reading_lists.c.id == list_items.c.list_id)
        .where(reading_lists.c.user_id == user_id)
        .distinct()
    )
    return set(conn.execute(query).scalars())


def saved_items(*, conn: Connection, user_id: int) -> list[RowMapping]:
    """Every (list id, list name, paper id, note, added_at) of the user, oldest first: what
    "For you" explains picks with ("similar to X, which you saved") and "my data" exports."""
    query = (
        select(
            reading_lists.c.id.label("list_id"),
            reading_lists.c.name.label("list_name"),
            list_items.c.paper_id,
            list_items.c.note,
            list_items.c.added_at,
        )
        .join(reading_lists, reading_lists.c.id == list_items.c.list_id)
        .where(reading_lists.c.user_id == user_id)
        .order_by(list_items.c.added_at, list_items.c.paper_id)
    )
    return list(conn.execute(query).mappings())


def lists_holding(*, conn: Connection, user_id: int, paper_id: str) -> dict[int, str]:
    """Which of the user's lists hold ``paper_id``: list id to the paper's note there."""
    query = (
        select(list_items.c.list_id, list_items.c.note)
        .join(reading_lists, reading_lists.c.id == list_items.c.list_id)
        .where(reading_lists.c.user_id == user_id, list_items.c.paper_id == paper_id)
    )
    return {row.list_id: row.note for row in conn.execute(query)}
