"""The ONNX embedding engine: load time, memory, indexing rate against the raw runtime, latency.

On N real abstracts of the shared feed (or the bundled sample with --sample):

- ``engine_papers_per_s``: ``MiniLMEmbedder.embed`` as the index stage calls it (batches of
  --batch-size papers, each sorted by token length and cut into low-padding runs);
- ``raw_papers_per_s``: ONNX Runtime's ``InferenceSession.run`` on the same model file and
  token ids, in feed order, fixed batches of 32 padded to their longest text: what calling the
  runtime directly gives;
- ``query_ms``: one query embedded at a time (p50/p95), with 1 thread (a web worker) and the
  indexing thread count;
- ``rss_mib``: the process's resident memory before importing the engine, after loading the
  model, and after the indexing run.

    .venv/bin/python bench/embedder.py --papers 1000 [--threads 2] [--sample]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from bench.common import emit, load_average, load_feed, log, machine_info  # noqa: E402


def rss_mib() -> float:
    """Resident set size of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sample", action="store_true", help="the bundled sample, not the feed")
    args = parser.parse_args()
    rss_start = rss_mib()

    from dailypapers.index.embedder import MODEL_DIR, SHIPPED, MiniLMEmbedder, paper_text
    from dailypapers.ingest.normalize import clean_abstract, clean_line

    if args.sample:
        from dailypapers.demo import sample_path

        with gzip.open(sample_path(), "rt", encoding="utf-8") as handle:
            rows = [orjson.loads(line) for line in handle][: args.papers]
    else:
        rows = load_feed(limit=args.papers)
    texts = [paper_text(clean_line(r["title"]), clean_abstract(r["abstract"])) for r in rows]
    started = time.perf_counter()
    engine = MiniLMEmbedder(threads=args.threads)
    engine.load()
    load_seconds = time.perf_counter() - started
    rss_loaded = rss_mib()
    ids = engine.token_ids(texts)
    tokens = sum(len(row) for row in ids)
    engine.embed(texts[:8])  # first run allocates the arena

    log(f"engine: {len(texts)} texts, {args.threads} threads")
    started = time.perf_counter()
    for start in range(0, len(texts), args.batch_size):
        engine.embed(texts[start : start + args.batch_size])
    engine_seconds = time.perf_counter() - started
    rss_indexed = rss_mib()

    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    raw = onnxruntime.InferenceSession(
        str(MODEL_DIR / SHIPPED.model), options, providers=["CPUExecutionProvider"]
    )
    log("raw runtime: fixed batches of 32 in feed order")
    started = time.perf_counter()
    padded = 0
    for start in range(0, len(ids), 32):
        batch = ids[start : start + 32]
        width = max(len(row) for row in batch)
        padded += width * len(batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for i, row in enumerate(batch):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        raw.run(None, {"input_ids": input_ids, "attention_mask": mask})
    raw_seconds = time.perf_counter() - started
    del raw

    queries = [clean_line(r["title"])[:60] for r in rows[: args.queries]]
    latency: dict[str, dict[str, float]] = {}
    for threads in sorted({1, args.threads}):
        single = MiniLMEmbedder(threads=threads)
        single.embed(["warm up"])
        times = []
        for query in queries:
            began = time.perf_counter()
            single.embed([query])
            times.append((time.perf_counter() - began) * 1000)
        latency[f"{threads}_thread"] = {
            "p50": round(statistics.median(times), 2),
            "p95": round(percentile(times, 95), 2),
        }
    emit(
        {
            "bench": "embedder",
            "model": engine.key,
            "papers": len(texts),
            "tokens_per_paper": round(tokens / len(texts), 1),
            "threads": args.threads,
            "load_seconds": round(load_seconds, 3),
            "engine_papers_per_s": round(len(texts) / engine_seconds, 1),
            "raw_papers_per_s": round(len(texts) / raw_seconds, 1),
            "ratio": round(raw_seconds / engine_seconds, 2),
            "raw_padding_share": round(1 - tokens / padded, 3),
            "query_ms": latency,
            "rss_mib": {
                "start": round(rss_start),
                "model_loaded": round(rss_loaded),
                "after_indexing": round(rss_indexed),
            },
            "load_average": load_average(),
            "machine": machine_info(),
        }
    )


if __name__ == "__main__":
    main()
