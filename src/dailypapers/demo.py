"""The bundled sample: load it, with its precomputed embeddings, and build the search index.

Used by ``dailypapers demo`` and by the browser tests, so both show the same site. The demo
adds labelled, generated activity (demo_activity.py) and keeps a few papers of the last day
off the list, so that trending ranks something and Submit works without reaching arXiv.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from dailypapers.demo_activity import add_demo_accounts, unlisted_ids, with_demo_activity
from dailypapers.index.build import IndexReport, import_vectors, run_index
from dailypapers.index.embedder import default_embedder
from dailypapers.ingest.pipeline import IngestReport, run_ingest
from dailypapers.settings import Settings
from dailypapers.sources.jsonl import read_jsonl
from dailypapers.storage.daily import latest_day


def sample_path() -> Path:
    """The bundled sample of real arXiv papers (see sample/SOURCE.md)."""
    return Path(str(resources.files("dailypapers") / "sample" / "papers.jsonl.gz"))


@dataclass(slots=True)
class DemoReport:
    """What loading the sample did."""

    ingest: IngestReport
    imported_vectors: int
    index: IndexReport
    activity: str = ""
    as_of: dt.date | None = None  # the sample's last listed day


def _import_sample_vectors(engine: Engine, model: str) -> int:
    path = sample_path().with_name("embeddings.npz")
    if not path.exists():
        return 0
    with np.load(path) as data:
        if str(data["model"]) != model:
            return 0  # another model: the index stage embeds the sample itself
        return import_vectors(
            engine=engine,
            model=model,
            ids=[str(i) for i in data["ids"]],
            hashes=[str(h) for h in data["hashes"]],
            vectors=data["vectors"],
        )


def load_sample(
    engine: Engine, settings: Settings, *, progress: bool = False, activity: bool = True
) -> DemoReport:
    """Ingest the sample (idempotent), store its shipped vectors, build the search index;
    ``activity`` adds the labelled demo activity and keeps a few papers off the list."""
    path = sample_path()
    unlisted = unlisted_ids(read_jsonl(path)) if activity else frozenset()
    ingest = run_ingest(
        engine=engine,
        source="demo",
        params={"sample": path.name, "size": path.stat().st_size, "activity": activity},
        records=lambda resume: (
            with_demo_activity(read_jsonl(path, resume=resume), unlisted)
            if activity
            else read_jsonl(path, resume=resume)
        ),
        explicit_days=True,
        batch_size=settings.ingest_batch_size,
    )
    added = add_demo_accounts(engine) if activity else ""
    with engine.connect() as conn:
        as_of = latest_day(conn=conn)
    embedder = default_embedder(settings.embedding_engine) if settings.semantic_search else None
    imported = _import_sample_vectors(engine, embedder.key) if embedder else 0
    index = run_index(
        engine=engine,
        root=settings.index_dir,
        embedder=embedder,
        batch_size=settings.embed_batch_size,
        progress=progress,
    )
    return DemoReport(ingest, imported, index, added, as_of)
