"""Reading lists as pages, JSON, feeds and exports: who may see a list, and its papers in
every format, from one query.

Who sees what: the owner sees every list of theirs, with private notes. Anyone else sees an
unlisted list (its address is the secret) or a public one, never the notes. A private list
is "not found" to everyone but its owner, so its address does not even confirm it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.queries import citations
from dailypapers.render.references import csl_item, ris_record
from dailypapers.storage import citations as citation_repo
from dailypapers.storage import lists
from dailypapers.timefmt import hf_time

MAX_PAPERS = 5000  # papers shown or exported from one list


@dataclass(slots=True, frozen=True)
class ListView:
    """A list as one visitor may see it."""

    row: RowMapping
    papers: list[RowMapping]
    owner: bool

    @property
    def public(self) -> bool:
        """Whether the list is public (listed on the profile, with feeds)."""
        return bool(self.row["visibility"] == "public")


def view(*, conn: Connection, token: str, viewer_id: int | None) -> ListView | None:
    """The list at ``token`` with its papers, or None when it does not exist for this
    visitor (unknown, or private and not theirs)."""
    row = lists.list_by_token(conn=conn, token=token[:64])
    if row is None:
        return None
    owner = viewer_id is not None and row["user_id"] == viewer_id
    if row["visibility"] == "private" and not owner:
        return None
    return ListView(row, lists.list_papers(conn=conn, list_id=row["id"], limit=MAX_PAPERS), owner)


def keyed(*, conn: Connection, rows: Sequence[RowMapping]) -> list[tuple[str, RowMapping]]:
    """Each paper with its site-wide BibTeX key (the key its ``.bib`` page uses): one query
    for the papers that keep their bare key base (nearly all), ``citation_key`` for others."""
    bases = [citations.base_of(row) for row in rows]
    sharing = citation_repo.sharing_bases(conn=conn, bases=bases)
    keys = []
    for base, row in zip(bases, rows, strict=True):
        first = sharing.get(base, [])
        keys.append(
            base if first[:1] == [row["id"]] else citations.citation_key(conn=conn, row=row)
        )
    return list(zip(keys, rows, strict=True))


def bibtex(entries: Sequence[tuple[str, RowMapping]]) -> str:
    """The list as a ``.bib`` file."""
    return "\n\n".join(citations.bibtex_for(key=k, row=r, abstract=True) for k, r in entries) + "\n"


def csl_json(entries: Sequence[tuple[str, RowMapping]]) -> bytes:
    """The list as CSL-JSON (an array of items)."""
    items = [csl_item(key=k, paper=r) for k, r in entries]
    return orjson.dumps(items, option=orjson.OPT_INDENT_2) + b"\n"


def ris(entries: Sequence[tuple[str, RowMapping]]) -> str:
    """The list as an RIS file."""
    return "\n".join(ris_record(key=k, paper=r) for k, r in entries)


def list_json(listing: ListView, base_url: str) -> dict[str, Any]:
    """The JSON twin of a list page (notes only for the owner)."""
    row = listing.row
    site = base_url.rstrip("/")
    return {
        "name": row["name"],
        "description": row["description"],
        "visibility": row["visibility"],
        "owner": {"user": row["username"], "fullname": row["display_name"]},
        "url": f"{site}/lists/{row['token']}",
        "createdAt": hf_time(row["created_at"]),
        "updatedAt": hf_time(row["updated_at"]),
        "numPapers": len(listing.papers),
        "papers": [
            {
                "id": paper["id"],
                "title": paper["title"],
                "authors": list(paper["authors"]),
                "publishedAt": hf_time(paper["published_at"]),
                "addedAt": hf_time(paper["added_at"]),
                "url": f"{site}/papers/{paper['id']}",
                **({"note": paper["note"]} if listing.owner else {}),
            }
            for paper in listing.papers
        ],
    }
