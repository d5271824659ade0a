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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


def doc_terms(doc: IndexedDoc) -> list[str]:
    """The index terms of one paper (title repeated for its weight)."""
    title = analyse(doc.title)
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


class KeywordIndex:
    """BM25 over a CSC matrix (documents x terms) with presence postings for field filters."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        weights: tuple[FloatArray, IntArray, IntArray],
        fields: dict[str, Postings],
        n_docs: int,
    ) -> None:
        self.vocabulary = vocabulary
        self.data, self.indices, self.indptr = weights
        self.fields = fields
        self.n_docs = n_docs

    @classmethod
    def build(cls, docs: Iterable[IndexedDoc]) -> KeywordIndex:
        """Index ``docs`` (their position is their document number)."""
        vocabulary: dict[str, int] = {}
        postings: list[list[tuple[int, int]]] = []
        fields: dict[str, dict[str, list[int]]] = {"title": {}, "author": {}, "category": {}}
        lengths: list[int] = []
        for number, doc in enumerate(docs):
            terms = doc_terms(doc)
            lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                tid = vocabulary.setdefault(term, len(vocabulary))
                if tid == len(postings):
                    postings.append([])
                postings[tid].append((number, tf))
            for field, values in (
                ("title", set(analyse(doc.title))),
                ("author", {w for name in doc.authors for w in words(name)}),
                ("category", set(doc.categories)),
            ):
                for value in values:
                    fields[field].setdefault(value, []).append(number)
        n_docs = len(lengths)
        avgdl = (sum(lengths) / n_docs) if n_docs else 1.0
        doc_len = np.asarray(lengths, dtype=np.float32)
        norm = K1 * (1 - B + B * doc_len / max(avgdl, 1e-9))
        indptr = np.zeros(len(postings) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(p) for p in postings])
        indices = np.empty(int(indptr[-1]), dtype=np.int64)
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        for tid, plist in enumerate(postings):
            start, end = indptr[tid], indptr[tid + 1]
            docs_arr = np.fromiter((d for d, _ in plist), dtype=np.int64, count=len(plist))
            tfs = np.fromiter((t for _, t in plist), dtype=np.float32, count=len(plist))
            df = len(plist)
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            indices[start:end] = docs_arr
            data[start:end] = idf * tfs * (K1 + 1) / (tfs + norm[docs_arr])
        built = {name: Postings.build(lists) for name, lists in fields.items()}
        return cls(vocabulary, (data, indices, indptr), built, n_docs)

    def save(self, directory: Path) -> None:
        """Write the index as plain .npy files and JSON vocabularies."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, array in (
            ("data", self.data),
            ("indices", self.indices),
            ("indptr", self.indptr),
        ):
            np.save(directory / f"bm25.{name}.npy", array)
        (directory / "bm25.vocabulary.json").write_text(json.dumps(self.vocabulary))
        for name, postings in self.fields.items():
            postings.save(directory, name)
        (directory / "keyword.json").write_text(
            json.dumps({"n_docs": self.n_docs, "fields": sorted(self.fields)})
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
