"""The live delta: papers changed after the base build, searched exactly on top of it.

A base build records its watermark (when its papers were read). Every web process keeps the
papers changed since then (``LiveDelta.refresh``, a small indexed query, incremental after
the first) with their stored vectors, and indexes them with the base's own BM25 statistics
(document count, frequencies, mean length), so a delta paper scores exactly as it would
inside the base. ``LiveDelta.view`` joins base and delta into one ``LiveView`` that the
search code uses like a snapshot: delta papers are numbered after the base's, keyword
scores and vector similarities of both are concatenated, and base copies of papers the
delta holds again (a new version) score nothing. The delta stays small because the job
runner rebuilds the base when it grows (jobs/runner.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from dailypapers.index import ann
from dailypapers.index.keyword import (
    Analysed,
    IndexedDoc,
    KeywordIndex,
    Postings,
    Statistics,
    analyse_doc,
    fold_names,
    named_in,
)
from dailypapers.index.snapshot import EPOCH, Snapshot
from dailypapers.storage import delta as repo

# Papers written just before a watermark may commit after it: read a little before it. The same
# margin covers a write that commits after a refresh began, and clocks of nodes that differ.
OVERLAP = dt.timedelta(minutes=2)
# Most writes commit within seconds of their stamp: a refresh reads again only this far before
# the previous one began, and once per OVERLAP a sweep reads the whole overlap again (a write
# that took longer shows then). Reading the whole overlap at every poll read a bulk ingest's
# papers again for two minutes after it: 75k rows, about 0.5 s of a worker's CPU every 10 s.
NEAR = dt.timedelta(seconds=30)
# Most papers one delta holds (the runner rebuilds the base long before: index_rebuild_delta).
MAX_PAPERS = 50_000
# Most changes (id and time only) read per refresh: right after a bulk ingest and a build,
# the overlap before the watermark holds every paper of that ingest.
MAX_SCANNED = 500_000

log = logging.getLogger(__name__)


def now() -> dt.datetime:
    """The time a refresh begins (UTC)."""
    return dt.datetime.now(dt.UTC)


def watermark_of(snapshot: Snapshot) -> dt.datetime | None:
    """When the papers of a build were read (None for builds made before it was recorded)."""
    value = snapshot.meta.get("watermark")
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


class DeltaDocs:
    """The indexed delta papers: ids, days, BM25 weights (with a base's statistics), vectors."""

    def __init__(
        self,
        rows: Sequence[Any],
        analysed: Sequence[Analysed],
        stats: Statistics,
        dim: int | None,
    ) -> None:
        self.ids = np.asarray([r["id"] for r in rows], dtype=np.str_)
        self.number = {str(pid): i for i, pid in enumerate(self.ids)}
        self.published = np.asarray(
            [(r["published_at"].date() - EPOCH).days for r in rows], dtype=np.int32
        )
        self.keyword = KeywordIndex.build_analysed(analysed, stats)
        self.vectors: npt.NDArray[np.float32] | None = None
        if dim is not None:
            self.vectors = np.zeros((len(rows), dim), dtype=np.float32)
            for i, row in enumerate(rows):
                if row["vector"] is not None:
                    self.vectors[i] = np.asarray(row["vector"], dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)


class _Joined:
    """A base array followed by a delta array, indexable by document number."""

    def __init__(self, base: Any, extra: npt.NDArray[Any], dead: npt.NDArray[np.int64]) -> None:
        self.base = base
        self.extra = extra
        self.n = len(base)
        self.dead = dead
        self.dtype = np.result_type(base.dtype, extra.dtype)
        self.shape = (self.n + len(extra), *base.shape[1:])
        self.ndim = base.ndim

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int | np.integer):
            i = int(index)
            return self.base[i] if i < self.n else self.extra[i - self.n]
        positions = np.asarray(index)
        if positions.dtype == np.bool_:
            positions = np.flatnonzero(positions)
        low = positions < self.n
        if low.all():
            return np.asarray(self.base[positions])
        out = np.empty((len(positions), *self.shape[1:]), dtype=self.dtype)
        out[low] = self.base[positions[low]]
        out[~low] = self.extra[positions[~low] - self.n]
        return out

    @property
    def graph(self) -> Any:
        """The graph whose rows the base's are, if any (its neighbours are base rows)."""
        return getattr(self.base, "graph", None)

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        joined = np.concatenate([np.asarray(self.base), self.extra])
        return joined if dtype is None else joined.astype(dtype)

    def dot_rows(
        self, positions: npt.NDArray[np.int64], vector: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """``self[positions] @ vector``, the base's rows scored the base's way (ann.dot_rows)."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty(len(positions), dtype=np.float32)
        low = positions < self.n
        out[low] = ann.dot_rows(self.base, positions[low], vector)
        if not low.all():
            extra = self.extra[positions[~low] - self.n]
            out[~low] = np.asarray(extra @ vector, dtype=np.float32)
        return out

    def __matmul__(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        base = np.asarray(self.base @ vector, dtype=np.float32)
        if len(self.dead):
            base[self.dead] = 0.0
        return np.concatenate([base, np.asarray(self.extra @ vector, dtype=np.float32)])


class _JoinedPostings:
    """Filter postings of base and delta (delta documents numbered after the base's)."""

    def __init__(self, base: Postings, extra: Postings, n: int) -> None:
        self.base = base
        self.extra = extra
        self.n = n
        self._vocabulary: dict[str, int] | None = None
        self._folded: dict[str, list[str]] | None = None

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every term of both (the values mean nothing: only the names are read)."""
        if self._vocabulary is None:
            self._vocabulary = {**self.base.vocabulary, **self.extra.vocabulary}
        return self._vocabulary

    def named(self, value: str) -> list[str]:
        """As ``Postings.named``, over both vocabularies."""
        if self._folded is None:
            self._folded = fold_names(self.vocabulary)
        return named_in(self._folded, value)

    def docs(self, term: str) -> npt.NDArray[np.int64]:
        """Documents holding ``term``, ascending."""
        return np.concatenate([self.base.docs(term), self.extra.docs(term) + self.n])


class _JoinedKeyword:
    """BM25 of base and delta as one index (base copies replaced by the delta score 0)."""

    def __init__(self, base: KeywordIndex, extra: KeywordIndex, dead: npt.NDArray[np.int64]):
        self.base = base
        self.extra = extra
        self.dead = dead
        self.n_docs = base.n_docs + extra.n_docs
        self.fields = {
            name: _JoinedPostings(postings, extra.fields[name], base.n_docs)
            for name, postings in base.fields.items()
            if name in extra.fields
        }

    def scores(self, terms: Sequence[str]) -> npt.NDArray[np.float32]:
        """Dense BM25 scores of every document of both."""
        base = self.base.scores(terms)
        if len(self.dead):
            base[self.dead] = 0.0
        return np.concatenate([base, self.extra.scores(terms)])

    def docs_with(self, term: str) -> npt.NDArray[np.int64]:
        """Documents containing an analysed term, ascending."""
        return np.concatenate(
            [self.base.docs_with(term), self.extra.docs_with(term) + self.base.n_docs]
        )

    def holding(self, term: str, docs: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of ``docs`` contain an analysed term (each part searched on its own)."""
        n = self.base.n_docs
        extra = docs >= n
        held = np.zeros(len(docs), dtype=np.bool_)
        held[~extra] = self.base.holding(term, docs[~extra])
        held[extra] = self.extra.holding(term, docs[extra] - n)
        return held

    def idf(self, term: str) -> float:
        """The base's inverse document frequency (the delta is weighed with it)."""
        return self.base.idf(term)


class LiveView:
    """A base snapshot and its live delta, used by searches as one snapshot."""

    def __init__(self, base: Snapshot, docs: DeltaDocs) -> None:
        self.base = base
        self.docs = docs
        n = base.n_docs
        found = base.positions(docs.ids.tolist())
        self.dead = np.sort(found[found >= 0]).astype(np.int64)
        # The same as a mask over the base: one lookup per graph neighbour, not a set test.
        self.dead_mask = np.zeros(n, dtype=np.bool_)
        self.dead_mask[self.dead] = True
        self.directory = base.directory
        self.meta = base.meta
        self.model = base.model
        self.ann = base.ann
        self.doc_ids = _Joined(base.doc_ids, docs.ids, self.dead)
        self.published = _Joined(base.published, docs.published, self.dead)
        self.keyword = _JoinedKeyword(base.keyword, docs.keyword, self.dead)
        self.vectors = (
            _Joined(base.vectors, docs.vectors, self.dead)
            if base.vectors is not None and docs.vectors is not None
            else None
        )
        self.base_docs = n
        self.n_docs = n + len(docs)

    @property
    def name(self) -> str:
        """The base build's folder name."""
        return self.base.name

    def positions(self, ids: list[str]) -> npt.NDArray[np.int64]:
        """Document numbers of ``ids`` (the delta's copy first; -1 for unknown ids)."""
        found = self.base.positions(ids)
        for i, pid in enumerate(ids):
            number = self.docs.number.get(pid)
            if number is not None:
                found[i] = self.base_docs + number
        return found

    def day_number(self, day: dt.date) -> int:
        """Days since 1970-01-01 (the unit of ``published``)."""
        return self.base.day_number(day)

    def delta_similarities(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Cosine similarity of every delta paper to ``vector`` (exact)."""
        if self.docs.vectors is None:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.docs.vectors @ vector, dtype=np.float32)


class LiveDelta:
    """The delta of one process: refreshed by its follower, read by every search."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base: str | None = None
        self._rows: dict[str, RowMapping] = {}
        self._seen: dt.datetime | None = None
        # When the previous refresh of this base began to read changes, and the previous one
        # that read the whole overlap (a sweep).
        self._began: dt.datetime | None = None
        self._swept: dt.datetime | None = None
        self._docs: DeltaDocs | None = None
        self._view: LiveView | None = None
        # Kept between refreshes: each paper is analysed once, each term looked up once.
        self._analysed: dict[tuple[str, dt.datetime], Analysed] = {}
        self._stats: Statistics | None = None

    @property
    def size(self) -> int:
        """Papers in the delta now."""
        docs = self._docs
        return len(docs) if docs is not None else 0

    def view(self, snapshot: Snapshot) -> Snapshot | LiveView:
        """``snapshot`` joined with the delta (itself when the delta is empty)."""
        docs = self._docs
        if docs is None or not len(docs):
            return snapshot
        view = self._view
        if view is not None and view.base is snapshot and view.docs is docs:
            return view
        view = LiveView(snapshot, docs)  # a new base: its copies of delta papers, once
        self._view = view
        return view

    def refresh(self, *, engine: Engine, snapshot: Snapshot | None) -> int:
        """Read papers changed since the last refresh (since the base's watermark after a
        switch) and index them; returns the delta's size."""
        with self._lock:
            return self._refresh(engine, snapshot)

    def _refresh(self, engine: Engine, snapshot: Snapshot | None) -> int:
        watermark = watermark_of(snapshot) if snapshot is not None else None
        if snapshot is None or watermark is None:
            self._base, self._rows, self._seen, self._docs = None, {}, None, None
            return 0
        if self._base != snapshot.name or self._seen is None:
            self._base, self._rows, self._seen = snapshot.name, {}, watermark
            self._docs, self._stats = None, snapshot.keyword.statistics()
            self._began = self._swept = None
        began = now()
        since = self._seen - OVERLAP
        sweep = self._swept is None or began - self._swept >= OVERLAP
        if self._began is not None and self._swept is not None:
            # Papers stamped before the previous refresh began (less NEAR) were read by it, and
            # those stamped before the previous sweep began (less the overlap) by that sweep.
            # Without this, the overlap before the newest change stays where it is while
            # nothing changes (after a bulk ingest: 70,000 rows, 0.7 s, 30 MiB every 10 s).
            since = max(since, self._swept - OVERLAP if sweep else self._began - min(NEAR, OVERLAP))
        model = snapshot.model if snapshot.vectors is not None else None
        with engine.connect() as conn:
            changes = repo.changes_since(conn=conn, since=since, limit=MAX_SCANNED)
            wanted, changed = self._wanted(changes, snapshot, watermark)
            rows = repo.rows_of(conn=conn, ids=wanted, model=model)
            unvectored = [pid for pid, r in self._rows.items() if model and r["vector"] is None]
            vectors = repo.vectors_of(conn=conn, ids=unvectored, model=model) if model else {}
        changed = changed or self._docs is None or bool(rows)
        for row in rows:
            if not row["hidden"]:
                self._rows[row["id"]] = row
        for pid, vector in vectors.items():
            self._rows[pid] = _with_vector(self._rows[pid], vector)
            changed = True
        if changes:
            self._seen = max(self._seen, changes[0][1])
        self._began = began
        if sweep:
            self._swept = began
        if changed:
            ordered = sorted(self._rows.values(), key=lambda r: r["id"])
            dim = snapshot.vectors.shape[1] if model and snapshot.vectors is not None else None
            assert self._stats is not None
            self._docs = DeltaDocs(ordered, self._analyse(ordered), self._stats, dim)
        return len(self._rows)

    def _wanted(
        self,
        changes: list[tuple[str, dt.datetime, bool]],
        snapshot: Snapshot,
        watermark: dt.datetime,
    ) -> tuple[list[str], bool]:
        """Ids to fetch (changed, not in the base as they are, not held as they are), the
        latest first and at most ``MAX_PAPERS``; and whether a hidden paper left the delta."""
        in_base = snapshot.positions([pid for pid, _, _ in changes]) >= 0
        wanted: list[str] = []
        dropped = False
        for (pid, modified, hidden), known in zip(changes, in_base.tolist(), strict=True):
            if known and modified <= watermark:
                continue  # the base read it as it is
            held = self._rows.get(pid)
            if hidden:
                dropped = dropped or self._rows.pop(pid, None) is not None
            elif held is None or held["modified_at"] != modified:
                wanted.append(pid)
        if len(wanted) > MAX_PAPERS or len(self._rows) > MAX_PAPERS:
            log.warning("search delta: %d+ papers since the base build; run `index`", MAX_PAPERS)
        return wanted[:MAX_PAPERS], dropped

    def _analyse(self, rows: Sequence[Any]) -> list[Analysed]:
        """Analysed forms of ``rows``, from the previous refresh where unchanged."""
        kept: dict[tuple[str, dt.datetime], Analysed] = {}
        for row in rows:
            key = (row["id"], row["modified_at"])
            found = self._analysed.get(key)
            if found is None:
                found = analyse_doc(
                    IndexedDoc(row["title"], row["abstract"], row["authors"], row["categories"])
                )
            kept[key] = found
        self._analysed = kept
        return list(kept.values())


def _with_vector(row: RowMapping, vector: npt.NDArray[np.float32]) -> Any:
    values = dict(row)
    values["vector"] = vector
    return values
