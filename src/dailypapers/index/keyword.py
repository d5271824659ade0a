"""BM25 keyword index: precomputed BM25 weights in a sparse matrix, memory-mapped from disk.

The same index serves SQLite and PostgreSQL, so ranking is identical on both. Scoring a query
sums a few sparse columns into a dense score vector, which stays fast at a million papers
(FTS5 and ``ts_rank`` score every matching row; this scores only the query's postings).
Fields: the title counts twice, authors once, the abstract once (a simple BM25F). Presence
postings of title words, author words and categories serve the ``title:``, ``author:`` and
category filters.

Vocabularies are saved as sorted term tables (``Terms``), memory-mapped like the postings,
so every worker shares their pages instead of holding dicts of Python strings.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
# Term -> term id: a dict while an index is built, a ``Terms`` table once saved.
Vocabulary = Mapping[str, int]


def _utf8(term: str) -> bytes:
    return term.encode("utf-8", "surrogatepass")


class Terms(Mapping[str, int]):
    """A vocabulary as a sorted table, memory-mapped from ``NAME.terms.npy`` (the UTF-8 terms
    back to back, in byte order), ``NAME.term_starts.npy`` (where each starts, and the end)
    and ``NAME.term_ids.npy`` (each term's id). A lookup is a binary search: about 18 reads
    at 200,000 terms, 10-30 microseconds. Loaded as dicts, the vocabularies of 75k papers
    were ~40 MiB of Python objects in every worker."""

    def __init__(self, blob: npt.NDArray[np.uint8], starts: IntArray, ids: IntArray) -> None:
        # Plain views of the mapped arrays: indexing a np.memmap makes a memmap object each
        # time, which made a lookup ~10x slower (1.5 ms more per query at 75k papers).
        self.blob = np.asarray(blob)
        self.starts = np.asarray(starts)
        self.ids = np.asarray(ids)
        self._bytes = memoryview(self.blob.data)

    @staticmethod
    def save(vocabulary: Vocabulary, directory: Path, name: str) -> None:
        """Write ``vocabulary`` as ``name.terms.npy``, ``.term_starts.npy``, ``.term_ids.npy``."""
        pairs = sorted((_utf8(term), tid) for term, tid in _pairs(vocabulary))
        starts = np.zeros(len(pairs) + 1, dtype=np.int64)
        starts[1:] = np.cumsum([len(term) for term, _ in pairs])
        blob = np.frombuffer(b"".join(term for term, _ in pairs), dtype=np.uint8)
        np.save(directory / f"{name}.terms.npy", blob)
        np.save(directory / f"{name}.term_starts.npy", starts)
        np.save(directory / f"{name}.term_ids.npy", np.asarray([t for _, t in pairs], np.int64))

    @staticmethod
    def load(directory: Path, name: str) -> Vocabulary:
        """Memory-map what ``save`` wrote (builds made before it: ``name.vocabulary.json``,
        read into a dict)."""
        if not (directory / f"{name}.terms.npy").exists():
            old = directory / f"{name}.vocabulary.json"
            loaded: dict[str, int] = json.loads(old.read_text())
            return loaded
        return Terms(
            np.load(directory / f"{name}.terms.npy", mmap_mode="r"),
            np.load(directory / f"{name}.term_starts.npy", mmap_mode="r"),
            np.load(directory / f"{name}.term_ids.npy", mmap_mode="r"),
        )

    def _term(self, number: int) -> bytes:
        return self._bytes[self.starts[number] : self.starts[number + 1]].tobytes()

    def get(self, term: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """The id of ``term`` (``default`` when it is not in the table)."""
        key = _utf8(term)
        low, high = 0, len(self.ids)
        while low < high:
            middle = (low + high) // 2
            if self._term(middle) < key:
                low = middle + 1
            else:
                high = middle
        if low < len(self.ids) and self._term(low) == key:
            return int(self.ids[low])
        return default

    def __getitem__(self, term: str) -> int:
        tid = self.get(term)
        if tid is None:
            raise KeyError(term)
        return tid

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[str]:
        for number in range(len(self.ids)):
            yield self._term(number).decode("utf-8", "surrogatepass")


def _pairs(vocabulary: Vocabulary) -> Iterable[tuple[str, int]]:
    if isinstance(vocabulary, Terms):
        return zip(vocabulary, (int(t) for t in vocabulary.ids), strict=True)
    return vocabulary.items()


def fold_names(names: Iterable[str]) -> dict[str, list[str]]:
    """Names by their lower case (for ``named_in``)."""
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.lower(), []).append(name)
    return folded


def named_in(folded: dict[str, list[str]], value: str) -> list[str]:
    """The names equal to ``value`` ignoring case, or else those starting with ``value.``."""
    value = value.strip().lower()
    exact = folded.get(value)
    if exact:
        return list(exact)
    prefix = value + "."
    return [name for lower, names in folded.items() if lower.startswith(prefix) for name in names]


def compact(numbers: IntArray) -> npt.NDArray[np.int32] | IntArray:
    """Document numbers as int32 when they fit (always, below 2**31 papers): half the pages
    a worker reads and keeps resident (bm25.indices: 65 MiB as int64 at 75k papers, all of
    it read by a few thousand different queries). Indexes saved as int64 read the same."""
    if not len(numbers) or int(numbers.max()) < np.iinfo(np.int32).max:
        return numbers.astype(np.int32)
    return numbers


def term_ids(vocabulary: Vocabulary) -> IntArray:
    """Every term id of ``vocabulary`` (for checks)."""
    if isinstance(vocabulary, Terms):
        return vocabulary.ids
    return np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))


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

    def __init__(self, vocabulary: Vocabulary, indices: IntArray, indptr: IntArray) -> None:
        self.vocabulary = vocabulary
        self.indices = indices
        self.indptr = indptr
        self._folded: dict[str, list[str]] | None = None

    def named(self, value: str) -> list[str]:
        """The terms equal to ``value`` ignoring case, or else those under it (``value.*``):
        a category filter's names (``cs.cv`` -> cs.CV, ``cs`` -> every cs.*)."""
        if self._folded is None:  # read once per snapshot: it decoded every term per search
            self._folded = fold_names(self.vocabulary)
        return named_in(self._folded, value)

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
        np.save(directory / f"{name}.indices.npy", compact(self.indices))
        np.save(directory / f"{name}.indptr.npy", self.indptr)
        Terms.save(self.vocabulary, directory, name)

    @classmethod
    def load(cls, directory: Path, name: str) -> Postings:
        """Memory-map what ``save`` wrote."""
        return cls(
            Terms.load(directory, name),
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
        vocabulary: Vocabulary,
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
        """Write the index as plain .npy files and sorted term tables."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, values in (
            ("data", self.data),
            ("indices", compact(self.indices)),
            ("indptr", self.indptr),
        ):
            np.save(directory / f"bm25.{name}.npy", values)
        Terms.save(self.vocabulary, directory, "bm25")
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
            Terms.load(directory, "bm25"),
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

    def holding(self, term: str, docs: IntArray) -> npt.NDArray[np.bool_]:
        """Which of ``docs`` (document numbers) contain an analysed term: a binary search of
        its posting list, not a copy of it."""
        found = self.docs_with(term)
        if not len(found) or not len(docs):
            return np.zeros(len(docs), dtype=np.bool_)
        wanted = np.asarray(docs).astype(found.dtype, copy=False)
        at = np.minimum(np.searchsorted(found, wanted), len(found) - 1)
        return np.asarray(found[at] == wanted)

    def scores(self, terms: Sequence[str]) -> FloatArray:
        """Dense BM25 scores of every document for the query terms (repeats count once).

        Each posting list's document numbers (int32 on disk) are made numpy's index type
        once: ``scores[docs] += weights`` converted them twice, for the read and the write,
        and that was 40 % of the step (0.29 -> 0.17 ms a query at 75k papers). The first
        term's weights are assigned, not added to zeros: the same sums, bit for bit."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        first = True
        for term in dict.fromkeys(terms):
            docs, weights = self._postings(term)
            at = docs.astype(np.intp)
            if first:
                scores[at] = weights
                first = False
            else:
                scores[at] += weights
        return scores

    def idf(self, term: str) -> float:
        """Inverse document frequency of an analysed term (0 when unknown)."""
        df = len(self.docs_with(term))
        if not df:
            return 0.0
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))
