"""The search-latency corpus: real papers embedded by the model, replicas to reach a size.

``--real N`` papers sampled from the shared daily feed are ingested (our export format
through ``run_ingest`` and ``read_jsonl``) and embedded through the index stage's own
``embed_stale`` (the real all-MiniLM-L6-v2).  The rest of ``--docs`` are replicas: a real
paper with a few sentences swapped and a few words dropped or replaced, under a new
synthetic arXiv id (``2701.00001``, ``2701.00002``, …, valid new-style ids after any real
one), ingested the same way.  A replica's vector is its source's vector plus Gaussian noise,
renormalised, stored with the text hash of the replica as stored, so ``run_index`` finds
nothing stale and only builds the snapshot.

``prepared_corpus`` yields a ready database URL and data directory.  With a cache folder,
the SQLite database and data directory stay there between runs, keyed by (docs, real,
seed, noise); the real papers' vectors are kept in ``vectors.sqlite3`` (by model and text),
which also serves PostgreSQL and other sizes.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from bench.common import REPO, log, temp_database
from bench.ingest import export_record, run_file_ingest, write_jsonl
from sqlalchemy import Engine, text

from dailypapers.index.build import embed_stale, run_index
from dailypapers.index.embedder import MiniLMEmbedder, paper_text
from dailypapers.ingest.normalize import parse_arxiv_id
from dailypapers.settings import Settings
from dailypapers.storage import embeddings, papers
from dailypapers.storage.engine import make_engine
from dailypapers.storage.migrate import upgrade

PER_MONTH = 99_999
WORD = re.compile(r"[A-Za-z]{4,}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# The snapshot is rebuilt from a cached database when the code that builds it changed.
SNAPSHOT_CODE = ("ann.py", "keyword.py", "snapshot.py", "text.py", "build.py")
HNSW = "ix_embeddings_vector_hnsw"


@dataclass(slots=True)
class Corpus:
    """A ready database and data directory, and what it took to build them."""

    url: str
    folder: Path  # the data directory is ``folder / "data"``
    docs: int
    real: int  # papers with a real text (embedded or not)
    cached: bool
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)


def replica_id(number: int) -> str:
    """The ``number``-th synthetic id, from 0: ``2701.00001`` … ``2701.99999``, ``2702.00001``."""
    month, serial = divmod(number, PER_MONTH)
    year, month = divmod(month, 12)
    arxiv_id = f"{27 + year:02d}{month + 1:02d}.{serial + 1:05d}"
    if parse_arxiv_id(arxiv_id)[0] != arxiv_id or year > 72:
        raise ValueError(f"synthetic id out of range: {arxiv_id}")
    return arxiv_id


def perturb(
    title: str, abstract: str, rng: random.Random, vocabulary: list[str]
) -> tuple[str, str]:
    """A near-duplicate: two sentences swapped, 3 to 6 words dropped or replaced, one title word."""
    sentences = SENTENCE_END.split(abstract.strip())
    if len(sentences) >= 3:
        i, j = rng.sample(range(len(sentences)), 2)
        sentences[i], sentences[j] = sentences[j], sentences[i]
    words = " ".join(sentences).split()
    for _ in range(rng.randint(3, 6)):
        if len(words) < 8:
            break
        position = rng.randrange(len(words))
        if rng.random() < 0.5:
            del words[position]
        else:
            words[position] = rng.choice(vocabulary)
    heading = title.split()
    if len(heading) >= 3:
        position = rng.randrange(len(heading))
        if rng.random() < 0.5:
            del heading[position]
        else:
            heading[position] = rng.choice(vocabulary).capitalize()
    return " ".join(heading), " ".join(words)


def write_replicas(rows: list[dict[str, Any]], count: int, path: Path, seed: int) -> dict[str, str]:
    """Write ``count`` replicas of ``rows`` (round robin) as an export file; replica -> source."""
    rng = random.Random(seed)
    words = sorted({w.lower() for row in rows[:2000] for w in WORD.findall(row["abstract"])})
    vocabulary = rng.sample(words, min(20_000, len(words)))
    sources: dict[str, str] = {}

    def replicas() -> Iterator[dict[str, Any]]:
        for number in range(count):
            row = rows[number % len(rows)]
            title, abstract = perturb(row["title"], row["abstract"], rng, vocabulary)
            arxiv_id = replica_id(number)
            sources[arxiv_id] = row["id"]
            yield export_record({**row, "id": arxiv_id, "title": title, "abstract": abstract})

    write_jsonl(replicas(), path, lambda record: record)
    return sources


def _real_vectors(engine: Engine, model: str) -> dict[str, npt.NDArray[np.float32]]:
    found: dict[str, npt.NDArray[np.float32]] = {}
    with engine.connect() as conn:
        for ids, block in embeddings.load_all(conn=conn, model=model):
            found.update(zip(ids, block, strict=True))
    return found


def store_replica_vectors(
    engine: Engine, model: str, sources: dict[str, str], noise: float, seed: int
) -> int:
    """Store source vector + N(0, noise²) noise, renormalised, for every stale replica."""
    real = _real_vectors(engine, model)
    with engine.connect() as conn:
        stale = [(pid, digest) for pid, digest in embeddings.stale_ids(conn=conn, model=model)]
    missing = [pid for pid, _ in stale if pid not in sources]
    if missing:
        raise RuntimeError(f"{len(missing)} papers without a vector, e.g. {missing[:3]}")
    rng = np.random.default_rng(seed)
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # bulk load without the index, then build it once (same DDL as migration 0002)
        with engine.begin() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS {HNSW}"))
    chunk_size = 10_000
    for start in range(0, len(stale), chunk_size):
        items = stale[start : start + chunk_size]
        base = np.stack([real[sources[pid]] for pid, _ in items]).astype(np.float32)
        noisy = base + rng.normal(0.0, noise, base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        with engine.begin() as conn:
            if postgres:
                _copy_vectors(conn, model, items, noisy)
            else:
                embeddings.store(conn=conn, model=model, items=items, vectors=noisy)
    return len(stale)


def _copy_vectors(
    conn: Any, model: str, items: list[tuple[str, str]], vectors: npt.NDArray[np.float32]
) -> None:
    raw = conn.connection.driver_connection
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    columns = "paper_id, model, text_hash, vector, created_at"
    with raw.cursor() as cursor, cursor.copy(f"COPY embeddings ({columns}) FROM STDIN") as copy:
        for (pid, digest), vector in zip(items, vectors, strict=True):
            literal = "[" + ",".join(map(repr, vector.tolist())) + "]"
            copy.write_row([pid, model, digest, literal, now])


def build_hnsw(engine: Engine) -> None:
    """Create the pgvector HNSW index of migration 0002 (after a bulk load without it)."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SET maintenance_work_mem = '2GB'"))
        conn.execute(text("SET max_parallel_maintenance_workers = 2"))
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {HNSW} ON embeddings "
                "USING hnsw (vector vector_cosine_ops)"
            )
        )
        conn.execute(text("ANALYZE"))


def snapshot_code_hash() -> str:
    """A hash of the code that builds snapshots (a cached snapshot is rebuilt when it changes)."""
    digest = hashlib.sha256()
    for name in SNAPSHOT_CODE:
        digest.update((REPO / "src" / "dailypapers" / "index" / name).read_bytes())
    return digest.hexdigest()[:16]


class VectorCache:
    """Vectors of real papers kept between runs, by model and SHA-256 of the embedded text.

    The same table as ``bench/beir.py``'s cache (``vectors.sqlite3``), so either can fill it.
    Vectors are copied into the database before ``embed_stale`` runs, which then embeds only
    the papers the cache lacks; those are added to the cache afterwards.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(folder / "vectors.sqlite3", timeout=60)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, digest TEXT, vector BLOB, "
            "PRIMARY KEY (model, digest))"
        )

    @staticmethod
    def _digests(engine: Engine, ids: list[str]) -> dict[str, str]:
        with engine.connect() as conn:
            texts = papers.texts_of(conn=conn, ids=ids)
        return {
            pid: hashlib.sha256(paper_text(*pair).encode()).hexdigest()
            for pid, pair in texts.items()
        }

    def restore(self, engine: Engine, model: str) -> int:
        """Store cached vectors for the papers that lack one; returns how many."""
        with engine.connect() as conn:
            stale = embeddings.stale_ids(conn=conn, model=model)
        digests = self._digests(engine, [pid for pid, _ in stale])
        restored = 0
        for start in range(0, len(stale), 500):
            chunk = [(pid, h) for pid, h in stale[start : start + 500] if pid in digests]
            wanted = [digests[pid] for pid, _ in chunk]
            marks = ",".join("?" * len(wanted))
            found = dict(
                self.db.execute(
                    f"SELECT digest, vector FROM vectors WHERE model = ? AND digest IN ({marks})",
                    [model, *wanted],
                ).fetchall()
            )
            items = [(pid, h) for pid, h in chunk if digests[pid] in found]
            if items:
                vectors = np.stack(
                    [np.frombuffer(found[digests[pid]], dtype=np.float32) for pid, _ in items]
                )
                with engine.begin() as conn:
                    embeddings.store(conn=conn, model=model, items=items, vectors=vectors)
                restored += len(items)
        return restored

    def save(self, engine: Engine, model: str) -> None:
        """Add every vector of ``model`` in the database to the cache."""
        with engine.connect() as conn:
            blocks = list(embeddings.load_all(conn=conn, model=model))
        for ids, block in blocks:
            digests = self._digests(engine, ids)
            self.db.executemany(
                "INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)",
                [(model, digests[pid], vec.tobytes()) for pid, vec in zip(ids, block, strict=True)],
            )
        self.db.commit()


def embed_real(engine: Engine, cache: Path | None, progress: bool) -> dict[str, Any]:
    """Embed the real papers through the index stage's ``embed_stale`` (cached vectors first)."""
    embedder = MiniLMEmbedder()
    vectors = VectorCache(cache) if cache else None
    restored = vectors.restore(engine, embedder.key) if vectors else 0
    log(f"{restored} real papers' vectors from the cache; embedding the rest ({embedder.key})")
    done, seconds = embed_stale(
        engine=engine,
        embedder=embedder,
        batch_size=Settings().embed_batch_size,
        progress=progress,
    )
    if vectors and done:
        vectors.save(engine, embedder.key)
    return {
        "from_cache": restored,
        "embedded": done,
        "embed_papers_per_s": round(done / seconds, 1) if done else None,
    }


def _timed(seconds: dict[str, float], name: str, start: float) -> float:
    now = time.perf_counter()
    seconds[name] = round(now - start, 2)
    log(f"{name}: {seconds[name]:.1f} s")
    return now


def borrowed_sources(
    others: list[dict[str, Any]], rows: list[dict[str, Any]], seed: int
) -> dict[str, str]:
    """Real papers that are not embedded -> an embedded paper whose vector they borrow."""
    rng = random.Random(seed + 1)
    return {row["id"]: rows[rng.randrange(len(rows))]["id"] for row in others}


def build_corpus(
    corpus: Corpus,
    rows: list[dict[str, Any]],
    args: Any,
    others: list[dict[str, Any]] | None = None,
) -> None:
    """Fill the empty database and data directory of ``corpus`` (timings in ``corpus.seconds``).

    ``rows`` are embedded by the model; ``others`` (more real papers) are ingested with their
    real text and a noisy copy of a random embedded paper's vector (embedding the whole feed
    takes hours on a small CPU; the vectors' values barely change what a search costs).
    """
    others = others or []
    seconds, counts = corpus.seconds, corpus.counts
    settings = Settings()
    work = corpus.folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    engine = make_engine(corpus.url)
    model = MiniLMEmbedder()  # loads the weights only if something is left to embed
    try:
        start = time.perf_counter()
        write_jsonl(rows, work / "real.jsonl", export_record)
        report, _, _ = run_file_ingest(
            corpus.url, work / "real.jsonl", source="jsonl", settings=settings
        )
        counts["ingest_real"] = report.counts()
        start = _timed(seconds, "ingest_real", start)
        counts.update(embed_real(engine, args.cache, args.progress))
        start = _timed(seconds, "embed_real", start)
        if others:
            write_jsonl(others, work / "others.jsonl", export_record)
            report, _, _ = run_file_ingest(
                corpus.url, work / "others.jsonl", source="jsonl", settings=settings
            )
            counts["ingest_real_text_only"] = report.counts()
            counts["borrowed_vectors"] = store_replica_vectors(
                engine, model.key, borrowed_sources(others, rows, args.seed), args.noise, args.seed
            )
            start = _timed(seconds, "ingest_real_text_only", start)
        extra = corpus.docs - corpus.real
        if extra > 0:
            sources = write_replicas(rows + others, extra, work / "replicas.jsonl", args.seed)
            start = _timed(seconds, "generate_replicas", start)
            report, _, _ = run_file_ingest(
                corpus.url, work / "replicas.jsonl", source="jsonl", settings=settings
            )
            counts["ingest_replicas"] = report.counts()
            counts["ingest_replicas_per_s"] = round(extra / (time.perf_counter() - start), 1)
            start = _timed(seconds, "ingest_replicas", start)
            counts["replica_vectors"] = store_replica_vectors(
                engine, model.key, sources, args.noise, args.seed
            )
            start = _timed(seconds, "replica_vectors", start)
        if engine.dialect.name == "postgresql":
            build_hnsw(engine)
            start = _timed(seconds, "hnsw_index", start)
        index = run_index(
            engine=engine,
            root=corpus.folder / "data" / "index",
            embedder=model,
            batch_size=settings.embed_batch_size,
        )
        if index.embedded:
            raise RuntimeError(f"run_index embedded {index.embedded} papers: replica hashes wrong")
        counts["snapshot_papers"] = index.papers
        seconds["snapshot_build"] = round(index.build_seconds, 2)
        _timed(seconds, "run_index", start)
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


def _rebuild_snapshot(corpus: Corpus) -> None:
    engine = make_engine(corpus.url)
    try:
        start = time.perf_counter()
        index = run_index(
            engine=engine, root=corpus.folder / "data" / "index", embedder=MiniLMEmbedder()
        )
        if index.embedded:
            raise RuntimeError(f"run_index embedded {index.embedded} papers in a cached corpus")
        corpus.seconds["run_index"] = round(time.perf_counter() - start, 2)
        corpus.seconds["snapshot_build"] = round(index.build_seconds, 2)
    finally:
        engine.dispose()


@contextlib.contextmanager
def prepared_corpus(
    rows: list[dict[str, Any]], args: Any, others: list[dict[str, Any]] | None = None
) -> Iterator[Corpus]:
    """A built corpus of ``args.docs`` papers on ``args.backend`` (cached for SQLite):
    ``rows`` embedded, ``others`` real papers with borrowed vectors, replicas for the rest."""
    others = others or []
    real = len(rows) + len(others)
    params = {
        "backend": args.backend,
        "docs": args.docs,
        "real": len(rows),
        "seed": args.seed,
        "noise": args.noise,
        # A new shipped model re-embeds the real papers (a cached corpus would search the old
        # model's vectors with the new model's queries).
        "model": MiniLMEmbedder().key,
    }
    name = f"sqlite-docs{args.docs}-real{len(rows)}-seed{args.seed}"
    if others:
        params["real_text_only"] = len(others)
        name = f"sqlite-docs{args.docs}-real{len(rows)}-text{len(others)}-seed{args.seed}"
    if args.backend == "sqlite" and args.cache:
        folder = args.cache / name
        marker = folder / "ready.json"
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        meta = orjson.loads(marker.read_bytes()) if marker.exists() else {}
        if meta.get("params") == params:
            corpus = Corpus(url, folder, args.docs, real, True, counts=meta["counts"])
            corpus.counts["built_seconds"] = meta["seconds"]
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            if meta.get("snapshot_code") != snapshot_code_hash():
                log("snapshot code changed since the cache was built: rebuilding the snapshot")
                _rebuild_snapshot(corpus)
                meta["snapshot_code"] = snapshot_code_hash()
                marker.write_bytes(orjson.dumps(meta))
            log(f"using the cached corpus in {folder}")
            yield corpus
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        corpus = Corpus(url, folder, args.docs, real, False)
        build_corpus(corpus, rows, args, others)
        meta = {
            "params": params,
            "seconds": corpus.seconds,
            "counts": corpus.counts,
            "snapshot_code": snapshot_code_hash(),
        }
        marker.write_bytes(orjson.dumps(meta))
        yield corpus
        return
    with temp_database(args.backend, args.database_url) as url:
        folder = Path(tempfile.mkdtemp(prefix="dailypapers-bench-search-"))
        try:
            corpus = Corpus(url, folder, args.docs, real, False)
            build_corpus(corpus, rows, args, others)
            yield corpus
        finally:
            shutil.rmtree(folder, ignore_errors=True)
