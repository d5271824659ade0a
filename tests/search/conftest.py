"""A small real corpus (from the bundled sample), ingested and indexed with the real model."""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from dailypapers.demo import sample_path
from dailypapers.index import embedder as embedder_module
from dailypapers.index.build import run_index
from dailypapers.index.embedder import MiniLMEmbedder, Vectors, default_embedder
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.records import RawPaper
from dailypapers.settings import Settings

CORPUS_SIZE = 60


@dataclass
class Corpus:
    """The indexed papers, as the sample file has them."""

    papers: list[dict[str, Any]]

    def by_id(self, arxiv_id: str) -> dict[str, Any]:
        return next(p for p in self.papers if p["id"] == arxiv_id)


def sample_records(count: int = CORPUS_SIZE) -> list[dict[str, Any]]:
    """The first ``count`` papers of the bundled sample's last day, plus its first day."""
    with gzip.open(sample_path(), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    last_day = rows[-1]["day"]
    first_day = rows[0]["day"]
    chosen = [r for r in rows if r["day"] == last_day][: count // 2]
    chosen += [r for r in rows if r["day"] == first_day][: count - len(chosen)]
    return chosen


def to_raw(row: dict[str, Any]) -> RawPaper:
    return RawPaper(
        arxiv_id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=row["authors"],
        categories=row["categories"],
        primary_category=row["primary_category"],
        published=row["published"],
        day=row["day"],
        upvotes=row.get("upvotes"),
        cursor=row["id"],
    )


class Memoised:
    """The real all-MiniLM-L6-v2, remembering vectors of texts it has already embedded.

    Same key as the model, so what it stores is what the site's own embedder would store;
    it only saves re-computing the same sixty abstracts for every test.
    """

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.key = inner.key
        self.dim = inner.dim
        self.seen: dict[str, Vectors] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.inner.embed(missing), strict=True))
        if not texts:
            return self.inner.embed(texts)
        return np.stack([self.seen[t] for t in texts])


@pytest.fixture(scope="session")
def embedder() -> Memoised:
    """The real model, loaded once for the session, with its vectors remembered."""
    return Memoised(default_embedder())


def ingest_rows(engine: Engine, rows: list[dict[str, Any]], key: str = "corpus") -> None:
    run_ingest(
        engine=engine,
        source="test",
        params={"key": key, "n": len(rows)},
        records=lambda _: [to_raw(r) for r in rows],
        explicit_days=True,
    )


@pytest.fixture
def corpus(engine: Engine, settings: Settings, embedder: Memoised) -> Corpus:
    """Sixty real papers, ingested and indexed (embeddings and snapshot)."""
    rows = sample_records()
    ingest_rows(engine, rows)
    run_index(engine=engine, root=settings.index_dir, embedder=embedder)
    return Corpus(rows)


@pytest.fixture
def without_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenVINO as if not installed, in a process that has made no embedder yet."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "openvino" else real(name, *args),
    )
    monkeypatch.setattr(embedder_module, "_defaults", {})
