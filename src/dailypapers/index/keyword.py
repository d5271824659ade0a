"""BM25 keyword index: precomputed BM25 weights in a sparse matrix, memory-mapped from disk.

The same index serves SQLite and PostgreSQL, so ranking is identical on both. Scoring a query
sums a few sparse columns into a dense score vector, which stays fast at a million papers
(FTS5 and ``ts_rank`` score every matching row; this scores only the query's postings).
Fields: the title counts twice, authors once, the abstract once (a simple BM25F). Presence
postings of title words, author words and categories serve the ``title:``, ``author:`` and
category filters.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dailypapers.index.text import analyse, words

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class IndexedDoc:
    """What the keyword index reads of a paper."""

    title: str
    abstract: str
    authors: Sequence[str]
    categories: Sequence[str] = ()


def doc_terms(doc: IndexedDoc, title: list[str]) -> list[str]:
    """The index terms of one paper, given its analysed title (repeated for its weight)."""
    return title * TITLE_WEIGHT + analyse(doc.abstract) + analyse(" ".join(doc.authors))


class Postings:
    """Presence lists (term -> sorted document numbers) for filters: title words, author
    words, categories."""

    def __init__(self, vocabulary: dict[str, int], indices: IntArray, indptr: IntArray) -> None:
        self.vocabulary = vocabulary
        self.indices = indices
        self.indptr = indptr

    @classmethod
    def build(cls, lists: dict[str, list[int]]) -> Postings:
        """From term -> document numbers (each ascending)."""
        vocabulary = {term: tid for tid, term in enumerate(lists)}
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(v) for v in lists.values()])
        indices = np.fromiter(
            (d for docs in lists.values() for d in docs), dtype=np.int64, count=int(indptr[-1])
        )
        return cls(vocabulary, indices, indptr)

    def docs(self, term: str) -> IntArray:
        """Documents holding ``term`` (empty when unknown)."""
        tid = self.vocabulary.get(term)
        if tid is None:
            return np.empty(0, dtype=np.int64)
        return self.indices[int(self.indptr[tid]) : int(self.indptr[tid + 1])]

    def save(self, directory: Path, name: str) -> None:
        """Write as ``name.*`` files."""
        np.save(directory / f"{name}.indices.npy", self.indices)
        np.save(directory / f"{name}.indptr.npy", self.indptr)
        (directory / f"{name}.vocabulary.json").write_text(json.dumps(self.vocabulary))

    @classmethod
    def load(cls, directory: Path, name: str) -> Postings:
        """Memory-map what ``save`` wrote."""
        return cls(
            json.loads((directory / f"{name}.vocabulary.json").read_text()),
            np.load(directory / f"{name}.indices.npy", mmap_mode="r"),
            np.load(directory / f"{name}.indptr.npy", mmap_mode="r"),
        )


@dataclass(slots=True)
class Analysed:
    """What indexing takes of a paper: its weighted terms and its filter values."""

    terms: list[str]
    title: set[str]
    authors: set[str]
    categories: set[str]


def analyse_doc(doc: IndexedDoc) -> Analysed:
    """The analysed form of a paper (what ``KeywordIndex.build`` reads)."""
    title = analyse(doc.title)
    return Analysed(
        doc_terms(doc, title),
        set(title),
        {w for name in doc.authors for w in words(name)},
        set(doc.categories),
    )


@dataclass(slots=True)
class Statistics:
    """Collection statistics BM25 weighs with: those of a base index, so papers indexed on
    top of it (the live delta) score exactly as they would inside it."""

    n_docs: int
    avgdl: float
    base: KeywordIndex
    known: dict[str, int] = field(default_factory=dict)

    def df(self, term: str) -> int:
        """Documents of the base holding ``term`` (remembered: the delta asks again)."""
        found = self.known.get(term)
        if found is None:
            found = self.known[term] = len(self.base.docs_with(term))
        return found


class KeywordIndex:
    """BM25 over a CSC matrix (documents x terms) with presence postings for field filters."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        weights: tuple[FloatArray, IntArray, IntArray],
        fields: dict[str, Postings],
        n_docs: int,
        avgdl: float | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.data, self.indices, self.indptr = weights
        self.fields = fields
        self.n_docs = n_docs
        self.avgdl = avgdl  # None for builds made before it was recorded

    def statistics(self) -> Statistics:
        """This index's statistics, for weighing papers added on top of it."""
        avgdl = self.avgdl if self.avgdl else 0.0
        return Statistics(self.n_docs, avgdl, self)

    @classmethod
    def build(cls, docs: Iterable[IndexedDoc], stats: Statistics | None = None) -> KeywordIndex:
        """Index ``docs`` (their position is their document number); with ``stats``, weigh
        them with another index's document count, frequencies and mean length."""
        return cls.build_analysed((analyse_doc(doc) for doc in docs), stats)

    @classmethod
    def build_analysed(
        cls, docs: Iterable[Analysed], stats: Statistics | None = None
    ) -> KeywordIndex:
        """``build`` from papers already analysed (the delta keeps them between refreshes)."""
        vocabulary: dict[str, int] = {}
        # One (term, tf) pair per distinct term of each document, documents in order.
        term_ids = array("q")
        term_freqs = array("f")
        distinct = array("q")
        lengths = array("q")
        fields: dict[str, dict[str, list[int]]] = {"title": {}, "author": {}, "category": {}}
        for number, doc in enumerate(docs):
            lengths.append(len(doc.terms))
            counts = Counter(doc.terms)
            distinct.append(len(counts))
            term_ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in counts])
            term_freqs.extend(counts.values())
            for name, values in (
                ("title", doc.title),
                ("author", doc.authors),
                ("category", doc.categories),
            ):
                for value in values:
                    fields[name].setdefault(value, []).append(number)
        n_docs = len(lengths)
        tids = np.frombuffer(term_ids, dtype=np.int64)
        tfs = np.frombuffer(term_freqs, dtype=np.float32)
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), np.frombuffer(distinct, np.int64))
        doc_len = np.frombuffer(lengths, dtype=np.int64)
        avgdl = float(doc_len.sum()) / n_docs if n_docs else 1.0
        df = np.bincount(tids, minlength=len(vocabulary))
        if stats is None:
            idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        else:
            avgdl = stats.avgdl or avgdl  # an old base without its mean: the papers' own
            base_df = np.asarray([stats.df(t) for t in vocabulary], dtype=np.float64)
            idf = np.log(1 + (stats.n_docs - base_df + 0.5) / (base_df + 0.5))
        norm = K1 * (1 - B + B * doc_len.astype(np.float32) / max(avgdl, 1e-9))
        # Group by term; a stable sort keeps each term's documents ascending.
        order = np.argsort(tids, kind="stable")
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(df)
        indices = doc_of[order]
        tf = tfs[order]
        weight = idf.astype(np.float32)[tids[order]]
        data = (weight * tf * np.float32(K1 + 1) / (tf + norm[indices])).astype(np.float32)
        built = {name: Postings.build(lists) for name, lists in fields.items()}
        return cls(vocabulary, (data, indices, indptr), built, n_docs, avgdl)

    def save(self, directory: Path) -> None:
        """Write the index as plain .npy files and JSON vocabularies."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, values in (
            ("data", self.data),
            ("indices", self.indices),
            ("indptr", self.indptr),
        ):
            np.save(directory / f"bm25.{name}.npy", values)
        (directory / "bm25.vocabulary.json").write_text(json.dumps(self.vocabulary))
        for name, postings in self.fields.items():
            postings.save(directory, name)
        (directory / "keyword.json").write_text(
            json.dumps({"n_docs": self.n_docs, "fields": sorted(self.fields), "avgdl": self.avgdl})
        )

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """Memory-map an index written by ``save`` (pages are shared between workers)."""
        meta = json.loads((directory / "keyword.json").read_text())
        weights: tuple[FloatArray, IntArray, IntArray] = tuple(
            np.load(directory / f"bm25.{name}.npy", mmap_mode="r")
            for name in ("data", "indices", "indptr")
        )
        return cls(
            json.loads((directory / "bm25.vocabulary.json").read_text()),
            weights,
            {name: Postings.load(directory, name) for name in meta["fields"]},
            int(meta["n_docs"]),
            meta.get("avgdl"),
        )

    def _postings(self, term: str) -> tuple[IntArray, FloatArray]:
        tid = self.vocabulary.get(term)
        if tid is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        start, end = int(self.indptr[tid]), int(self.indptr[tid + 1])
        return self.indices[start:end], self.data[start:end]

    def docs_with(self, term: str) -> IntArray:
        """Document numbers containing an (analysed) term anywhere."""
        return self._postings(term)[0]

    def scores(self, terms: Sequence[str]) -> FloatArray:
        """Dense BM25 scores of every document for the query terms (repeats count once)."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for term in dict.fromkeys(terms):
            docs, weights = self._postings(term)
            scores[docs] += weights
        return scores

    def idf(self, term: str) -> float:
        """Inverse document frequency of an analysed term (0 when unknown)."""
        df = len(self.docs_with(term))
        if not df:
            return 0.0
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))
