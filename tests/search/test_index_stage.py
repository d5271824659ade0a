"""The index stage embeds only what changed, follows the model, and resumes after a crash."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from dailypapers.index.build import embed_stale, run_index
from dailypapers.index.embedder import Vectors
from dailypapers.settings import Settings
from dailypapers.storage.schema import embeddings
from tests.search.conftest import Memoised, ingest_rows, sample_records


class Renamed:
    """The real model under another name, as if the operator switched models."""

    def __init__(self, inner: Memoised, key: str) -> None:
        self.inner = inner
        self.key = key
        self.dim = inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed(texts)


class CrashAfter(Renamed):
    """Dies on its second batch, like a process killed mid-run."""

    def __init__(self, inner: Memoised) -> None:
        super().__init__(inner, inner.key)
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.inner.embed(texts)


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(embeddings)).scalar_one())


def test_only_new_or_changed_papers_are_embedded(
    engine: Engine, settings: Settings, embedder: Memoised
) -> None:
    rows = sample_records(12)
    ingest_rows(engine, rows)
    first = run_index(engine=engine, root=settings.index_dir, embedder=embedder)
    assert first.embedded == 12 and first.papers == 12
    assert run_index(engine=engine, root=settings.index_dir, embedder=embedder).embedded == 0
    changed = [{**rows[0], "abstract": rows[0]["abstract"] + " Revised."}]
    ingest_rows(engine, changed, key="changed")
    assert run_index(engine=engine, root=settings.index_dir, embedder=embedder).embedded == 1
    other = Renamed(embedder, "another-model@1")
    assert run_index(engine=engine, root=settings.index_dir, embedder=other).embedded == 12
    assert stored(engine) == 12


def test_an_interrupted_run_continues_where_it_stopped(
    engine: Engine, settings: Settings, embedder: Memoised
) -> None:
    ingest_rows(engine, sample_records(10))
    with pytest.raises(KeyboardInterrupt):
        embed_stale(engine=engine, embedder=CrashAfter(embedder), batch_size=4)
    assert stored(engine) == 4
    report = run_index(engine=engine, root=settings.index_dir, embedder=embedder, batch_size=4)
    assert report.embedded == 6 and stored(engine) == 10


def test_vectors_are_unit_length(engine: Engine, embedder: Memoised) -> None:
    vectors = embedder.embed(["graph neural networks", "protein folding"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
