"""BEIR-format folders for the search-quality benchmark, and a disk cache of embeddings.

A BEIR folder holds ``corpus.jsonl`` (or ``.jsonl.gz``) with ``{_id, title, text}``,
``queries.jsonl`` with ``{_id, text}`` and ``qrels/test.tsv`` (``query-id corpus-id score``
with a header). An optional ``metadata`` object on a corpus line may carry ``authors`` and
``categories`` (``make_known_item.py`` writes them).

Our ingest accepts arXiv ids only, so each document gets a synthetic new-style id
(``2001.00001``, ``2001.00002``, ... then ``2002.00001`` after 99,999) in corpus order.
"""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from dailypapers.index.embedder import Embedder

PER_MONTH = 99_999


@dataclass(slots=True)
class BeirDoc:
    """One corpus document."""

    doc_id: str
    title: str
    text: str
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BeirSet:
    """A BEIR folder read into memory."""

    name: str
    corpus: list[BeirDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    corpus_file: Path


def synthetic_id(number: int) -> str:
    """The arXiv id of the ``number``-th document (0-based): ``2001.00001`` onwards."""
    month = number // PER_MONTH
    year, month_of_year = 20 + month // 12, 1 + month % 12
    return f"{year:02d}{month_of_year:02d}.{number % PER_MONTH + 1:05d}"


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with _open(path) as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def corpus_path(folder: Path) -> Path:
    """``corpus.jsonl`` or ``corpus.jsonl.gz`` in ``folder``."""
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"no corpus.jsonl(.gz) in {folder}")


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id corpus-id score`` lines (tab-separated, with a header line)."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text().splitlines()):
        parts = line.split("\t")
        if len(parts) < 3 or (number == 0 and not parts[2].strip().lstrip("-").isdigit()):
            continue
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def load(folder: Path, qrels_file: Path | None = None) -> BeirSet:
    """Read a BEIR folder; only queries with judgements are kept."""
    source = corpus_path(folder)
    corpus = []
    for row in _lines(source):
        meta = row.get("metadata") or {}
        corpus.append(
            BeirDoc(
                str(row["_id"]),
                str(row.get("title") or ""),
                str(row.get("text") or ""),
                [str(a) for a in meta.get("authors") or []],
                [str(c) for c in meta.get("categories") or []],
            )
        )
    qrels = read_qrels(qrels_file or folder / "qrels" / "test.tsv")
    queries = {
        str(row["_id"]): str(row["text"])
        for row in _lines(folder / "queries.jsonl")
        if str(row["_id"]) in qrels
    }
    qrels = {qid: rel for qid, rel in qrels.items() if qid in queries}
    return BeirSet(folder.resolve().name, corpus, queries, qrels, source)


def write_export(beir: BeirSet, path: Path) -> dict[str, str]:
    """Write the corpus in our JSON-lines export format; returns arXiv id -> BEIR id.

    A document without a title uses the start of its text as title (our ingest requires
    one); one without text uses its title as abstract.
    """
    mapping: dict[str, str] = {}
    with path.open("wb") as handle:
        for number, doc in enumerate(beir.corpus):
            arxiv_id = synthetic_id(number)
            mapping[arxiv_id] = doc.doc_id
            title = doc.title.strip() or " ".join(doc.text.split()[:12]) or doc.doc_id
            record = {
                "id": arxiv_id,
                "title": title,
                "abstract": doc.text.strip() or title,
                "authors": doc.authors,
                "categories": doc.categories,
                "published": "2020-01-01T00:00:00+00:00",
                "day": "2020-01-01",
            }
            handle.write(orjson.dumps(record) + b"\n")
    return mapping


class CachedEmbedder:
    """Wraps an embedder with a disk cache keyed by model and text hash.

    The index stage still decides what to embed (through the normal code); this only makes
    repeated benchmark runs, other backends and query embeddings skip the model.
    """

    def __init__(self, inner: Embedder, folder: Path) -> None:
        self.inner = inner
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / "vectors.sqlite3")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, digest TEXT, vector BLOB, "
            "PRIMARY KEY (model, digest))"
        )
        self.hits = 0
        self.misses = 0

    @property
    def key(self) -> str:
        """The wrapped model's key (so snapshots look the same as without a cache)."""
        return self.inner.key

    @property
    def dim(self) -> int:
        """The wrapped model's dimension."""
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors from the cache, embedding (and storing) only the texts not seen before."""
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        found: dict[str, npt.NDArray[np.float32]] = {}
        unique = list(dict.fromkeys(digests))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for digest, blob in self._db.execute(
                f"SELECT digest, vector FROM vectors WHERE model = ? AND digest IN ({marks})",
                [self.key, *chunk],
            ):
                found[digest] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, d in enumerate(digests) if d not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = self.inner.embed([texts[i] for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                found[digests[i]] = vector
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.key, digests[i], vectors[n].tobytes()) for n, i in enumerate(missing)],
            )
            self._db.commit()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[d] for d in digests]).astype(np.float32)
