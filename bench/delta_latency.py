"""What the live delta adds to a search: in-process search latency with and without it.

Loads the bundled sample (3,187 papers with their precomputed vectors) into a throwaway
SQLite database and builds the index, then marks ``--delta`` of its papers as changed after
the build (so the delta holds them, with their stored vectors, and their base copies are
masked), refreshes the live delta and runs the same queries (titles, title words,
abstract sentences) through ``Searcher.search`` in each mode, query vectors cached, with
the delta empty and full. Prints one JSON line per delta size and mode (p50, p95 in ms) and
the seconds one refresh of the delta takes.

    .venv/bin/python bench/delta_latency.py --delta 1000 3000
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import datetime as dt
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench.common import emit, log, machine_info
from sqlalchemy import select, update

from dailypapers.demo import load_sample
from dailypapers.index.delta import LiveDelta
from dailypapers.index.embedder import default_embedder
from dailypapers.index.snapshot import SnapshotStore
from dailypapers.queries.search import Searcher
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.storage.migrate import upgrade
from dailypapers.storage.schema import papers


def _timings(searcher: Searcher, engine: object, queries: list[str], mode: str) -> list[float]:
    out = []
    with engine.connect() as conn:  # type: ignore[attr-defined]
        for q in queries:
            started = time.perf_counter()
            searcher.search(conn=conn, q=q, mode=mode, highlight_hits=False)  # type: ignore[arg-type]
            out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    """Parse arguments, run, print JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delta", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dailypapers-delta-"))
    try:
        settings = Settings(data_dir=folder, secret_key="bench-" + "k" * 40)
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        log("loading the sample")
        load_sample(engine, settings, progress=False)
        with engine.connect() as conn:
            rows = conn.execute(select(papers.c.id, papers.c.title, papers.c.abstract)).all()
        rng = random.Random(0)
        picked = rng.sample(rows, args.queries)
        queries = [r.title for r in picked[: args.queries // 3]]
        queries += [" ".join(r.title.split()[:3]) for r in picked[args.queries // 3 :][:50]]
        queries += [r.abstract.split(". ")[0][:200] for r in picked[-(args.queries // 3) :]]
        embedder = default_embedder()
        live = LiveDelta()
        store = SnapshotStore(settings.index_dir)
        searcher = Searcher(store, embedder, live=live)
        for q in queries:
            searcher.query_vector(q)  # cached: measure the engine, not the model
        machine = machine_info()
        results: dict[int, dict[str, list[float]]] = {}
        for size in [0, *args.delta]:
            if size:
                ids = [r.id for r in rng.sample(rows, size)]
                later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
                with engine.begin() as conn:
                    conn.execute(
                        update(papers).where(papers.c.id.in_(ids)).values(modified_at=later)
                    )
            live = LiveDelta()
            searcher.live = live
            started = time.perf_counter()
            held = live.refresh(engine=engine, snapshot=store.current())
            refresh = time.perf_counter() - started
            results[size] = {}
            for mode in ("keyword", "semantic", "hybrid"):
                _timings(searcher, engine, queries[:20], mode)  # warm
                ms = _timings(searcher, engine, queries, mode)
                results[size][mode] = ms
                emit(
                    {
                        "bench": "delta_latency",
                        "base_papers": len(rows),
                        "delta_papers": held,
                        "mode": mode,
                        "p50_ms": round(float(np.percentile(ms, 50)), 2),
                        "p95_ms": round(float(np.percentile(ms, 95)), 2),
                        "refresh_seconds": round(refresh, 3),
                        "queries": len(ms),
                        "machine": machine,
                    }
                )
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
