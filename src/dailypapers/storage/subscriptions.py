"""Subscriptions repository: digest subscribers, delivery claims (exactly once) and job locks.

A member's subscription (one linked to an account) keeps no categories, keywords or authors
of its own: they are the member's follows (``storage/follows.py``). Every read here gives them
back in the row's ``categories``, ``keywords`` and ``authors``, and every write of those
columns goes to the follows, so the digest, the web site and For you share one list.

A delivery row is claimed (``sending``) in its own committed transaction before the message
goes to SMTP, and marked ``sent`` or ``failed`` afterwards; the unique key
(subscription, period) makes a second claim for the same period fail, whoever tries it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.engine.result import result_tuple
from sqlalchemy.exc import IntegrityError

from dailypapers.storage import follows as follows_repo
from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.schema import (
    digest_deliveries,
    embeddings,
    job_locks,
    papers,
    subscriptions,
    votes,
)

PREFERENCE_FIELDS = ("period", "trending_count", "categories", "keywords", "authors", "similar")
# The preference columns a member's follows stand in for, with the kind of follow of each.
FOLLOWED = {"categories": "category", "keywords": "keyword", "authors": "author"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create(
    *, conn: Connection, email: str, status: str, user_id: int | None = None, **preferences: Any
) -> int:
    """Insert a subscription; returns its id (the email must not be subscribed yet)."""
    now = _now()
    values = {"categories": [], "keywords": [], "authors": [], "similar": True, **preferences}
    result = conn.execute(
        insert(subscriptions).values(
            email=email,
            user_id=user_id,
            status=status,
            created_at=now,
            confirmed_at=now if status == "active" else None,
            **values,
        )
    )
    assert result.inserted_primary_key is not None
    subscription_id = int(result.inserted_primary_key[0])
    if user_id is not None:
        _settle(conn, subscription_id, set(FOLLOWED))
    return subscription_id


def _settle(conn: Connection, subscription_id: int, written: set[str]) -> None:
    """Move a member's preference lists into their follows: the ``written`` columns replace
    those follows, and lists left in the row from before it was linked to the member too."""
    row = (
        conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
        .mappings()
        .first()
    )
    if row is None or row["user_id"] is None:
        return
    moved = False
    for column, kind in FOLLOWED.items():
        if column in written or row[column]:
            follows_repo.replace_kind(
                conn=conn, user_id=int(row["user_id"]), kind=kind, values=list(row[column])
            )
            moved = moved or bool(row[column])
    if moved:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(categories=[], keywords=[], authors=[])
        )


def _with_follows(conn: Connection, rows: list[RowMapping]) -> list[RowMapping]:
    """Rows whose member's follows fill ``categories``, ``keywords`` and ``authors`` (one
    query for all of them)."""
    members = [int(r["user_id"]) for r in rows if r["user_id"] is not None]
    if not members:
        return rows
    found = follows_repo.of_users(conn=conn, user_ids=members)
    out: list[RowMapping] = []
    for row in rows:
        if row["user_id"] is None:
            out.append(row)
            continue
        mine = found[int(row["user_id"])]
        values = {**row, **{col: list(mine.get(kind, [])) for col, kind in FOLLOWED.items()}}
        out.append(result_tuple(list(values))(tuple(values.values()))._mapping)
    return out


def _one(conn: Connection, row: RowMapping | None) -> RowMapping | None:
    return None if row is None else _with_follows(conn, [row])[0]


def by_id(*, conn: Connection, subscription_id: int) -> RowMapping | None:
    """One subscription, or None."""
    return _one(
        conn,
        conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
        .mappings()
        .first(),
    )


def by_email(*, conn: Connection, email: str) -> RowMapping | None:
    """The subscription of an address, or None."""
    return _one(
        conn,
        conn.execute(select(subscriptions).where(subscriptions.c.email == email))
        .mappings()
        .first(),
    )


def by_user(*, conn: Connection, user_id: int) -> RowMapping | None:
    """The subscription linked to a user account, or None."""
    return _one(
        conn,
        conn.execute(select(subscriptions).where(subscriptions.c.user_id == user_id))
        .mappings()
        .first(),
    )


def update_subscription(*, conn: Connection, subscription_id: int, **values: Any) -> None:
    """Change columns of one subscription (a member's lists go to their follows)."""
    conn.execute(
        update(subscriptions).where(subscriptions.c.id == subscription_id).values(**values)
    )
    _settle(conn, subscription_id, set(values) & set(FOLLOWED))


def list_all(*, conn: Connection, status: str | None = None) -> list[RowMapping]:
    """Every subscription (optionally of one status), oldest first."""
    query = select(subscriptions).order_by(subscriptions.c.id)
    if status:
        query = query.where(subscriptions.c.status == status)
    return _with_follows(conn, list(conn.execute(query).mappings()))


def due(*, conn: Connection, period: str, period_key: str) -> list[RowMapping]:
    """Active subscriptions of ``period`` with no delivery row yet for ``period_key``."""
    claimed = select(digest_deliveries.c.subscription_id).where(
        digest_deliveries.c.period_key == period_key
    )
    query = (
        select(subscriptions)
        .where(
            subscriptions.c.status == "active",
            subscriptions.c.period == period,
            subscriptions.c.id.not_in(claimed),
        )
        .order_by(subscriptions.c.id)
    )
    return _with_follows(conn, list(conn.execute(query).mappings()))


def voted_papers(*, conn: Connection, user_ids: Sequence[int], limit: int) -> dict[int, list[str]]:
    """The most recent upvoted paper ids of each user (newest first), in one query."""
    if not user_ids:
        return {}
    rows = conn.execute(
        select(votes.c.user_id, votes.c.paper_id)
        .where(votes.c.user_id.in_(list(user_ids)))
        .order_by(votes.c.user_id, votes.c.created_at.desc())
    ).all()
    found: dict[int, list[str]] = {}
    for user_id, paper_id in rows:
        bucket = found.setdefault(int(user_id), [])
        if len(bucket) < limit:
            bucket.append(str(paper_id))
    return found


def claim(*, conn: Connection, subscription_id: int, period_key: str, message_id: str) -> bool:
    """Record that this period's digest is being sent; False if it was claimed before.

    Commit before sending: the committed row is what stops a second run from sending.
    """
    result = conn.execute(
        upsert_insert(conn, digest_deliveries)
        .values(
            subscription_id=subscription_id,
            period_key=period_key,
            status="sending",
            message_id=message_id,
            claimed_at=_now(),
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "period_key"])
        .returning(digest_deliveries.c.id)
    )
    return result.first() is not None


def finish(
    *, conn: Connection, subscription_id: int, period_key: str, status: str, error: str | None
) -> None:
    """Mark a claimed delivery ``sent`` or ``failed``."""
    conn.execute(
        update(digest_deliveries)
        .where(
            digest_deliveries.c.subscription_id == subscription_id,
            digest_deliveries.c.period_key == period_key,
        )
        .values(status=status, error=error, finished_at=_now())
    )


def stuck(*, conn: Connection, period_key: str) -> list[RowMapping]:
    """Deliveries of ``period_key`` left in ``sending`` by a run that stopped mid-send."""
    return list(
        conn.execute(
            select(digest_deliveries).where(
                digest_deliveries.c.period_key == period_key,
                digest_deliveries.c.status == "sending",
            )
        ).mappings()
    )


def release(*, conn: Connection, subscription_ids: Sequence[int], period_key: str) -> int:
    """Forget claims so the next run sends again (operators' ``--resend-stuck``)."""
    result = conn.execute(
        delete(digest_deliveries).where(
            digest_deliveries.c.period_key == period_key,
            digest_deliveries.c.subscription_id.in_(list(subscription_ids)),
            digest_deliveries.c.status != "sent",
        )
    )
    return int(result.rowcount or 0)


def delivery_counts(*, conn: Connection, period_key: str) -> dict[str, int]:
    """Number of deliveries of ``period_key`` by status."""
    rows = conn.execute(
        select(digest_deliveries.c.status, func.count())
        .where(digest_deliveries.c.period_key == period_key)
        .group_by(digest_deliveries.c.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def take_lock(*, conn: Connection, key: str, owner: str) -> bool:
    """Insert the lock row ``key``; False when another worker already holds or held it."""
    try:
        with conn.begin_nested():
            conn.execute(insert(job_locks).values(key=key, owner=owner, started_at=_now()))
    except IntegrityError:
        return False
    return True


def finish_lock(*, conn: Connection, key: str) -> None:
    """Record when the job behind a lock ended."""
    conn.execute(update(job_locks).where(job_locks.c.key == key).values(finished_at=_now()))


def embedding_vectors(*, conn: Connection, ids: Sequence[str]) -> dict[str, Any]:
    """Stored embedding vectors of ``ids`` (one model: the one most of them have)."""
    if not ids:
        return {}
    rows = conn.execute(
        select(embeddings.c.paper_id, embeddings.c.model, embeddings.c.vector).where(
            embeddings.c.paper_id.in_(list(ids))
        )
    ).all()
    models: dict[str, int] = {}
    for row in rows:
        models[row.model] = models.get(row.model, 0) + 1
    if not models:
        return {}
    model = max(models, key=lambda m: models[m])
    return {str(row.paper_id): row.vector for row in rows if row.model == model}


def paper_titles(*, conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Titles of ``ids``."""
    if not ids:
        return {}
    rows = conn.execute(select(papers.c.id, papers.c.title).where(papers.c.id.in_(list(ids))))
    return {str(pid): str(title) for pid, title in rows}


def paper_texts(*, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(title, abstract) of ``ids``."""
    if not ids:
        return {}
    rows = conn.execute(
        select(papers.c.id, papers.c.title, papers.c.abstract).where(papers.c.id.in_(list(ids)))
    )
    return {str(pid): (str(title), str(abstract or "")) for pid, title, abstract in rows}


def record_bounce(*, conn: Connection, subscription_id: int, max_bounces: int) -> bool:
    """Count one more consecutive bounce; suspends at ``max_bounces``. True when suspended."""
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(bounces=subscriptions.c.bounces + 1)
    )
    result = conn.execute(
        update(subscriptions)
        .where(
            subscriptions.c.id == subscription_id,
            subscriptions.c.bounces >= max_bounces,
            subscriptions.c.status == "active",
        )
        .values(status="suspended")
    )
    return bool(result.rowcount)


def reset_bounces(*, conn: Connection, subscription_ids: Sequence[int]) -> None:
    """A delivery succeeded: the bounces are no longer consecutive."""
    if subscription_ids:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id.in_(list(subscription_ids)), subscriptions.c.bounces > 0)
            .values(bounces=0)
        )


def mark_sent(*, conn: Connection, subscription_ids: Sequence[int], period_key: str) -> None:
    """Mark a batch of claimed deliveries ``sent``."""
    if subscription_ids:
        conn.execute(
            update(digest_deliveries)
            .where(
                digest_deliveries.c.period_key == period_key,
                digest_deliveries.c.subscription_id.in_(list(subscription_ids)),
            )
            .values(status="sent", finished_at=_now())
        )
