"""Paper repository: idempotent batch upserts and lookups (one query per list)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import BindParameter, Connection, bindparam, delete, func, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.ingest.citekey import key_base
from dailypapers.records import Paper
from dailypapers.storage.browse import author_rows
from dailypapers.storage.bulk import insert_rows
from dailypapers.storage.locks import advisory_key
from dailypapers.storage.schema import paper_authors, paper_categories, papers

# SQLite's limit on bound parameters is 32766; stay well below it.
_CHUNK = 900


def content_hash(paper: Paper) -> str:
    """A stable hash of everything that describes the paper, to detect unchanged records."""
    data = [
        paper.version,
        paper.title,
        paper.abstract,
        list(paper.authors),
        list(paper.categories),
        paper.primary_category,
        paper.published_at.isoformat(),
        paper.updated_at.isoformat(),
        paper.comment,
        paper.journal_ref,
        paper.doi,
        paper.license,
    ]
    return hashlib.blake2b(orjson.dumps(data), digest_size=16).hexdigest()


@dataclass(slots=True)
class UpsertResult:
    """What a batch upsert did, with the ids in each group."""

    new: list[str]
    updated: list[str]
    unchanged: list[str]


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_STORED = (
    papers.c.id,
    papers.c.version,
    papers.c.content_hash,
    papers.c.categories,
    papers.c.primary_category,
    papers.c.comment,
    papers.c.journal_ref,
    papers.c.doi,
    papers.c.license,
)


def _keep_known(paper: Paper, old: RowMapping) -> Paper:
    """Fill what a poorer source left out (categories, DOI, ...) from the stored row.

    A source that lacks a field (Hugging Face has no categories, the API no licence)
    must not erase what a richer source stored.
    """
    changes: dict[str, Any] = {}
    if not paper.categories and old["categories"]:
        changes.update(
            categories=tuple(old["categories"]), primary_category=old["primary_category"]
        )
    for name in ("comment", "journal_ref", "doi", "license"):
        if getattr(paper, name) is None and old[name] is not None:
            changes[name] = old[name]
    return replace(paper, **changes) if changes else paper


def _row(paper: Paper, digest: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "published_at": paper.published_at,
        "updated_at": paper.updated_at,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "license": paper.license,
        "content_hash": digest,
        "modified_at": now,
        "cite_key": key_base(
            authors=paper.authors, year=paper.published_at.year, title=paper.title
        ),
    }


def upsert_papers(*, conn: Connection, batch: Iterable[Paper]) -> UpsertResult:
    """Insert new papers, replace older versions or changed metadata, count the rest.

    A record with a lower version than the stored one never overwrites it. Within one batch
    the last record for an id wins.
    """
    if conn.dialect.name == "postgresql":
        # Read-then-insert must not race another writer of the same ids (an ingest beside a
        # submission of the same new paper): a transaction-scoped lock serialises upserts, as
        # SQLite's write lock (BEGIN IMMEDIATE in write_transaction) already does.
        conn.execute(select(func.pg_advisory_xact_lock(advisory_key("upsert-papers"))))
    latest: dict[str, Paper] = {}
    for paper in batch:
        kept = latest.get(paper.arxiv_id)
        if kept is None or paper.version >= kept.version:
            latest[paper.arxiv_id] = paper
    ids = list(latest)
    stored: dict[str, RowMapping] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(select(*_STORED).where(papers.c.id.in_(chunk))).mappings()
        stored.update({row["id"]: row for row in rows})
    now = dt.datetime.now(dt.UTC)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    result = UpsertResult([], [], [])
    for arxiv_id, incoming in latest.items():
        old = stored.get(arxiv_id)
        paper = incoming if old is None else _keep_known(incoming, old)
        latest[arxiv_id] = paper
        digest = content_hash(paper)
        if old is None:
            inserts.append({**_row(paper, digest, now), "created_at": now})
            result.new.append(arxiv_id)
        elif paper.version < old["version"] or digest == old["content_hash"]:
            result.unchanged.append(arxiv_id)
        else:
            row = _row(paper, digest, now)
            row["b_id"] = row.pop("id")
            updates.append(row)
            result.updated.append(arxiv_id)
    if inserts:
        insert_rows(conn=conn, table=papers, rows=inserts)
    if updates:
        columns: dict[str, Any] = {key: bindparam(key) for key in updates[0] if key != "b_id"}
        conn.execute(
            update(papers).where(papers.c.id == bindparam("b_id")).values(**columns), updates
        )
        for chunk in _chunks(result.updated):
            conn.execute(delete(paper_categories).where(paper_categories.c.paper_id.in_(chunk)))
            conn.execute(delete(paper_authors).where(paper_authors.c.paper_id.in_(chunk)))
    category_rows = [
        {"paper_id": arxiv_id, "category": category}
        for arxiv_id in result.new + result.updated
        for category in latest[arxiv_id].categories
    ]
    insert_rows(conn=conn, table=paper_categories, rows=category_rows)
    written = result.new + result.updated
    authors = [row for i in written for row in author_rows(i, latest[i].authors)]
    insert_rows(conn=conn, table=paper_authors, rows=authors)
    return result


def get_paper(*, conn: Connection, arxiv_id: str) -> RowMapping | None:
    """One paper by id (without version), hidden ones included."""
    return conn.execute(select(papers).where(papers.c.id == arxiv_id)).mappings().first()


def get_papers(*, conn: Connection, ids: Sequence[str]) -> dict[str, RowMapping]:
    """Papers by id, in one query per 900 ids."""
    found: dict[str, RowMapping] = {}
    for chunk in _chunks(list(ids)):
        for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))).mappings():
            found[row["id"]] = row
    return found


def count_papers(*, conn: Connection) -> int:
    """Number of stored papers."""
    return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())


def iter_papers(*, conn: Connection, batch_size: int = 1000) -> Iterator[RowMapping]:
    """All papers ordered by id, fetched in keyset-paginated batches (bounded memory)."""
    last = ""
    while True:
        rows = (
            conn.execute(
                select(papers).where(papers.c.id > last).order_by(papers.c.id).limit(batch_size)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1]["id"]


def iter_for_index(*, conn: Connection, batch_size: int = 5000) -> Iterator[list[RowMapping]]:
    """Visible papers with the fields search indexes, keyset-paginated by id."""
    columns = (
        papers.c.id,
        papers.c.title,
        papers.c.abstract,
        papers.c.authors,
        papers.c.categories,
        papers.c.published_at,
    )
    last = ""
    while True:
        rows = list(
            conn.execute(
                select(*columns)
                .where(papers.c.id > last, papers.c.hidden.is_(False))
                .order_by(papers.c.id)
                .limit(batch_size)
            ).mappings()
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def texts_of(*, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(title, abstract) of papers by id."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(list(ids)):
        rows = conn.execute(
            select(papers.c.id, papers.c.title, papers.c.abstract).where(papers.c.id.in_(chunk))
        )
        found.update({row.id: (row.title, row.abstract) for row in rows})
    return found


_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
# Built once (see storage/daily.py's ``_ENTRIES_BY_ID``): a search's author and phrase checks.
_AUTHORS_BY_ID = select(papers.c.id, papers.c.authors).where(
    papers.c.id.in_(_IDS), papers.c.hidden.is_(False)
)
_TEXTS_BY_ID = select(papers.c.id, papers.c.authors, papers.c.title, papers.c.abstract).where(
    papers.c.id.in_(_IDS), papers.c.hidden.is_(False)
)


def authors_of(
    *, conn: Connection, ids: Sequence[str], with_text: bool = False
) -> dict[str, RowMapping]:
    """Authors (and title and abstract when ``with_text``) of visible papers, by id: what a
    search needs to check its author names and phrases, without the list entry's joins."""
    query = _TEXTS_BY_ID if with_text else _AUTHORS_BY_ID
    found: dict[str, RowMapping] = {}
    for chunk in _chunks(list(ids)):
        rows = conn.execute(query, {"ids": chunk})
        found.update({row["id"]: row for row in rows.mappings()})
    return found


def upvotes_of(*, conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    """Upvote counts by paper id."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(ids)):
        rows = conn.execute(select(papers.c.id, papers.c.upvotes).where(papers.c.id.in_(chunk)))
        found.update({row.id: int(row.upvotes) for row in rows})
    return found
