"""For you: a member's recent papers, ranked by ``ranking/foryou.py`` from their follows,
upvotes, saved (reading lists) and imported (library) papers and "not interested" marks.
``/for-you`` and ``/api/for-you`` both call ``for_you``.

The candidates (every paper listed in the last ``days`` days, with their vectors) are the
costly part and the same for everybody: they are held per process for the site revision and
window, so one member's page costs the per-member training and scoring (bench/recommend.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.index.text import analyse
from dailypapers.ranking import foryou
from dailypapers.storage import daily, embeddings, library, lists, runs
from dailypapers.storage import follows as follows_repo
from dailypapers.storage import subscriptions as subscription_repo

DEFAULT_DAYS = 30
MAX_DAYS = 90
MAX_CANDIDATES = 20_000
MAX_NEGATIVES = 500
MAX_LIBRARY_TEXTS = 2000
MAX_POSITIVE_TEXTS = 200


@dataclass(slots=True)
class Item:
    """One pick: the paper as a card row, its reasons and score."""

    row: RowMapping
    reasons: list[str]
    score: float


@dataclass(slots=True)
class ForYou:
    """A member's For you page: picks, what they are based on, and the window."""

    items: list[Item]
    follows: dict[str, list[str]]
    positives: int
    negatives: int
    start: dt.date
    end: dt.date
    cold: bool = field(default=False)


@dataclass(slots=True)
class _Window:
    rows: list[RowMapping]
    candidates: list[foryou.Candidate]
    matrix: Any
    # The candidates' tf-idf rows: made on first use (0.8 s for a 30-day window of 7,383
    # papers on one core), then shared by every member.
    terms: foryou.TermMatrix | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def term_matrix(self) -> foryou.TermMatrix:
        """The candidates' ``foryou.term_matrix``, computed once."""
        with self.lock:
            if self.terms is None:
                self.terms = foryou.term_matrix(
                    [Counter(analyse(f"{c.title} {c.abstract}")) for c in self.candidates]
                )
            return self.terms


class _Held:
    """The last few candidate windows by (database, revision, start, end): shared by every
    member."""

    def __init__(self, limit: int = 4) -> None:
        self.limit = limit
        self._items: dict[tuple[str, int, dt.date, dt.date], _Window] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, dt.date, dt.date], make: Callable[[], _Window]) -> _Window:
        with self._lock:
            found = self._items.get(key)
        if found is not None:
            return found
        made = make()
        with self._lock:
            self._items[key] = made
            while len(self._items) > self.limit:
                self._items.pop(next(iter(self._items)))
        return made


HELD = _Held()


def positive_sources(
    conn: Connection,
    user_id: int,
    saved: list[tuple[str, str]],
    imported: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    """The member's positives as (paper id, how: "upvoted", "saved", "imported"), newest
    first, at most ``ranking.foryou.MAX_POSITIVES``: ``saved`` and ``imported`` from
    ``saved_and_imported``, with the upvotes between them."""
    found: dict[str, str] = {}
    voted = subscription_repo.voted_papers(
        conn=conn, user_ids=[user_id], limit=foryou.MAX_POSITIVES
    ).get(user_id, [])
    # Explicit, recent signals first: a library of 10,000 imported papers fills what is left.
    for paper_id, how in [*saved, *((p, "upvoted") for p in voted), *imported]:
        found.setdefault(paper_id, how)
    return list(found.items())[: foryou.MAX_POSITIVES]


def saved_and_imported(
    conn: Connection, user_id: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """Papers the member saved to a reading list, the papers of their imported library
    matched on this site (each newest first), and the title and abstract of the newest
    ``MAX_LIBRARY_TEXTS`` entries that match no paper here (no stored vector: they count
    through their words)."""
    saved = [
        (str(r["paper_id"]), "saved")
        for r in reversed(lists.saved_items(conn=conn, user_id=user_id))
    ]
    entries = library.imported_entries(conn=conn, user_id=user_id)
    imported = [(str(e["paper_id"]), "imported") for e in reversed(entries) if e["paper_id"]]
    texts = [f"{e['title']} {e['abstract'] or ''}" for e in reversed(entries) if not e["paper_id"]][
        :MAX_LIBRARY_TEXTS
    ]
    return saved, imported, texts


def _window(conn: Connection, start: dt.date, end: dt.date) -> _Window:
    rows, _ = daily.list_entries(conn=conn, start=start, end=end, limit=MAX_CANDIDATES)
    vectors = embeddings.vectors_by_id(conn=conn, ids=[r["id"] for r in rows])
    dim = len(next(iter(vectors.values()))) if vectors else 0
    matrix = np.zeros((len(rows), dim), dtype=np.float32)
    for i, row in enumerate(rows):
        if row["id"] in vectors:
            matrix[i] = vectors[row["id"]]
    # Held at unit length: each member's scoring then skips normalising the window.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = (matrix / np.maximum(norms, 1e-9)).astype(np.float32)
    candidates = [
        foryou.Candidate(
            id=str(row["id"]),
            title=str(row["title"]),
            abstract=str(row["abstract"]),
            authors=tuple(row["authors"]),
            categories=tuple(row["categories"]),
            submitted_by=row["submitter_username"],
            age_days=float((end - row["day"]).days),
        )
        for row in rows
    ]
    return _Window(rows, candidates, matrix)


def for_you(
    conn: Connection, *, user_id: int, today: dt.date, days: int = DEFAULT_DAYS, limit: int = 50
) -> ForYou:
    """The member's For you picks among papers listed in the ``days`` up to ``today``."""
    days = max(1, min(days, MAX_DAYS))
    start = today - dt.timedelta(days=days - 1)
    follows = follows_repo.of_user(conn=conn, user_id=user_id)
    saved, imported, texts = saved_and_imported(conn, user_id)
    sources = positive_sources(conn, user_id, saved, imported)
    disliked = follows_repo.not_interested_ids(conn=conn, user_id=user_id, limit=MAX_NEGATIVES)
    # The database is part of the key: one process may serve several (tests, tools).
    key = (str(conn.engine.url), runs.revision(conn=conn), start, today)
    window = HELD.get(key, lambda: _window(conn, start, today))
    # The newest positives' titles and abstracts (their words count too); the rest's titles.
    ids = [pid for pid, _ in sources]
    worded = subscription_repo.paper_texts(conn=conn, ids=ids[:MAX_POSITIVE_TEXTS])
    titles = {pid: title for pid, (title, _) in worded.items()}
    titles |= subscription_repo.paper_titles(conn=conn, ids=ids[MAX_POSITIVE_TEXTS:])
    liked = embeddings.vectors_by_id(conn=conn, ids=[p for p, _ in sources] + disliked)
    dim = window.matrix.shape[1] if window.matrix.ndim == 2 else 0
    usable = [(p, how) for p, how in sources if p in liked and len(liked[p]) == dim]
    positives = [foryou.Positive(p, titles.get(p, p), how) for p, how in usable]
    negatives = [liked[p] for p in disliked if p in liked and len(liked[p]) == dim]
    positive_words = Counter(t for pair in worded.values() for t in analyse(" ".join(pair)))
    library_words = Counter(t for text in texts for t in analyse(text))
    terms = window.term_matrix() if positive_words or library_words else None
    profile = foryou.Profile(
        categories=follows.get("category", []),
        authors=follows.get("author", []),
        keywords=follows.get("keyword", []),
        users=follows.get("user", []),
        positives=positives,
        positive_vectors=np.stack([liked[p.id] for p in positives]) if positives else None,
        negative_vectors=np.stack(negatives) if negatives else None,
        excluded=frozenset(disliked) | {p for p, _ in sources},
        positive_words=positive_words or None,
        library_words=library_words or None,
    )
    picks = foryou.recommend(
        profile, window.candidates, window.matrix, limit=limit, unit=True, terms=terms
    )
    by_id = {row["id"]: row for row in window.rows}
    return ForYou(
        items=[Item(by_id[p.id], p.reasons, p.score) for p in picks],
        follows=follows,
        positives=len(positives),
        negatives=len(disliked),
        start=start,
        end=today,
        cold=not positives,
    )
