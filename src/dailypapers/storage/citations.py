"""Citation-key lookups: the papers that share a key base, and which keys are taken."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from dailypapers.storage.schema import papers


def sharing_base(*, conn: Connection, base: str) -> list[str]:
    """Ids of the papers whose key base is ``base``, oldest first (first version's date,
    then id): the order that gives them their suffixes."""
    query = (
        select(papers.c.id)
        .where(papers.c.cite_key == base)
        .order_by(papers.c.published_at, papers.c.id)
    )
    return list(conn.execute(query).scalars())


def bases_among(*, conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are some paper's key base."""
    if not keys:
        return set()
    query = select(papers.c.cite_key).where(papers.c.cite_key.in_(list(keys))).distinct()
    return {key for key in conn.execute(query).scalars() if key is not None}


def sharing_bases(*, conn: Connection, bases: Sequence[str]) -> dict[str, list[str]]:
    """``sharing_base`` for many bases at once (a list's export): base to ids, oldest first."""
    found: dict[str, list[str]] = {}
    unique = list(dict.fromkeys(bases))
    for start in range(0, len(unique), 500):
        query = (
            select(papers.c.cite_key, papers.c.id)
            .where(papers.c.cite_key.in_(unique[start : start + 500]))
            .order_by(papers.c.published_at, papers.c.id)
        )
        for base, paper_id in conn.execute(query):
            found.setdefault(base, []).append(paper_id)
    return found
