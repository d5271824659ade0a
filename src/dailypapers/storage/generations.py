"""Published search builds: a generation row per build and its files in chunked ``bytea`` rows.

A build is published in one transaction (nodes never see half of one); nodes poll
``latest`` (one indexed row) and download the chunks of a newer one. Old generations are
pruned, keeping the newest few, by deleting their rows (chunks cascade).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.engine import RowMapping

from dailypapers.storage.schema import index_chunks, index_generations

CHUNK_BYTES = 8 << 20


def add_generation(
    *,
    conn: Connection,
    build: str,
    watermark: dt.datetime | None,
    papers: int,
    size: int,
    manifest: dict[str, Any],
) -> int:
    """Insert a generation row (its chunks come next, in the same transaction); its id."""
    result = conn.execute(
        insert(index_generations)
        .values(
            build=build,
            created_at=dt.datetime.now(dt.UTC),
            watermark=watermark,
            papers=papers,
            bytes=size,
            manifest=manifest,
        )
        .returning(index_generations.c.id)
    )
    return int(result.scalar_one())


def add_chunk(*, conn: Connection, generation_id: int, file: str, seq: int, data: bytes) -> None:
    """Store one chunk of one file of a generation."""
    conn.execute(
        insert(index_chunks).values(generation_id=generation_id, file=file, seq=seq, data=data)
    )


def latest(*, conn: Connection) -> RowMapping | None:
    """The newest published generation (without its chunks), or None."""
    return (
        conn.execute(select(index_generations).order_by(index_generations.c.id.desc()).limit(1))
        .mappings()
        .first()
    )


def by_build(*, conn: Connection, build: str) -> RowMapping | None:
    """The generation of a build folder name, or None."""
    return (
        conn.execute(select(index_generations).where(index_generations.c.build == build))
        .mappings()
        .first()
    )


def chunks(*, conn: Connection, generation_id: int, file: str) -> Iterator[bytes]:
    """The chunks of one file in order, fetched one at a time (bounded memory)."""
    seq = -1
    while True:
        row = conn.execute(
            select(index_chunks.c.seq, index_chunks.c.data)
            .where(
                index_chunks.c.generation_id == generation_id,
                index_chunks.c.file == file,
                index_chunks.c.seq > seq,
            )
            .order_by(index_chunks.c.seq)
            .limit(1)
        ).first()
        if row is None:
            return
        seq = row.seq
        yield bytes(row.data)


def prune(*, conn: Connection, keep: int) -> int:
    """Delete all but the newest ``keep`` generations (and their chunks); how many went."""
    ids = conn.execute(
        select(index_generations.c.id).order_by(index_generations.c.id.desc()).offset(keep)
    ).scalars()
    old = list(ids)
    if old:
        conn.execute(delete(index_chunks).where(index_chunks.c.generation_id.in_(old)))
        conn.execute(delete(index_generations).where(index_generations.c.id.in_(old)))
    return len(old)


def count(*, conn: Connection) -> int:
    """Number of published generations."""
    return int(conn.execute(select(func.count()).select_from(index_generations)).scalar_one())
