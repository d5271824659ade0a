"""Feed repository: the category lists feeds show, and the private feed links of users."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, delete, exists, or_, select
from sqlalchemy.engine import RowMapping

from dailypapers.storage.daily import ENTRY_COLUMNS
from dailypapers.storage.schema import daily_entries, feed_tokens, paper_categories, papers, users

MAX_CATEGORIES = 20


def entries_in_categories(
    *, conn: Connection, categories: Sequence[str], limit: int = 50
) -> list[RowMapping]:
    """The newest listed, visible papers in any of ``categories`` (newest list day first).

    A name matches itself and, like arXiv's archive names, everything under it: ``cs`` is
    every ``cs.*`` category, ``cs.LG`` only ``cs.LG``. One query.
    """
    names = [c for c in dict.fromkeys(categories) if c][:MAX_CATEGORIES]
    if not names:
        return []
    matches = or_(
        *(
            or_(paper_categories.c.category == name, paper_categories.c.category.like(f"{name}.%"))
            for name in names
        )
    )
    in_category = exists().where(paper_categories.c.paper_id == papers.c.id, matches)
    query = (
        select(*ENTRY_COLUMNS)
        .select_from(
            daily_entries.join(papers, papers.c.id == daily_entries.c.paper_id).outerjoin(
                users, users.c.id == daily_entries.c.submitted_by_id
            )
        )
        .where(papers.c.hidden.is_(False), in_category)
        .order_by(daily_entries.c.day.desc(), papers.c.published_at.desc(), papers.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def set_feed_token(*, conn: Connection, user_id: int, token_hash: str) -> None:
    """Give ``user_id`` a new private feed link (the old one stops working)."""
    conn.execute(delete(feed_tokens).where(feed_tokens.c.user_id == user_id))
    conn.execute(
        feed_tokens.insert().values(
            user_id=user_id, token_hash=token_hash, created_at=dt.datetime.now(dt.UTC)
        )
    )


def delete_feed_token(*, conn: Connection, user_id: int) -> bool:
    """Revoke ``user_id``'s private feed link; False when there was none."""
    return bool(conn.execute(delete(feed_tokens).where(feed_tokens.c.user_id == user_id)).rowcount)


def feed_token_created(*, conn: Connection, user_id: int) -> dt.datetime | None:
    """When ``user_id``'s private feed link was made, or None when there is none."""
    query = select(feed_tokens.c.created_at).where(feed_tokens.c.user_id == user_id)
    return conn.execute(query).scalar_one_or_none()


def feed_token_user(*, conn: Connection, token_hash: str) -> RowMapping | None:
    """The user (id, username, display name, banned) whose feed link has ``token_hash``."""
    query = (
        select(users.c.id, users.c.username, users.c.display_name, users.c.banned_at)
        .select_from(feed_tokens.join(users, users.c.id == feed_tokens.c.user_id))
        .where(feed_tokens.c.token_hash == token_hash)
    )
    return conn.execute(query).mappings().first()
