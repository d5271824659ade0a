"""Search quality with part of the corpus in the live delta: the delta must rank as the base.

Loads a BEIR set as ``bench/search_quality.py`` does (a full base build), then moves a
``--fraction`` of its documents into the live delta (marked as changed after the build: the
delta holds them with their stored vectors, their base copies are masked) and runs every
judged query again. With the same scoring, nDCG@10 should not move.

    .venv/bin/python bench/delta_quality.py --beir ../shared/data/beir-scifact \\
        --cache bench/results/cache --fraction 0 0.1 0.5

Prints one JSON line per fraction and mode.
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
from pathlib import Path

from bench import metrics
from bench.beir import CachedEmbedder, load
from bench.common import emit, log, machine_info
from bench.search_quality import loaded, run_queries
from sqlalchemy import select, update

from dailypapers.index.delta import LiveDelta
from dailypapers.index.embedder import Embedder, MiniLMEmbedder
from dailypapers.storage.schema import papers


def main() -> None:
    """Load the set once, then measure each fraction in the delta."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--fraction", type=float, nargs="+", default=[0.0, 0.1, 0.5])
    parser.add_argument("--mode", nargs="+", default=["hybrid", "keyword", "semantic"])
    args = parser.parse_args()
    beir = load(args.beir)
    qrels = beir.qrels
    embedder: Embedder = MiniLMEmbedder()
    if args.cache:
        embedder = CachedEmbedder(embedder, args.cache)
    rng = random.Random(0)
    with loaded(beir, backend="sqlite", embedder=embedder) as data:
        with data.engine.connect() as conn:
            ids = list(conn.execute(select(papers.c.id)).scalars())
        moved = 0
        for fraction in sorted(args.fraction):
            wanted = int(len(ids) * fraction)
            if wanted > moved:
                chosen = rng.sample([i for i in ids], wanted - moved)
                later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
                with data.engine.begin() as conn:
                    for start in range(0, len(chosen), 500):
                        conn.execute(
                            update(papers)
                            .where(papers.c.id.in_(chosen[start : start + 500]))
                            .values(modified_at=later)
                        )
                moved = wanted
            data.searcher.live = LiveDelta()
            held = data.searcher.live.refresh(
                engine=data.engine, snapshot=data.searcher.store.current()
            )
            log(f"delta holds {held} papers")
            for mode in args.mode:
                run = run_queries(data, beir.queries, mode)
                scores = metrics.per_query(run, qrels)
                emit(
                    {
                        "benchmark": "delta_quality",
                        "dataset": beir.name,
                        "mode": mode,
                        "delta_papers": held,
                        "docs": len(ids),
                        **metrics.mean(scores),
                        "machine": machine_info(),
                    }
                )


if __name__ == "__main__":
    main()
