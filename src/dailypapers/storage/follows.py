"""Follows repository: what members follow (categories, authors, keywords, other members) and
their "not interested" marks. The one store the web pages, the API, For you and the email
digest read; nothing else keeps a copy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, select

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.schema import follows, not_interested

KINDS = ("category", "author", "keyword", "user")
Follows = dict[str, list[str]]


def fold(value: str) -> str:
    """The key two spellings of one follow share: spaces collapsed, case folded."""
    return " ".join(value.split()).lower()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def add(*, conn: Connection, user_id: int, kind: str, value: str) -> bool:
    """Follow ``value``; False when it was followed already (idempotent)."""
    result = conn.execute(
        upsert_insert(conn, follows)
        .values(user_id=user_id, kind=kind, value=value, key=fold(value), created_at=_now())
        .on_conflict_do_nothing(index_elements=["user_id", "kind", "key"])
        .returning(follows.c.id)
    )
    return result.first() is not None


def remove(*, conn: Connection, user_id: int, kind: str, value: str) -> bool:
    """Stop following ``value``; False when it was not followed."""
    result = conn.execute(
        delete(follows).where(
            follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == fold(value)
        )
    )
    return bool(result.rowcount)


def count(*, conn: Connection, user_id: int, kind: str) -> int:
    """How many ``kind`` follows a member has."""
    found = conn.execute(
        select(func.count()).where(follows.c.user_id == user_id, follows.c.kind == kind)
    ).scalar_one()
    return int(found)


def of_users(*, conn: Connection, user_ids: Sequence[int]) -> dict[int, Follows]:
    """Each member's follows by kind, oldest first, in one query."""
    found: dict[int, Follows] = {int(uid): {kind: [] for kind in KINDS} for uid in user_ids}
    if not found:
        return found
    rows = conn.execute(
        select(follows.c.user_id, follows.c.kind, follows.c.value)
        .where(follows.c.user_id.in_(list(found)))
        .order_by(follows.c.user_id, follows.c.id)
    )
    for user_id, kind, value in rows:
        found[int(user_id)].setdefault(str(kind), []).append(str(value))
    return found


def of_user(*, conn: Connection, user_id: int) -> Follows:
    """One member's follows by kind (every kind present, maybe empty)."""
    return of_users(conn=conn, user_ids=[user_id])[user_id]


def replace_kind(*, conn: Connection, user_id: int, kind: str, values: Sequence[str]) -> None:
    """Make ``values`` the member's whole list of ``kind`` follows (the digest form's save);
    follows kept keep their date."""
    wanted = {fold(v): v for v in values}
    have = set(
        conn.execute(
            select(follows.c.key).where(follows.c.user_id == user_id, follows.c.kind == kind)
        ).scalars()
    )
    gone = have - set(wanted)
    if gone:
        conn.execute(
            delete(follows).where(
                follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key.in_(gone)
            )
        )
    for key, value in wanted.items():
        if key not in have:
            add(conn=conn, user_id=user_id, kind=kind, value=value)


def mark_not_interested(*, conn: Connection, user_id: int, paper_id: str) -> None:
    """Record "not interested" in a paper (idempotent)."""
    conn.execute(
        upsert_insert(conn, not_interested)
        .values(user_id=user_id, paper_id=paper_id, created_at=_now())
        .on_conflict_do_nothing(index_elements=["user_id", "paper_id"])
    )


def unmark_not_interested(*, conn: Connection, user_id: int, paper_id: str) -> None:
    """Take a "not interested" back."""
    conn.execute(
        delete(not_interested).where(
            not_interested.c.user_id == user_id, not_interested.c.paper_id == paper_id
        )
    )


def not_interested_ids(*, conn: Connection, user_id: int, limit: int) -> list[str]:
    """The member's latest "not interested" papers, newest first."""
    rows = conn.execute(
        select(not_interested.c.paper_id)
        .where(not_interested.c.user_id == user_id)
        .order_by(not_interested.c.created_at.desc())
        .limit(limit)
    )
    return [str(pid) for pid in rows.scalars()]
