"""Queries of the live search delta: papers changed after a build, with their stored vectors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.engine import RowMapping

from dailypapers.storage.embeddings import text_hash
from dailypapers.storage.schema import embeddings, papers


def latest_change(*, conn: Connection) -> dt.datetime | None:
    """When a paper last changed (the watermark of a build that reads them now)."""
    value = conn.execute(select(func.max(papers.c.modified_at))).scalar_one_or_none()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's max() of a DATETIME column comes back as text
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def changed_since(
    *, conn: Connection, since: dt.datetime, model: str | None, limit: int
) -> list[RowMapping]:
    """Papers changed at or after ``since`` (hidden ones too: the delta drops them), oldest
    change first, with the vector of ``model`` when one is stored (else ``vector`` is None)."""
    vector = embeddings.c.vector if model else None
    columns = [
        papers.c.id,
        papers.c.title,
        papers.c.abstract,
        papers.c.authors,
        papers.c.categories,
        papers.c.published_at,
        papers.c.modified_at,
        papers.c.hidden,
    ]
    query = select(*columns, *([vector.label("vector")] if vector is not None else []))
    if model:
        query = query.select_from(
            papers.outerjoin(
                embeddings, and_(embeddings.c.paper_id == papers.c.id, embeddings.c.model == model)
            )
        )
    query = (
        query.where(papers.c.modified_at >= since)
        .order_by(papers.c.modified_at, papers.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def count_since(*, conn: Connection, since: dt.datetime) -> int:
    """Number of papers changed after ``since``."""
    query = select(func.count()).select_from(papers).where(papers.c.modified_at > since)
    return int(conn.execute(query).scalar_one())


def vectors_of(
    *, conn: Connection, ids: Sequence[str], model: str
) -> dict[str, npt.NDArray[np.float32]]:
    """Stored vectors of ``model`` for ``ids`` (those that have one)."""
    found: dict[str, npt.NDArray[np.float32]] = {}
    for start in range(0, len(ids), 1000):
        chunk = list(ids[start : start + 1000])
        rows = conn.execute(
            select(embeddings.c.paper_id, embeddings.c.vector).where(
                embeddings.c.paper_id.in_(chunk), embeddings.c.model == model
            )
        )
        found.update({row.paper_id: np.asarray(row.vector, dtype=np.float32) for row in rows})
    return found


def stale_since(*, conn: Connection, since: dt.datetime, model: str) -> list[tuple[str, str]]:
    """(id, text hash) of papers changed after ``since`` whose vector of ``model`` is missing
    or stale (what the live delta needs embedded), the latest changed first."""
    rows = conn.execute(
        select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            embeddings.c.model,
            embeddings.c.text_hash,
        )
        .select_from(papers.outerjoin(embeddings, embeddings.c.paper_id == papers.c.id))
        .where(papers.c.modified_at > since)
        .order_by(papers.c.modified_at.desc(), papers.c.id)
    ).all()
    stale = []
    for row in rows:
        digest = text_hash(row.title, row.abstract)
        if row.model != model or row.text_hash != digest:
            stale.append((row.id, digest))
    return stale
