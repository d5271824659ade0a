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

With ``--engines onnxruntime openvino`` both engines run on the same texts in one process, one
after the other (one JSON line each, then their ``ratio`` line: the second's rate over the
first's); the raw runtime (ONNX Runtime) is measured once. The second engine's ``rss_mib``
starts where the first left it, so compare memory from separate runs.

    .venv/bin/python bench/embedder.py --papers 1000 [--threads 2] [--sample] \
        [--engines onnxruntime openvino]
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
    parser.add_argument(
        "--engines", nargs="+", choices=["onnxruntime", "openvino"], default=["onnxruntime"]
    )
    args = parser.parse_args()

    from dailypapers.index.embedder import paper_text
    from dailypapers.ingest.normalize import clean_abstract, clean_line

    if args.sample:
        from dailypapers.demo import sample_path

        with gzip.open(sample_path(), "rt", encoding="utf-8") as handle:
            rows = [orjson.loads(line) for line in handle][: args.papers]
    else:
        rows = load_feed(limit=args.papers)
    texts = [paper_text(clean_line(r["title"]), clean_abstract(r["abstract"])) for r in rows]
    raw_rate: float | None = None
    rates = []
    for name in args.engines:
        result = measure(args, name, rows, texts, raw=raw_rate is None)
        raw_rate = raw_rate or result["raw_papers_per_s"]
        result["raw_papers_per_s"] = raw_rate
        result["ratio"] = round(result["engine_papers_per_s"] / raw_rate, 2)
        rates.append(result["engine_papers_per_s"])
        emit(result)
    if len(rates) > 1:
        emit(
            {
                "bench": "embedder",
                "kind": "ratio",
                "of": f"{args.engines[1]} / {args.engines[0]}",
                "papers_per_s": round(rates[1] / rates[0], 2),
                "load_average": load_average(),
            }
        )


def measure(
    args: argparse.Namespace, name: str, rows: list[dict], texts: list[str], *, raw: bool
) -> dict:
    """One engine's figures (and the raw runtime's when ``raw``) as a JSON-ready dict."""
    from dailypapers.index.embedder import MODEL_DIR, SHIPPED, MiniLMEmbedder
    from dailypapers.ingest.normalize import clean_line

    rss_start = rss_mib()
    started = time.perf_counter()
    engine = MiniLMEmbedder(threads=args.threads, engine=name)
    engine.embed(texts[:2])  # starts the engines a node holds: queries' and batches'

    load_seconds = time.perf_counter() - started
    rss_loaded = rss_mib()
    ids = engine.token_ids(texts)
    tokens = sum(len(row) for row in ids)
    engine.embed(texts[:8])  # first run allocates the arena

    log(f"engine {name}: {len(texts)} texts, {args.threads} threads")
    started = time.perf_counter()
    for start in range(0, len(texts), args.batch_size):
        engine.embed(texts[start : start + args.batch_size])
    engine_seconds = time.perf_counter() - started
    rss_indexed = rss_mib()

    import numpy as np
    import onnxruntime

    raw_rate = 0.0
    padded = 0
    if raw:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(
            str(MODEL_DIR / SHIPPED.model), options, providers=["CPUExecutionProvider"]
        )
        log("raw runtime (ONNX Runtime): fixed batches of 32 in feed order")
        started = time.perf_counter()
        for start in range(0, len(ids), 32):
            batch = ids[start : start + 32]
            width = max(len(row) for row in batch)
            padded += width * len(batch)
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(input_ids)
            for i, row in enumerate(batch):
                input_ids[i, : len(row)] = row
                mask[i, : len(row)] = 1
            session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        raw_rate = len(texts) / (time.perf_counter() - started)
        del session

    queries = [clean_line(r["title"])[:60] for r in rows[: args.queries]]
    latency: dict[str, dict[str, float]] = {}
    for threads in sorted({1, args.threads}):
        single = MiniLMEmbedder(threads=threads, engine=name)
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
    return {
        "bench": "embedder",
        "engine": name,
        "model": engine.key,
        "papers": len(texts),
        "tokens_per_paper": round(tokens / len(texts), 1),
        "threads": args.threads,
        "load_seconds": round(load_seconds, 3),
        "engine_papers_per_s": round(len(texts) / engine_seconds, 1),
        "raw_papers_per_s": round(raw_rate, 1),
        "raw_padding_share": round(1 - tokens / padded, 3) if padded else None,
        "query_ms": latency,
        "rss_mib": {
            "start": round(rss_start),
            "model_loaded": round(rss_loaded),
            "after_indexing": round(rss_indexed),
        },
        "load_average": load_average(),
        "machine": machine_info(),
    }


if __name__ == "__main__":
    main()
