"""What goes into a digest: the edition's trending papers and each subscriber's personal picks.

An ``Edition`` loads what every digest of one period shares once (the trending list, the
papers listed in the period, their text and vectors); building one subscriber's digest is
then pure Python. Subscribers with the same preferences and no upvote-based picks get the
same content, so the send run builds and renders it once per group (``group_key``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.queries.daily import trending_list
from dailypapers.storage import daily
from dailypapers.storage import subscriptions as repo

MAX_TRENDING = 50
MAX_PICKS = 8
MAX_SIMILAR = 4
SIMILAR_MIN = 0.45
SPANS = {"daily": "day", "weekly": "week"}


def period_key(period: str, date: dt.date) -> str:
    """``daily:2026-06-08`` or ``weekly:2026-W23``: one digest per subscriber and key."""
    if period == "weekly":
        year, week, _ = date.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    return f"daily:{date.isoformat()}"


def covered_since(period: str, date: dt.date) -> dt.date:
    """A digest shows lists newer than this day: the previous weekday's digest (Friday's on
    Mondays) already showed older ones; a weekly digest shows the last seven days."""
    if period == "weekly":
        return date - dt.timedelta(days=7)
    return date - dt.timedelta(days=3 if date.weekday() == 0 else 1)


@dataclass(slots=True)
class Pick:
    """A personal pick and why it was picked."""

    row: RowMapping
    reasons: list[str]


@dataclass(slots=True)
class Digest:
    """One subscriber's digest content."""

    period: str
    key: str
    label: str
    trending: list[RowMapping] = field(default_factory=list)
    picks: list[Pick] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to send (empty digests are not sent)."""
        return not self.trending and not self.picks


@functools.lru_cache(maxsize=4096)
def _word(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(term.lower()) + r"(?!\w)")


class Edition:
    """The data shared by every digest of one period, loaded with a fixed number of queries."""

    def __init__(
        self, conn: Connection, *, period: str, date: dt.date, now: dt.datetime | None = None
    ) -> None:
        self.period, self.date, self.key = period, date, period_key(period, date)
        end_of_day = dt.datetime.combine(date, dt.time(23, 59, 59), dt.UTC)
        now = min(now or dt.datetime.now(dt.UTC), end_of_day)
        listing = trending_list(conn=conn, span=SPANS[period], limit=MAX_TRENDING, now=now)
        fresh = listing is not None and listing.period.end > covered_since(period, date)
        self.trending: list[RowMapping] = listing.entries if listing and fresh else []
        self.candidates: list[RowMapping] = []
        if listing is not None and fresh:
            self.candidates, _ = daily.list_entries(
                conn=conn, start=listing.period.start, end=listing.period.end, limit=20_000
            )
        self.label = (
            f"{date:%b} {date.day}, {date.year}"
            if period == "daily"
            else f"week {date.isocalendar()[1]}, {date.isocalendar()[0]}"
        )
        self._text = [f"{r['title']}\n{r['abstract']}".lower() for r in self.candidates]
        self._authors = ["\n".join(r["authors"]).lower() for r in self.candidates]
        self._cats = [set(r["categories"]) for r in self.candidates]
        self._vectors: Any = None
        self._memo: dict[tuple[str, str], frozenset[int]] = {}
        self._conn = conn

    def _candidate_vectors(self) -> Any:
        if self._vectors is None:
            found = repo.embedding_vectors(conn=self._conn, ids=[r["id"] for r in self.candidates])
            dim = len(next(iter(found.values()))) if found else 0
            matrix = np.zeros((len(self.candidates), dim), dtype=np.float32)
            for i, row in enumerate(self.candidates):
                if row["id"] in found:
                    matrix[i] = found[row["id"]]
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._vectors = matrix / np.maximum(norms, 1e-9)
        return self._vectors

    def _having(self, kind: str, term: str) -> frozenset[int]:
        """Indexes of the candidates in category / mentioning / by ``term`` (memoised: many
        subscribers follow the same terms)."""
        key = (kind, term)
        found = self._memo.get(key)
        if found is None:
            if kind == "cat":
                found = frozenset(i for i, cats in enumerate(self._cats) if term in cats)
            else:
                pattern = _word(term)
                texts = self._text if kind == "word" else self._authors
                found = frozenset(i for i, text in enumerate(texts) if pattern.search(text))
            self._memo[key] = found
        return found

    def matches(self, sub: Any, shown: set[str], limit: int = MAX_PICKS) -> list[Pick]:
        """Papers of the period matching followed categories, keywords and authors (the
        ``limit`` best: most reasons, then most upvotes; a personal feed asks for more)."""
        follows = [("cat", c, f"in {c}") for c in sorted(sub["categories"])]
        follows += [("word", w, f'mentions "{w}"') for w in sub["keywords"]]
        follows += [("author", a, f"by {a}") for a in sub["authors"]]
        reasons: dict[int, list[str]] = {}
        for kind, term, reason in follows:
            for i in self._having(kind, term):
                reasons.setdefault(i, []).append(reason)
        scored = sorted(
            (-len(why), -int(self.candidates[i]["upvotes"]), i)
            for i, why in reasons.items()
            if self.candidates[i]["id"] not in shown
        )
        return [Pick(self.candidates[i], reasons[i]) for _, _, i in scored[:limit]]

    def similar(
        self, voted: list[str], titles: dict[str, str], vectors: dict[str, Any], shown: set[str]
    ) -> list[Pick]:
        """Papers of the period nearest to what the subscriber upvoted, with the reason."""
        mine = [pid for pid in voted if pid in vectors]
        matrix = self._candidate_vectors()
        if not mine or not len(matrix) or matrix.shape[1] == 0:
            return []
        liked = np.stack([np.asarray(vectors[pid], dtype=np.float32) for pid in mine])
        liked /= np.maximum(np.linalg.norm(liked, axis=1, keepdims=True), 1e-9)
        sims = matrix @ liked.T
        best, which = sims.max(axis=1), sims.argmax(axis=1)
        picks: list[Pick] = []
        for i in np.argsort(-best, kind="stable"):
            row = self.candidates[int(i)]
            if best[i] < SIMILAR_MIN or len(picks) == MAX_SIMILAR:
                break
            if row["id"] in shown or row["id"] in voted:
                continue
            title = titles.get(mine[int(which[i])], mine[int(which[i])])
            picks.append(Pick(row, [f'similar to "{title}", which you upvoted']))
        return picks

    def build(
        self,
        sub: Any,
        *,
        voted: list[str] | None = None,
        titles: dict[str, str] | None = None,
        vectors: dict[str, Any] | None = None,
    ) -> Digest:
        """The digest of one subscription (``voted``: its user's upvotes, newest first)."""
        trending = self.trending[: int(sub["trending_count"])]
        shown = {r["id"] for r in trending}
        picks = self.matches(sub, shown)
        if voted and sub["similar"]:
            shown |= {p.row["id"] for p in picks}
            picks += self.similar(voted, titles or {}, vectors or {}, shown)
        return Digest(self.period, self.key, self.label, trending, picks)


def group_key(sub: Any, has_votes: bool) -> tuple[Any, ...] | None:
    """Subscribers with equal keys get the same digest; None for a personal one."""
    if has_votes and sub["similar"]:
        return None
    return (
        int(sub["trending_count"]),
        tuple(sorted(sub["categories"])),
        tuple(sub["keywords"]),
        tuple(sub["authors"]),
    )
