"""Citations of one paper: its site-wide unique BibTeX key and entry, and the Highwire
``citation_*`` / OpenGraph meta tags that Zotero and link previews read.

A key is the paper's base (``vaswani2017attentionneed``, ``ingest/citekey.py``), unique
with a suffix among the papers sharing that base, ordered by first-version date then id:
the first keeps the bare base, the next get ``b``, ``c``... A suffix that would equal some
other paper's base is skipped, so no two papers ever share a key. Papers arrive in date
order, so a paper's key does not change when later papers arrive; only a back-filled
older paper with the same base shifts the suffixes after it.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.ingest.citekey import key_base, suffix
from dailypapers.render import bibtex as bib
from dailypapers.storage import citations


def base_of(row: RowMapping) -> str:
    """The stored key base of a paper row (computed for a row stored without one)."""
    stored: str | None = row.get("cite_key")
    if stored:
        return stored
    return key_base(authors=row["authors"], year=row["published_at"].year, title=row["title"])


def citation_key(*, conn: Connection, row: RowMapping) -> str:
    """The paper's BibTeX key, unique across the site (two queries at most, usually one)."""
    base = base_of(row)
    sharing = citations.sharing_base(conn=conn, base=base)
    rank = sharing.index(row["id"]) if row["id"] in sharing else len(sharing)
    if rank == 0:
        return base
    wanted = rank + 26
    while True:
        candidates = [base + suffix(i) for i in range(1, wanted + 1)]
        taken = citations.bases_among(conn=conn, keys=candidates)
        free = [key for key in candidates if key not in taken]
        if len(free) >= rank:
            return free[rank - 1]
        wanted *= 2


def bibtex_for(*, key: str, row: RowMapping, abstract: bool = False) -> str:
    """The paper's BibTeX entry under ``key`` (with its abstract for ``/papers/{id}.bib``)."""
    return bib.entry(key=key, paper=row, abstract=abstract)


def bibtex(*, conn: Connection, row: RowMapping, abstract: bool = False) -> str:
    """The paper's BibTeX entry under its site-wide key."""
    return bibtex_for(key=citation_key(conn=conn, row=row), row=row, abstract=abstract)
