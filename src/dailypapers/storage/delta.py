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


def changes_since(
    *, conn: Connection, since: dt.datetime, limit: int
) -> list[tuple[str, dt.datetime, bool]]:
    """(id, modified_at, hidden) of papers changed at or after ``since``, the latest first:
    cheap rows, so the delta fetches in full only what its base does not hold already."""
    rows = conn.execute(
        select(papers.c.id, papers.c.modified_at, papers.c.hidden)
        .where(papers.c.modified_at >= since)
        .order_by(papers.c.modified_at.desc(), papers.c.id)
        .limit(limit)
    ).all()
    return [(row.id, _aware(row.modified_at), bool(row.hidden)) for row in rows]


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def rows_of(*, conn: Connection, ids: Sequence[str], model: str | None) -> list[RowMapping]:
    """What the delta indexes of papers ``ids``, with the vector of ``model`` when one is
    stored (else ``vector`` is None)."""
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
    found: list[RowMapping] = []
    for start in range(0, len(ids), 1000):
        chunk = list(ids[start : start + 1000])
        if model:
            query = select(*columns, embeddings.c.vector.label("vector")).select_from(
                papers.outerjoin(
                    embeddings,
                    and_(embeddings.c.paper_id == papers.c.id, embeddings.c.model == model),
                )
            )
        else:
            query = select(*columns)
        found.extend(conn.execute(query.where(papers.c.id.in_(chunk))).mappings())
    return found


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
