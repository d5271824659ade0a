"""Embedding throughput of the ``index`` pipeline against the raw model on the same texts.

Takes N real papers from the shared feed, times ``model.encode`` on their texts (raw), then
ingests them into an empty database and times the index stage's embedding step
(``embed_stale``: finding stale papers, fetching texts, embedding in batches, storing each
batch). Prints one JSON line with both rates and their ratio (goal: >= 0.9).

    .venv/bin/python bench/embed_throughput.py --papers 1000 [--backend sqlite|postgresql] \
        [--engine onnxruntime|openvino]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, load_feed, log, machine_info, temp_database  # noqa: E402

from dailypapers.index.build import embed_stale  # noqa: E402
from dailypapers.index.embedder import ENGINES, MiniLMEmbedder, paper_text  # noqa: E402
from dailypapers.ingest.normalize import clean_abstract, clean_line  # noqa: E402
from dailypapers.ingest.pipeline import run_ingest  # noqa: E402
from dailypapers.records import RawPaper  # noqa: E402
from dailypapers.storage.engine import make_engine  # noqa: E402


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--engine", choices=ENGINES, default="onnxruntime")
    args = parser.parse_args()
    rows = load_feed(limit=args.papers)
    texts = [paper_text(clean_line(r["title"]), clean_abstract(r["abstract"])) for r in rows]
    model = MiniLMEmbedder(engine=args.engine)
    model.embed(["warm up"])  # load the weights outside the timings
    log(f"raw: embedding {len(texts)} texts")
    started = time.perf_counter()
    for start in range(0, len(texts), args.batch_size):
        model.embed(texts[start : start + args.batch_size])
    raw_seconds = time.perf_counter() - started
    records = [
        RawPaper(
            arxiv_id=r["id"],
            title=r["title"],
            abstract=r["abstract"],
            authors=r["authors"],
            categories=r["categories"],
            published=r["first_seen"],
            cursor=str(i),
        )
        for i, r in enumerate(rows)
    ]
    with temp_database(args.backend) as url:
        engine = make_engine(url)
        run_ingest(engine=engine, source="bench", params={}, records=lambda _: records)
        log("pipeline: embed_stale")
        count, pipeline_seconds = embed_stale(
            engine=engine, embedder=model, batch_size=args.batch_size
        )
        engine.dispose()
    raw_rate = len(texts) / raw_seconds
    pipeline_rate = count / pipeline_seconds
    emit(
        {
            "bench": "embed_throughput",
            "backend": args.backend,
            "engine": args.engine,
            "papers": len(texts),
            "embedded": count,
            "raw_papers_per_s": round(raw_rate, 1),
            "pipeline_papers_per_s": round(pipeline_rate, 1),
            "ratio": round(pipeline_rate / raw_rate, 3),
            "batch_size": args.batch_size,
            "machine": machine_info(),
        }
    )


if __name__ == "__main__":
    main()
