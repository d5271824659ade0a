"""The ``index`` stage: embed new or changed papers, then build and switch a search snapshot.

Embeddings are keyed by a hash of the embedded text and the model, so unchanged papers are
never embedded twice; each batch commits on its own, so an interrupted run loses at most one
batch and the next run continues with what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from tqdm import tqdm

from dailypapers.index import publish
from dailypapers.index.embedder import Embedder, paper_text
from dailypapers.index.snapshot import SnapshotPaper, build_snapshot
from dailypapers.storage import delta, embeddings, papers, runs
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.locks import stage_lock


@dataclass(slots=True)
class IndexReport:
    """What one ``index`` run did."""

    embedded: int = 0
    papers: int = 0
    embed_seconds: float = 0.0
    build_seconds: float = 0.0
    snapshot: str = ""

    def summary(self) -> str:
        """One line for the operator."""
        rate = self.embedded / self.embed_seconds if self.embed_seconds else 0.0
        return (
            f"index: embedded {self.embedded} papers ({rate:.1f}/s), snapshot of "
            f"{self.papers} papers built in {self.build_seconds:.1f}s ({self.snapshot})"
        )


def embed_stale(
    *,
    engine: Engine,
    embedder: Embedder,
    batch_size: int = 256,
    progress: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, float]:
    """Embed every paper whose vector is missing or stale; returns (count, seconds)."""
    with engine.connect() as conn:
        todo = embeddings.stale_ids(conn=conn, model=embedder.key)
    started = time.perf_counter()
    done = 0
    with tqdm(total=len(todo), unit="paper", disable=not progress, desc="embedding") as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            with engine.connect() as conn:
                texts = papers.texts_of(conn=conn, ids=[pid for pid, _ in batch])
            batch = [(pid, digest) for pid, digest in batch if pid in texts]
            vectors = embedder.embed([paper_text(*texts[pid]) for pid, _ in batch])
            with write_transaction(engine) as conn:
                embeddings.store(conn=conn, model=embedder.key, items=batch, vectors=vectors)
            done += len(batch)
            bar.update(len(batch))
            if on_batch is not None:
                on_batch(done)
    return done, time.perf_counter() - started


def import_vectors(
    *,
    engine: Engine,
    model: str,
    ids: list[str],
    hashes: list[str],
    vectors: npt.NDArray[np.float32],
) -> int:
    """Store precomputed vectors for papers whose text hash still matches and that lack one."""
    with engine.connect() as conn:
        stale = dict(embeddings.stale_ids(conn=conn, model=model))
    keep = [
        i
        for i, (pid, digest) in enumerate(zip(ids, hashes, strict=True))
        if stale.get(pid) == digest
    ]
    for start in range(0, len(keep), 1000):
        chunk = keep[start : start + 1000]
        with write_transaction(engine) as conn:
            embeddings.store(
                conn=conn,
                model=model,
                items=[(ids[i], hashes[i]) for i in chunk],
                vectors=vectors[chunk].astype(np.float32),
            )
    return len(keep)


def build(*, engine: Engine, root: Path, model: str | None) -> tuple[int, Path]:
    """Build a snapshot of every visible paper (with the stored vectors of ``model``, if
    any), make it current and (on PostgreSQL) publish it for the other nodes; pages cached
    before it are rebuilt (related papers change)."""
    items: list[SnapshotPaper] = []
    vectors: dict[str, npt.NDArray[np.float32]] = {}
    with engine.connect() as conn:
        revision = runs.revision(conn=conn)
        # Read before the papers: a paper changed while they are read is in the live delta.
        watermark = delta.latest_change(conn=conn)
        for rows in papers.iter_for_index(conn=conn):
            items.extend(
                SnapshotPaper(
                    r["id"],
                    r["title"],
                    r["abstract"],
                    r["authors"],
                    r["categories"],
                    r["published_at"].date(),
                )
                for r in rows
            )
        if model is not None:
            for ids, block in embeddings.load_all(conn=conn, model=model):
                vectors.update(zip(ids, block, strict=True))
    directory = build_snapshot(
        root,
        items,
        vectors,
        model=model if vectors else None,
        revision=revision,
        watermark=watermark,
    )
    if publish.shared(engine):
        publish.publish(engine=engine, directory=directory)
    with write_transaction(engine) as conn:
        runs.bump_revision(conn=conn)
    return len(items), directory


def run_index(
    *,
    engine: Engine,
    root: Path,
    embedder: Embedder | None,
    batch_size: int = 256,
    progress: bool = False,
    model: str | None = None,
) -> IndexReport:
    """Embed what is stale (unless ``embedder`` is None), then build and switch a snapshot.

    The snapshot carries every stored vector of the embedder's model (``model`` when no
    embedder is given: ``--no-embed`` skips computing new vectors, it keeps the others).
    """
    report = IndexReport()
    # One index run at a time per database (a second one says "already running").
    with stage_lock(engine, "index", wait=False):
        if embedder is not None:
            report.embedded, report.embed_seconds = embed_stale(
                engine=engine, embedder=embedder, batch_size=batch_size, progress=progress
            )
        started = time.perf_counter()
        report.papers, directory = build(
            engine=engine, root=root, model=embedder.key if embedder else model
        )
        report.build_seconds = time.perf_counter() - started
    report.snapshot = directory.name
    return report
