"""Embedding repository: which papers need (re-)embedding, storing vectors, vector queries."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select, text

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.schema import embeddings, papers


def text_hash(title: str, abstract: str) -> str:
    """Hash of the embedded text: an unchanged text is never embedded twice."""
    return hashlib.blake2b(f"{title}\n{abstract}".encode(), digest_size=16).hexdigest()


def stale_ids(*, conn: Connection, model: str, batch_size: int = 5000) -> list[tuple[str, str]]:
    """(id, text hash) of papers whose vector is missing, stale or of another model."""
    last = ""
    stale: list[tuple[str, str]] = []
    query = (
        select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            embeddings.c.model,
            embeddings.c.text_hash,
        )
        .select_from(papers.outerjoin(embeddings, embeddings.c.paper_id == papers.c.id))
        .order_by(papers.c.id)
        .limit(batch_size)
    )
    while True:
        rows = conn.execute(query.where(papers.c.id > last)).all()
        if not rows:
            return stale
        last = rows[-1].id
        for row in rows:
            digest = text_hash(row.title, row.abstract)
            if row.model != model or row.text_hash != digest:
                stale.append((row.id, digest))


def store(
    *,
    conn: Connection,
    model: str,
    items: Sequence[tuple[str, str]],
    vectors: npt.NDArray[np.float32],
) -> None:
    """Replace the vectors of ``items`` ((paper id, text hash) pairs).

    An upsert: two runs embedding the same papers at once (two nodes' ``index``, or a job
    runner and a CLI run) both succeed, and the last one's vectors stay.
    """
    if not items:
        return
    now = dt.datetime.now(dt.UTC)
    statement = upsert_insert(conn, embeddings)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[embeddings.c.paper_id],
            set_={
                "model": statement.excluded.model,
                "text_hash": statement.excluded.text_hash,
                "vector": statement.excluded.vector,
                "created_at": statement.excluded.created_at,
            },
        ),
        [
            {"paper_id": pid, "model": model, "text_hash": digest, "vector": vec, "created_at": now}
            for (pid, digest), vec in zip(items, vectors, strict=True)
        ],
    )


def load_all(
    *, conn: Connection, model: str, batch_size: int = 5000
) -> Iterator[tuple[list[str], npt.NDArray[np.float32]]]:
    """All vectors of ``model`` in id order, in batches (for building the in-process index)."""
    last = ""
    while True:
        rows = conn.execute(
            select(embeddings.c.paper_id, embeddings.c.vector)
            .where(embeddings.c.model == model, embeddings.c.paper_id > last)
            .order_by(embeddings.c.paper_id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        last = rows[-1].paper_id
        yield [r.paper_id for r in rows], np.stack([r.vector for r in rows]).astype(np.float32)


def vector_of(*, conn: Connection, paper_id: str, model: str) -> npt.NDArray[np.float32] | None:
    """The stored vector of one paper, or None."""
    value = conn.execute(
        select(embeddings.c.vector).where(
            embeddings.c.paper_id == paper_id, embeddings.c.model == model
        )
    ).scalar_one_or_none()
    return None if value is None else np.asarray(value, dtype=np.float32)


def pg_nearest(
    *, conn: Connection, vector: npt.NDArray[np.float32], model: str, limit: int
) -> list[tuple[str, float]]:
    """Nearest papers by cosine similarity through pgvector's HNSW index (PostgreSQL only)."""
    conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(int(limit), 1000))}"))
    literal = "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32)) + "]"
    rows = conn.execute(
        text(
            "SELECT paper_id, vector <=> CAST(:q AS vector) AS distance FROM embeddings "
            "WHERE model = :model ORDER BY distance LIMIT :limit"
        ),
        {"q": literal, "model": model, "limit": limit},
    ).all()
    return [(row.paper_id, 1.0 - float(row.distance)) for row in rows]


def vectors_by_id(
    *, conn: Connection, ids: Sequence[str], batch_size: int = 2000
) -> dict[str, npt.NDArray[np.float32]]:
    """Stored vectors of ``ids`` (batched, any number of ids), of the model most of them
    have: a model change midway leaves the others out rather than mixing spaces."""
    rows: list[tuple[str, str, npt.NDArray[np.float32]]] = []
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        rows += [
            (str(pid), str(model), vector)
            for pid, model, vector in conn.execute(
                select(embeddings.c.paper_id, embeddings.c.model, embeddings.c.vector).where(
                    embeddings.c.paper_id.in_(chunk)
                )
            )
        ]
    if not rows:
        return {}
    counts: dict[str, int] = {}
    for _, model, _ in rows:
        counts[model] = counts.get(model, 0) + 1
    best = max(counts, key=lambda m: counts[m])
    return {pid: np.asarray(v, dtype=np.float32) for pid, m, v in rows if m == best}
