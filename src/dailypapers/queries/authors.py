"""Author pages: every visible paper by one author (name variants grouped by the rule in
ingest/author_names.py and docs/authors.md), with co-authors, categories and papers per month.

One function behind ``/authors/{name}`` and ``/api/authors/{name}``. It costs three queries
whatever the number of papers: the spellings stored under the folded surname (an indexed
lookup in ``paper_authors``), the papers of the spellings grouped, and the page's rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.ingest.author_names import MAX_SURNAME, NameKey, group, name_key
from dailypapers.storage import browse, daily

TOP_COAUTHORS = 20
TOP_CATEGORIES = 12


class BadName(ValueError):
    """The requested name has no letters or is too long to be a name (a 400)."""


@dataclass(slots=True)
class AuthorPage:
    """One page of an author's papers, newest first, and what the whole record shows."""

    name: str  # the spelling shown: the most frequent in the group
    spellings: list[tuple[str, int]]  # every spelling grouped, with its number of papers
    entries: list[RowMapping]
    total: int
    page: int
    limit: int
    coauthors: list[tuple[str, int]] = field(default_factory=list)
    categories: list[tuple[str, int]] = field(default_factory=list)
    per_month: list[tuple[str, int]] = field(default_factory=list)  # ("2026-05", 3), in order
    others: list[str] = field(default_factory=list)  # same surname, not grouped (see also)

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.limit))


@dataclass(slots=True)
class NoAuthor:
    """No visible paper has this author; ``similar`` names share the surname."""

    name: str
    similar: list[str]


def _spelling(counts: Counter[str]) -> str:
    """The most frequent spelling; among equals, one in "First Last" order, the fullest,
    then the first alphabetically."""
    return min(counts, key=lambda s: (-counts[s], "," in s, -len(s), s))


def author_page(
    *, conn: Connection, name: str, page: int = 0, limit: int = 50
) -> AuthorPage | NoAuthor:
    """The author page for ``name`` (any spelling); ``NoAuthor`` when nobody by that name has
    a visible paper. Raises ``BadName`` for a name with no letters."""
    key = name_key(name)
    if key is None:
        raise BadName("an author's name needs at least one letter")
    surname = key.surname[:MAX_SURNAME]
    spellings: dict[NameKey, Counter[str]] = {}
    for raw in browse.surname_names(conn=conn, surname=surname):
        k = name_key(raw)
        if k is not None:
            counts = spellings.get(k)
            if counts is None:
                counts = spellings[k] = Counter()
            counts[raw] += 1
    members = group(key, spellings)
    names = [raw for k in members for raw in spellings.get(k, ())]
    matching = browse.papers_by_names(conn=conn, surname=surname, names=names) if names else []
    if not matching:
        similar = [_spelling(c) for k, c in sorted(spellings.items(), key=_by_papers)][:10]
        return NoAuthor(name, similar)
    ids = [row["id"] for row in matching[page * limit : (page + 1) * limit]]
    found = daily.entries_for_papers(conn=conn, ids=ids)
    grouped: Counter[str] = Counter()
    for k in members:
        grouped.update(spellings.get(k, Counter()))
    others = [
        _spelling(c) for k, c in sorted(spellings.items(), key=_by_papers) if k not in members
    ]
    return AuthorPage(
        name=_spelling(grouped),
        spellings=grouped.most_common(),
        entries=[found[i] for i in ids if i in found],
        total=len(matching),
        page=page,
        limit=limit,
        coauthors=_coauthors(matching, members),
        categories=Counter(
            c for row in matching for c in browse.json_list(row["categories"])
        ).most_common(TOP_CATEGORIES),
        per_month=_per_month([browse.as_datetime(row["published_at"]) for row in matching]),
        others=others[:10],
    )


def _by_papers(item: tuple[NameKey, Counter[str]]) -> tuple[int, str]:
    return -sum(item[1].values()), _spelling(item[1])


def _coauthors(matching: list[RowMapping], members: set[NameKey]) -> list[tuple[str, int]]:
    """The most frequent co-authors (spellings of one key counted together)."""
    papers: Counter[NameKey] = Counter()
    spellings: dict[NameKey, Counter[str]] = {}
    for row in matching:
        seen: set[NameKey] = set()
        for raw in row["authors"]:
            k = name_key(raw)
            if k is None or k in members or k in seen:
                continue
            seen.add(k)
            papers[k] += 1
            spellings.setdefault(k, Counter())[raw] += 1
    top = sorted(papers, key=lambda k: (-papers[k], _spelling(spellings[k])))[:TOP_COAUTHORS]
    return [(_spelling(spellings[k]), papers[k]) for k in top]


def _per_month(times: list[dt.datetime]) -> list[tuple[str, int]]:
    """Papers per month from the first to the last, empty months included (at most the
    last 120 months, so a long career still draws as a readable chart)."""
    if not times:
        return []
    counts = Counter(f"{t.year:04d}-{t.month:02d}" for t in times)
    first, last = min(times), max(times)
    months: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [(m, counts.get(m, 0)) for m in months[-120:]]
