"""Library imports repository: uploaded reference libraries (Zotero, Mendeley, JabRef) and
their entries, matched to papers on this site or not.

Every entry of every import is kept (title, abstract, authors, ids), so "For you" can learn
from a whole library, not only the papers this site holds: read it with ``imported_entries``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.schema import library_entries, library_imports, papers

ACTIVE = ("queued", "running")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_import(*, conn: Connection, user_id: int, filename: str, payload: bytes) -> int:
    """Record an upload waiting to be parsed; returns its id."""
    now = _now()
    return int(
        conn.execute(
            insert(library_imports)
            .values(
                user_id=user_id,
                filename=filename,
                status="queued",
                payload=payload,
                created_at=now,
                updated_at=now,
            )
            .returning(library_imports.c.id)
        ).scalar_one()
    )


def get_import(*, conn: Connection, import_id: int) -> RowMapping | None:
    """An import's status row (without its payload)."""
    columns = [c for c in library_imports.c if c.name != "payload"]
    return (
        conn.execute(select(*columns).where(library_imports.c.id == import_id)).mappings().first()
    )


def import_payload(*, conn: Connection, import_id: int) -> bytes | None:
    """The uploaded file of an import not parsed yet."""
    value = conn.execute(
        select(library_imports.c.payload).where(library_imports.c.id == import_id)
    ).scalar_one_or_none()
    return bytes(value) if value is not None else None


def user_imports(*, conn: Connection, user_id: int) -> list[RowMapping]:
    """The user's imports, newest first (without payloads)."""
    columns = [c for c in library_imports.c if c.name != "payload"]
    query = (
        select(*columns)
        .where(library_imports.c.user_id == user_id)
        .order_by(library_imports.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def active_imports(*, conn: Connection, user_id: int) -> int:
    """How many of the user's imports are queued or running."""
    query = select(func.count()).where(
        library_imports.c.user_id == user_id, library_imports.c.status.in_(ACTIVE)
    )
    return int(conn.execute(query).scalar_one())


def update_import(*, conn: Connection, import_id: int, **values: Any) -> None:
    """Change an import's status, counts, list or error (and touch ``updated_at``)."""
    conn.execute(
        update(library_imports)
        .where(library_imports.c.id == import_id)
        .values(**values, updated_at=_now())
    )


def claim_import(
    *, conn: Connection, import_id: int, stale_before: dt.datetime | None = None
) -> bool:
    """Mark a queued import running, or, with ``stale_before``, take over a running one that
    has not moved since then (its server stopped mid-import); False when it has ended or
    another worker has it."""
    claimable = library_imports.c.status == "queued"
    if stale_before is not None:
        stalled = and_(
            library_imports.c.status == "running", library_imports.c.updated_at < stale_before
        )
        claimable = or_(claimable, stalled)
    result = conn.execute(
        update(library_imports)
        .where(library_imports.c.id == import_id, claimable)
        .values(status="running", updated_at=_now())
    )
    return result.rowcount == 1


def stale_imports(*, conn: Connection, user_id: int, before: dt.datetime) -> list[int]:
    """The user's imports queued or running that have not moved since ``before`` (their
    server stopped before or while running them)."""
    query = select(library_imports.c.id).where(
        library_imports.c.user_id == user_id,
        library_imports.c.status.in_(ACTIVE),
        library_imports.c.updated_at < before,
    )
    return list(conn.execute(query).scalars())


def delete_import(*, conn: Connection, import_id: int) -> None:
    """Forget an import and its entries (the list it filled stays)."""
    conn.execute(delete(library_imports).where(library_imports.c.id == import_id))


def add_entries(*, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store a batch of parsed entries (dicts with ``library_entries``' columns)."""
    if rows:
        conn.execute(insert(library_entries), list(rows))


def import_entries(*, conn: Connection, import_id: int) -> list[RowMapping]:
    """An import's entries in file order (the matched / not matched report)."""
    query = (
        select(library_entries)
        .where(library_entries.c.import_id == import_id)
        .order_by(library_entries.c.position)
    )
    return list(conn.execute(query).mappings())


def imported_entries(*, conn: Connection, user_id: int) -> list[RowMapping]:
    """Every entry of every import of the user (matched or not), oldest import first:
    ``title``, ``abstract``, ``authors``, ``year``, ``doi``, ``arxiv_id``, ``paper_id`` (the
    paper on this site, or None) and ``matched_by``. What "For you" learns a library from."""
    query = (
        select(library_entries)
        .where(library_entries.c.user_id == user_id)
        .order_by(library_entries.c.import_id, library_entries.c.position)
    )
    return list(conn.execute(query).mappings())


def existing_papers(*, conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are visible papers here (batched: any number of ids)."""
    found: set[str] = set()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        query = select(papers.c.id).where(papers.c.id.in_(chunk), papers.c.hidden.is_(False))
        found.update(conn.execute(query).scalars())
    return found


def papers_by_doi(*, conn: Connection, dois: Sequence[str]) -> dict[str, str]:
    """Lower-cased DOI to paper id, for the DOIs of ``dois`` (lower-cased) held here."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(dois))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        query = select(func.lower(papers.c.doi), papers.c.id).where(
            func.lower(papers.c.doi).in_(chunk), papers.c.hidden.is_(False)
        )
        found.update({doi: paper_id for doi, paper_id in conn.execute(query)})
    return found


def iter_titles(*, conn: Connection, batch: int = 5000) -> Iterator[list[tuple[str, str]]]:
    """Every visible paper's (id, title), in id order and bounded batches."""
    last = ""
    while True:
        query = (
            select(papers.c.id, papers.c.title)
            .where(papers.c.id > last, papers.c.hidden.is_(False))
            .order_by(papers.c.id)
            .limit(batch)
        )
        rows = [(row.id, row.title) for row in conn.execute(query)]
        if not rows:
            return
        yield rows
        last = rows[-1][0]
