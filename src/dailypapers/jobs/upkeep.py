"""Index upkeep, done by the runner holding the ``index`` lease: embed papers added since the
search index was built (once, for every node: nodes read the stored vectors into their live
delta), and rebuild and publish the index when the delta grows past
``index_rebuild_delta`` papers, when the build is ``index_rebuild_hours`` old and papers
changed since, when its vectors are another embedding model's (an upgrade that ships a new
model: the rebuild re-embeds every paper once), or when there is no build at all (a new site:
nothing to run by hand).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from dailypapers.index.build import IndexReport
from dailypapers.index.embedder import Embedder, paper_text
from dailypapers.index.publish import shared
from dailypapers.index.snapshot import current_name
from dailypapers.jobs.rebuild import rebuild, rebuild_in_child
from dailypapers.settings import Settings
from dailypapers.storage import delta, embeddings, generations, papers
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.locks import AlreadyRunning

log = logging.getLogger("dailypapers.jobs")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Papers embedded per round (about 10 s at 28 abstracts/s on 2 cores): then look again.
EMBED_PER_ROUND = 256


@dataclass(frozen=True, slots=True)
class Base:
    """The build every node serves: when it was read (watermark) and when it was built."""

    watermark: dt.datetime | None
    built_at: dt.datetime | None
    # The embedding model its vectors come from (this node's copy of the build says).
    model: str | None = None


def current_base(engine: Engine, root: Path) -> Base | None:
    """The newest published build (PostgreSQL) or the local one (SQLite); None: no build."""
    if shared(engine):
        with engine.connect() as conn:
            row = generations.latest(conn=conn)
        if row is None:
            return None
        meta = _manifest(root)
        return Base(row["watermark"], row["created_at"], meta.get("model") if meta else None)
    meta = _manifest(root)
    if meta is None:
        return None
    try:
        built = meta.get("built_at")
        watermark = meta.get("watermark")
        return Base(
            dt.datetime.fromisoformat(watermark) if watermark else None,
            dt.datetime.fromisoformat(built) if built else None,
            meta.get("model"),
        )
    except (ValueError, TypeError, AttributeError):
        return None


def _manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of the build ``CURRENT`` names here (opening the build every round would
    read its vocabularies); None when there is none or it cannot be read."""
    name = current_name(root)
    if name is None:
        return None
    try:
        meta = json.loads((root / name / "snapshot.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def embed_new(
    *, engine: Engine, embedder: Embedder, since: dt.datetime, limit: int = EMBED_PER_ROUND
) -> int:
    """Embed up to ``limit`` papers changed since ``since`` whose vector is missing or stale,
    the latest first (a backlog never delays what arrives next round); how many."""
    with engine.connect() as conn:
        todo = delta.stale_since(conn=conn, since=since, model=embedder.key)[:limit]
    for start in range(0, len(todo), 64):
        batch = todo[start : start + 64]
        with engine.connect() as conn:
            texts = papers.texts_of(conn=conn, ids=[pid for pid, _ in batch])
        batch = [(pid, digest) for pid, digest in batch if pid in texts]
        vectors = embedder.embed([paper_text(*texts[pid]) for pid, _ in batch])
        with write_transaction(engine) as conn:
            embeddings.store(conn=conn, model=embedder.key, items=batch, vectors=vectors)
    return len(todo)


def tick(
    *,
    engine: Engine,
    settings: Settings,
    embedder: Embedder | None,
    now: dt.datetime | None = None,
    in_child: bool = False,
) -> IndexReport | int | None:
    """One round of upkeep: embed up to ``EMBED_PER_ROUND`` new papers, then rebuild when due
    (not while a backlog is still being embedded); the rebuild's report, else how many
    papers were embedded (None: another process is building). ``in_child``: the rebuild runs
    in a child process at low priority (jobs/rebuild.py), as inside ``serve``."""
    now = now or dt.datetime.now(dt.UTC)
    base = current_base(engine, settings.index_dir)
    reason = None
    since = EPOCH if base is None or base.watermark is None else base.watermark
    if base is None:
        reason = "no build yet"
    else:
        with engine.connect() as conn:
            pending = delta.count_since(conn=conn, since=since)
        old = base.built_at is not None and now - base.built_at >= dt.timedelta(
            hours=settings.index_rebuild_hours
        )
        if pending >= settings.index_rebuild_delta:
            reason = f"{pending} papers since the build"
        elif pending and old:
            reason = f"the build is {settings.index_rebuild_hours:g} hours old"
        elif embedder is not None and base.model not in (None, embedder.key):
            reason = "its vectors are another embedding model's"
    try:
        # New papers get their vectors first (into every node's delta), the rebuild after.
        embedded = 0
        if embedder is not None and base is not None:
            embedded = embed_new(engine=engine, embedder=embedder, since=since)
        if reason is not None and embedded < EMBED_PER_ROUND:
            log.info("rebuilding the search index: %s", reason, extra={"job": "index"})
            built = (
                rebuild_in_child()
                if in_child
                else rebuild(engine=engine, settings=settings, embedder=embedder)
            )
            if built is None:
                return None  # another process is building
            report = built
            log.info("%s", report.summary(), extra={"job": "index", "outcome": "ok"})
            return report
        return embedded
    except AlreadyRunning:
        return None
