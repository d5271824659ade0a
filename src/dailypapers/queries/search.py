"""Search and related papers: one function behind ``/search``, ``/api/papers/search`` and the CLI.

Any input yields results or a message, never an exception: the query parser accepts
everything, unknown filters match nothing, and a missing or damaged index says so
(``SearchResults.unavailable``; related papers are then simply empty).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from markupsafe import Markup
from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from dailypapers.index import ann
from dailypapers.index.delta import LiveDelta, LiveView
from dailypapers.index.embed_service import EmbeddingUnavailable, PendingVector
from dailypapers.index.embedder import Embedder
from dailypapers.index.snapshot import IndexUnavailable, Snapshot, SnapshotStore
from dailypapers.index.text import analyse, fold, words
from dailypapers.queries.highlight import excerpt_around, highlight, query_stems
from dailypapers.queries.periods import parse_day
from dailypapers.ranking import hybrid
from dailypapers.ranking.hybrid import Ranked
from dailypapers.ranking.query import ParsedQuery, parse_query
from dailypapers.render.latex import to_text
from dailypapers.storage import daily, embeddings, papers

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "keyword", "semantic"]
SortBy = Literal["relevance", "date", "upvotes"]
VectorSearch = Literal["auto", "pgvector"]
MAX_RESULTS = 1000
# A filtered semantic step asks the graph for enough neighbours that about twice the wanted
# number pass the filter, or scores the kept papers' rows exactly, whichever costs less: a
# graph search costs about GRAPH_TO_SCAN scanned rows per neighbour asked (measured at 75k
# and 1M papers: 3 to 4.8 us per neighbour from the graph's breadth on, 0.2 to 0.58 us per
# scanned row; a fixed 20,000-row limit had sent 27,000 kept papers at 1M to a 15,000-
# neighbour graph search, 58 ms against a 13 ms scan).
GRAPH_TO_SCAN = 8
# Most neighbours asked of the graph for a filtered search.
ANN_MAX_K = 20_000
# Semantic mode ranks this many papers when its page lies within them (a graph search costs
# what its breadth is, and 1,000 neighbours took about twice 400's time); deeper pages,
# re-sorted or verified results rank all ``MAX_RESULTS``.
SEMANTIC_SHALLOW = 400
# What searches read: a snapshot, or a snapshot joined with its live delta (index/delta.py).
Searchable = Snapshot | LiveView
# The semantic step's score of a paper whose similarity is not positive: every paper it
# ranks keeps a positive score (``hybrid.top`` keeps only those), below any real similarity.
FLOOR = np.float32(1e-6)


@dataclass(slots=True)
class Filters:
    """Filters from the form or API (the query's own ``cat:``/``author:`` add to these)."""

    category: str | None = None
    author: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def read(cls, *, category: str, author: str, date_from: str, date_to: str) -> Filters:
        """The filters of the search page and its feeds, as typed (empty: no filter); a date
        that is not one raises PeriodError naming ``from`` or ``to``."""
        return cls(
            category=category or None,
            author=author or None,
            date_from=parse_day(date_from, "from"),
            date_to=parse_day(date_to, "to"),
        )


@dataclass(slots=True)
class Hit:
    """One result: the paper row (with its day entry) and the highlighted text."""

    row: RowMapping
    score: float
    title_html: Markup
    excerpt_html: Markup


@dataclass(slots=True)
class SearchResults:
    """A page of results."""

    query: str
    mode: Mode
    sort: SortBy
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    page: int = 0
    limit: int = 20
    message: str | None = None
    milliseconds: float = 0.0
    unavailable: IndexUnavailable | None = None

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.limit))


class Searcher:
    """Runs searches against the current snapshot with its live delta, the database and the
    embedder."""

    def __init__(
        self,
        store: SnapshotStore,
        embedder: Embedder | None,
        vector_search: VectorSearch = "auto",
        live: LiveDelta | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vector_search = vector_search
        self.live = live or LiveDelta()
        self._vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the embedding model now rather than on the first search."""
        if self.embedder is not None:
            self.embedder.embed(["warm up"])

    def query_vector(self, text: str) -> npt.NDArray[np.float32] | None:
        """The embedding of a query (cached for repeated queries)."""
        coming = self._query_vector(text)
        try:
            return coming.get()
        finally:
            coming.close()

    def _query_vector(self, text: str) -> QueryVector:
        """The embedding of ``text`` to come: from the cache, or asked of the node's
        embedding service now (a worker's searches go on while the model runs), or computed
        by ``get()`` (a model in this process)."""
        if self.embedder is None or not text:
            return QueryVector(self, text, None)
        with self._lock:
            cached = self._vectors.get(text)
        if cached is not None:
            return QueryVector(self, text, cached)
        begin = getattr(self.embedder, "begin", None)  # RemoteEmbedder
        try:
            return QueryVector(self, text, None, begin(text) if begin is not None else None)
        except EmbeddingUnavailable:
            log.warning("query embedding unavailable; searching by keyword", exc_info=True)
            return QueryVector(self, text, None, failed=True)

    def _remember(self, text: str, vector: npt.NDArray[np.float32]) -> None:
        with self._lock:
            self._vectors[text] = vector
            if len(self._vectors) > 2048:
                self._vectors.popitem(last=False)

    def search(
        self,
        *,
        conn: Connection,
        q: str,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
        sort: SortBy = "relevance",
        page: int = 0,
        limit: int = 20,
        highlight_hits: bool = True,
    ) -> SearchResults:
        """Search for ``q``; see the module docstring for what is guaranteed.

        ``highlight_hits=False`` skips building highlighted HTML (the JSON API has no use
        for it).
        """
        started = time.perf_counter()
        result = SearchResults(query=q, mode=mode, sort=sort, page=page, limit=limit)
        try:
            with self.store.use() as snapshot:
                view = self.live.view(snapshot)
                self._search(conn, view, result, filters or Filters(), highlight_hits)
        except IndexUnavailable as exc:
            result.hits, result.total = [], 0
            result.message, result.unavailable = exc.notice, exc
        result.milliseconds = (time.perf_counter() - started) * 1000
        return result

    def _search(
        self,
        conn: Connection,
        snapshot: Searchable,
        result: SearchResults,
        filters: Filters,
        highlight_hits: bool,
    ) -> None:
        q, mode, sort = result.query, result.mode, result.sort
        page, limit = result.page, result.limit
        parsed = parse_query(q)
        text = parsed.text
        # Asked for first: the node's model embeds the query while the filters and the
        # keyword scores are worked out here.
        wanted = mode != "keyword" and snapshot.vectors is not None
        coming = self._query_vector(text if wanted else "")
        try:
            keep = _mask(snapshot, parsed, filters)
            if not text and keep is None:
                result.message = (
                    "Type a few words to search."
                    if not q.strip()
                    else ("Nothing to search for in that query: try other words.")
                )
                return
            # Phrases and author names are checked on the text: all MAX_RESULTS, then counted.
            verify = bool(parsed.phrases or parsed.authors or filters.author)
            # A semantic page within the first SEMANTIC_SHALLOW needs only those ranked.
            shallow = (
                mode == "semantic"
                and sort == "relevance"
                and (page + 1) * limit <= SEMANTIC_SHALLOW
                and not verify
            )
            depth = SEMANTIC_SHALLOW if shallow else MAX_RESULTS
            # Author names and phrases are checked after ranking, among papers that only hold
            # their words: hybrid fuses more of the nearest there, so that the check finds the
            # papers it keeps (100 left three author searches of 361 at 1M papers with none).
            nearest = hybrid.CANDIDATES if verify else hybrid.NEAREST
            ranked = self._rank(
                conn, snapshot, parsed, keep, mode, text, coming, depth, nearest=nearest
            )
            # Ranked by similarity (not keyword results for want of a vector): every paper
            # had a place, so the total is what ranking MAX_RESULTS would have given.
            shallow = shallow and bool(text) and coming.get() is not None
        finally:
            coming.close()
        positions = ranked.positions[:MAX_RESULTS]
        scores: dict[str, float] = {}
        if sort == "relevance" and not verify and not isinstance(snapshot, LiveView):
            # The ranking is the order shown: only the page's ids are needed.
            result.total = len(positions)
            window = slice(page * limit, (page + 1) * limit)
            chosen: list[str] = snapshot.doc_ids[positions[window]].tolist()
            scores = dict(zip(chosen, ranked.scores[window].tolist(), strict=True))
        else:
            ids: list[str] = snapshot.doc_ids[positions].tolist()
            for pid, score in zip(ids, ranked.scores[:MAX_RESULTS].tolist(), strict=True):
                scores.setdefault(pid, score)  # a paper in both base and delta: its best place
            if isinstance(snapshot, LiveView):
                ids = list(scores)
            if verify:
                ids = _verify(conn, ids, parsed, filters)
            if sort == "date":
                order = np.argsort(-snapshot.published[snapshot.positions(ids)], kind="stable")
                ids = [ids[i] for i in order]
            elif sort == "upvotes":
                votes = papers.upvotes_of(conn=conn, ids=ids)
                ids = sorted(ids, key=lambda pid: -votes.get(pid, 0))
            result.total = len(ids)
            chosen = ids[page * limit : (page + 1) * limit]
        if shallow and result.total == SEMANTIC_SHALLOW:
            available = snapshot.n_docs if keep is None else int(np.count_nonzero(keep))
            result.total = min(MAX_RESULTS, available)
        rows = daily.entries_for_papers(conn=conn, ids=chosen)
        stems = query_stems(text) if highlight_hits else frozenset()
        for pid in chosen:
            row = rows.get(pid)
            if row is None:
                continue  # hidden or deleted since the snapshot was built
            result.hits.append(
                Hit(
                    row=row,
                    score=float(scores.get(pid, 0.0)),
                    title_html=highlight(to_text(row["title"]), stems)
                    if highlight_hits
                    else Markup(),
                    excerpt_html=(
                        highlight(excerpt_around(to_text(row["abstract"]), stems), stems)
                        if highlight_hits
                        else Markup()
                    ),
                )
            )
        if not result.total:
            result.message = "No papers match that search."

    def _rank(
        self,
        conn: Connection,
        snapshot: Searchable,
        parsed: ParsedQuery,
        keep: npt.NDArray[np.bool_] | None,
        mode: Mode,
        text: str,
        coming: QueryVector,
        semantic_depth: int,
        *,
        nearest: int,
    ) -> Ranked:
        if not text:  # filters only: newest first
            assert keep is not None
            positions = np.flatnonzero(keep)
            order = np.argsort(-snapshot.published[positions], kind="stable")[:MAX_RESULTS]
            chosen = positions[order].astype(np.int64)
            return Ranked(chosen, np.ones(len(chosen), dtype=np.float32))
        if mode == "semantic" and snapshot.vectors is not None:
            vector = coming.get()
            if vector is not None:  # else keyword results, as below
                return self._semantic(conn, snapshot, vector, keep, semantic_depth)
        terms = analyse(text)
        keyword = hybrid.top(snapshot.keyword.scores(terms), MAX_RESULTS, keep=keep)
        vector = coming.get()
        if vector is None or snapshot.vectors is None:
            return keyword
        semantic = self._semantic(conn, snapshot, vector, keep, nearest)
        union = np.union1d(keyword.positions[: hybrid.CANDIDATES], semantic.positions)
        similarity = _similarities(snapshot, union, semantic, vector)
        exact = bool(parsed.phrases or parsed.title)
        n_terms = len(set(terms))
        alpha = hybrid.keyword_weight(n_terms, exact=exact)
        weigh_coverage = hybrid.uses_coverage(n_terms, exact=exact)
        fused = hybrid.fuse(
            Ranked(keyword.positions[: hybrid.CANDIDATES], keyword.scores[: hybrid.CANDIDATES]),
            semantic,
            similarity,
            alpha=alpha,
            limit=MAX_RESULTS,
            union=union,
            coverage=_coverage(snapshot, terms, union) if weigh_coverage else None,
        )
        # Keyword matches beyond the fused candidates keep their BM25 order after them.
        rest = keyword.positions[~_among(keyword.positions, fused.positions)]
        return Ranked(
            np.concatenate([fused.positions, rest]),
            np.concatenate([fused.scores, np.zeros(len(rest), dtype=np.float32)]),
        )

    def _semantic(
        self,
        conn: Connection,
        snapshot: Searchable,
        vector: npt.NDArray[np.float32],
        keep: npt.NDArray[np.bool_] | None,
        depth: int,
    ) -> Ranked:
        assert snapshot.vectors is not None
        if self._use_pgvector(conn, snapshot, keep):
            assert snapshot.model is not None
            nearest = embeddings.pg_nearest(
                conn=conn, vector=vector, model=snapshot.model, limit=depth
            )
            positions = snapshot.positions([pid for pid, _ in nearest])
            sims = np.asarray([s for _, s in nearest], dtype=np.float32)
            found = positions >= 0
            return Ranked(positions[found], sims[found])
        kept = np.flatnonzero(keep) if keep is not None else None
        if snapshot.ann is not None:
            k = depth if kept is None else _neighbours(depth, snapshot.n_docs, len(kept))
            breadth = max(k, ann.EXPANSION_SEARCH)
            if kept is None or (k <= ANN_MAX_K and GRAPH_TO_SCAN * breadth < len(kept)):
                graph = self._ann(
                    snapshot, vector, keep, k, depth, None if kept is None else len(kept)
                )
                if graph is not None:
                    return _with_delta(snapshot, graph, vector, keep, depth)
        if kept is not None and len(kept) < snapshot.n_docs // 2:
            # A filter keeps few papers: score only those rows.
            sims = ann.dot_rows(snapshot.vectors, kept, vector)
            sims = _floored(sims)
            best = hybrid.top(sims, depth)
            return Ranked(kept[best.positions].astype(np.int64), best.scores)
        sims = np.asarray(snapshot.vectors @ vector, dtype=np.float32)
        sims = _floored(sims)
        return hybrid.top(sims, depth, keep=keep)

    def _use_pgvector(
        self, conn: Connection, snapshot: Searchable, keep: npt.NDArray[np.bool_] | None
    ) -> bool:
        """pgvector answers unfiltered searches on PostgreSQL when asked to, or when the
        snapshot has no graph of its own (the graph is memory-mapped in this process, so it
        needs no round trip and no index pages in the database's cache)."""
        if conn.dialect.name != "postgresql" or keep is not None or not snapshot.model:
            return False
        return self.vector_search == "pgvector" or snapshot.ann is None

    @staticmethod
    def _ann(
        snapshot: Searchable,
        vector: npt.NDArray[np.float32],
        keep: npt.NDArray[np.bool_] | None,
        k: int,
        depth: int,
        kept: int | None,
    ) -> Ranked | None:
        """The ``depth`` nearest papers (that pass ``keep``, which keeps ``kept``) among the
        graph's ``k`` nearest; None when fewer than ``depth`` of them pass (scan instead)."""
        positions, sims = ann.nearest(snapshot.ann, vector, k, snapshot.vectors)
        if keep is not None:
            passed = keep[positions]
            if int(passed.sum()) < min(depth, kept or 0):
                return None
            positions, sims = positions[passed][:depth], sims[passed][:depth]
        return Ranked(positions, _floored(sims))

    def similar(self, *, conn: Connection, arxiv_id: str, limit: int = 6) -> list[RowMapping]:
        """Papers nearest to ``arxiv_id`` by embedding, itself excluded (none when the index
        is missing or damaged: a paper page shows without them)."""
        try:
            with self.store.use() as snapshot:
                ids = self._similar(conn, self.live.view(snapshot), arxiv_id, limit)
        except IndexUnavailable:
            return []
        rows = daily.entries_for_papers(conn=conn, ids=ids)
        return [rows[pid] for pid in ids if pid in rows]

    def _similar(
        self, conn: Connection, snapshot: Searchable, arxiv_id: str, limit: int
    ) -> list[str]:
        if snapshot.vectors is None:
            return []
        position = int(snapshot.positions([arxiv_id])[0])
        if position >= 0 and snapshot.vectors[position].any():
            vector = np.asarray(snapshot.vectors[position], dtype=np.float32)
        elif snapshot.model is not None:
            stored = embeddings.vector_of(conn=conn, paper_id=arxiv_id, model=snapshot.model)
            if stored is None:
                return []
            vector = stored
        else:
            return []
        ranked = self._semantic(conn, snapshot, vector, None, limit + 1)
        ids = [
            str(snapshot.doc_ids[p]) for p in ranked.positions if snapshot.doc_ids[p] != arxiv_id
        ]
        return list(dict.fromkeys(ids))[:limit]


class QueryVector:
    """A query's embedding, known or on its way (``Searcher._query_vector``); ``get()`` is
    None when there is none (no model, or the node's embedding service is unavailable:
    keyword results). ``close()`` must follow, on the same thread."""

    def __init__(
        self,
        searcher: Searcher,
        text: str,
        vector: npt.NDArray[np.float32] | None,
        pending: PendingVector | None = None,
        *,
        failed: bool = False,
    ) -> None:
        self._searcher = searcher
        self._text = text
        self._vector = vector
        self._pending = pending
        self._failed = failed or not text

    def get(self) -> npt.NDArray[np.float32] | None:
        """The vector (computed or read now if need be)."""
        embedder = self._searcher.embedder
        if self._vector is not None or self._failed or embedder is None:
            return self._vector
        try:
            if self._pending is not None:
                self._vector = self._pending.result()[0]
            else:
                self._vector = embedder.embed([self._text])[0]
        except EmbeddingUnavailable:
            # The node's embedding service is down or restarting: keyword results.
            log.warning("query embedding unavailable; searching by keyword", exc_info=True)
            self._failed = True
            return None
        self._searcher._remember(self._text, self._vector)
        return self._vector

    def close(self) -> None:
        """Drop an answer never read (its connection goes with it)."""
        if self._pending is not None:
            self._pending.close()


def _with_delta(
    snapshot: Searchable,
    ranked: Ranked,
    vector: npt.NDArray[np.float32],
    keep: npt.NDArray[np.bool_] | None,
    depth: int,
) -> Ranked:
    """The graph's neighbours (base papers) merged with the exactly scored delta papers.

    Only the delta's own best ``depth`` can reach the merged best ``depth``, so only they are
    sorted with the neighbours (sorting all of a 5,000-paper delta, and ``np.isin`` against
    its masked base copies, made a search 1.6x slower at 75k papers); same order as sorting
    everything: ties keep base papers first, then delta papers by number.
    """
    if not isinstance(snapshot, LiveView):
        return ranked
    sims = snapshot.delta_similarities(vector)
    if not len(sims):
        return ranked
    positions = np.arange(snapshot.base_docs, snapshot.n_docs, dtype=np.int64)
    if keep is not None:
        passed = keep[positions]
        positions, sims = positions[passed], sims[passed]
    sims = _floored(sims)
    best = stable_top(sims, depth)
    alive = ~snapshot.dead_mask[ranked.positions]
    merged_positions = np.concatenate([ranked.positions[alive], positions[best]])
    merged = np.concatenate([ranked.scores[alive].astype(np.float32), sims[best]])
    order = np.argsort(-merged, kind="stable")[:depth]
    return Ranked(merged_positions[order], merged[order])


def _similarities(
    snapshot: Searchable,
    union: npt.NDArray[np.int64],
    semantic: Ranked,
    vector: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """The similarity to ``vector`` of every paper in ``union`` (sorted, unique), which
    holds ``semantic``'s: those are taken from it, the others' (keyword hits the semantic
    step did not rank, and its papers at the ``FLOOR``) read from their rows."""
    assert snapshot.vectors is not None
    similarity = np.empty(len(union), dtype=np.float32)
    known = semantic.scores > FLOOR
    at = np.searchsorted(union, semantic.positions[known])
    similarity[at] = semantic.scores[known]
    missing = np.ones(len(union), dtype=np.bool_)
    missing[at] = False
    if missing.any():
        similarity[missing] = ann.dot_rows(snapshot.vectors, union[missing], vector)
    return similarity


def _floored(sims: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Similarities as the semantic step's scores: those not positive become ``FLOOR``."""
    return np.where(sims > 0, sims, FLOOR).astype(np.float32)


def _coverage(
    snapshot: Searchable, terms: Sequence[str], union: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32] | None:
    """The share of the query's words that each paper of ``union`` holds; None for fewer than
    two words. (A word no paper holds scales every paper's share alike, which the division by
    the best keyword score undoes.)"""
    distinct = list(dict.fromkeys(terms))
    if len(distinct) < 2:
        return None
    held = np.zeros(len(union), dtype=np.float32)
    for term in distinct:
        held += snapshot.keyword.holding(term, union)
    return held / np.float32(len(distinct))


def _among(values: npt.NDArray[np.int64], pool: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which of ``values`` are in ``pool`` (``np.isin``, which took 0.14 ms for BM25's 1,000
    against the fused few hundred: here a binary search in the sorted pool)."""
    if not len(pool):
        return np.zeros(len(values), dtype=np.bool_)
    ordered = np.sort(pool)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    found: npt.NDArray[np.bool_] = ordered[at] == values
    return found


def _neighbours(depth: int, n_docs: int, kept: int) -> int:
    """Neighbours to ask of the graph so that about twice ``depth`` pass a filter keeping
    ``kept`` of ``n_docs`` papers."""
    return int(depth * n_docs / max(kept, 1) * 2) + depth


def stable_top(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """``np.argsort(-scores, kind="stable")[:k]`` without sorting all of ``scores``: the
    ``k``-th best value found by a partition, then only what reaches it sorted."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable").astype(np.int64)
    negated = -scores
    kth = np.partition(negated, k - 1)[k - 1]
    reaching = np.flatnonzero(negated <= kth)  # ascending: ties stay in their order
    return reaching[np.argsort(negated[reaching], kind="stable")[:k]].astype(np.int64)


def _docs_with_all(snapshot: Searchable, field: str, values: list[str]) -> npt.NDArray[np.int64]:
    postings = snapshot.keyword.fields[field]
    result: npt.NDArray[np.int64] | None = None
    for value in values:
        docs = postings.docs(value)
        result = docs if result is None else np.intersect1d(result, docs, assume_unique=True)
    return result if result is not None else np.empty(0, dtype=np.int64)


def _mask(
    snapshot: Searchable, parsed: ParsedQuery, filters: Filters
) -> npt.NDArray[np.bool_] | None:
    """Documents allowed by the filters, phrases and exclusions (None: no restriction)."""
    keep: npt.NDArray[np.bool_] | None = None

    def restrict(docs: npt.NDArray[np.int64]) -> None:
        nonlocal keep
        allowed = np.zeros(snapshot.n_docs, dtype=np.bool_)
        allowed[docs] = True
        keep = allowed if keep is None else keep & allowed

    categories = [*parsed.categories, *([filters.category] if filters.category else [])]
    for category in categories:
        field = snapshot.keyword.fields["category"]
        allowed = np.zeros(snapshot.n_docs, dtype=np.bool_)
        for name in field.named(category):
            allowed[field.docs(name)] = True
        keep = allowed if keep is None else keep & allowed
    for author in [*parsed.authors, *([filters.author] if filters.author else [])]:
        restrict(_docs_with_all(snapshot, "author", words(author)))
    for title in parsed.title:
        restrict(_docs_with_all(snapshot, "title", analyse(title)))
    for phrase in parsed.phrases:
        terms = analyse(phrase)
        if terms:
            docs = snapshot.keyword.docs_with(terms[0])
            for term in terms[1:]:
                docs = np.intersect1d(docs, snapshot.keyword.docs_with(term), assume_unique=True)
            restrict(docs)
    if filters.date_from or filters.date_to:
        low = snapshot.day_number(filters.date_from) if filters.date_from else -(2**31)
        high = snapshot.day_number(filters.date_to) if filters.date_to else 2**31 - 1
        allowed = (np.asarray(snapshot.published) >= low) & (np.asarray(snapshot.published) <= high)
        keep = allowed if keep is None else keep & allowed
    for excluded in parsed.excluded:
        terms = analyse(excluded)
        if not terms:
            continue
        docs = snapshot.keyword.docs_with(terms[0])
        for term in terms[1:]:
            docs = np.intersect1d(docs, snapshot.keyword.docs_with(term), assume_unique=True)
        if keep is None:
            keep = np.ones(snapshot.n_docs, dtype=np.bool_)
        keep[docs] = False
    return keep


def _verify(conn: Connection, ids: list[str], parsed: ParsedQuery, filters: Filters) -> list[str]:
    """Keep papers where quoted phrases occur as phrases and author names match a person."""
    phrases = [joined for p in parsed.phrases if (joined := " ".join(words(p)))]
    authors = [words(a) for a in [*parsed.authors, *([filters.author] if filters.author else [])]]
    rows = papers.authors_of(conn=conn, ids=ids, with_text=bool(phrases))
    kept = []
    for pid in ids:
        row = rows.get(pid)
        if row is None:
            continue
        if phrases:
            body = " " + " ".join(words(f"{row['title']} {row['abstract']}")) + " "
            if any(f" {p} " not in body for p in phrases):
                continue
        if any(a and not _one_author_has(row["authors"], a) for a in authors):
            continue
        kept.append(pid)
    return kept


def _one_author_has(authors: Sequence[str], name: list[str]) -> bool:
    """Whether one of ``authors`` has every word of ``name`` (folded words).

    A word of an author's name is also a substring of the folded name, so names (and, when
    plain ASCII, whole author lists) without all the words as substrings are passed over
    before any is split into words: papers of large collaborations list thousands of
    authors, and splitting them all took up to 130 ms of a search at 1M papers."""
    everyone = "\n".join(authors)
    if everyone.isascii():
        everyone = everyone.lower()  # what fold() does to ASCII
        if not all(word in everyone for word in name):
            return False
    for author in authors:
        folded = fold(author)
        if all(word in folded for word in name) and all(word in words(author) for word in name):
            return True
    return False
