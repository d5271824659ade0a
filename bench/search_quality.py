"""Search quality on a BEIR-format folder: nDCG@10, recall@100 and MRR@10 per search mode.

The corpus goes through the normal stages into a fresh temporary database: it is written in
our JSON-lines export format (with synthetic arXiv ids, see ``bench/beir.py``), ingested
with ``run_ingest`` over ``read_jsonl``, indexed with ``run_index`` and all-MiniLM-L6-v2,
and every judged query is run through ``Searcher.search`` (first page of 100 results).

    .venv/bin/python bench/search_quality.py --beir ../shared/data/beir-scifact \\
        --mode all --cache bench/results/cache
    .venv/bin/python bench/search_quality.py --beir /tmp/known-1 --mode all --by-kind
    .venv/bin/python bench/search_quality.py --self-check
    .venv/bin/python bench/search_quality.py --beir ../shared/data/beir-scifact \\
        --mode all --cache bench/results/cache --max-tokens 128

Prints one JSON line per mode. ``--cache DIR`` keeps the embeddings (by model and text
hash) between runs, so tuning runs, other backends and repeated queries skip the model.
``--by-kind`` adds figures per query kind, the part of the query id before the first ``-``
(``make_known_item.py`` names its queries that way). ``--max-tokens N`` sets the model's
truncation (``dailypapers.index.embedder.MAX_TOKENS``, 256 by default) for this run only; it
is part of the embedder's key, so cached vectors of another length are never reused.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# This folder holds ``http.py``, which would shadow the standard library's ``http`` package;
# put the repository root first on sys.path instead of this folder.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from bench import metrics
from bench.beir import BeirSet, CachedEmbedder, load, write_export
from bench.common import database_version, emit, log, machine_info, temp_database
from sqlalchemy import Engine

from dailypapers.index import embedder as embedder_module
from dailypapers.index.build import run_index
from dailypapers.index.embedder import ENGINES, Embedder, MiniLMEmbedder
from dailypapers.index.snapshot import SnapshotStore
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.queries.search import Mode, Searcher
from dailypapers.sources.jsonl import read_jsonl
from dailypapers.storage.engine import make_engine

MODES: tuple[Mode, ...] = ("keyword", "semantic", "hybrid")
LIMIT = 100


@dataclass(slots=True)
class Loaded:
    """A BEIR set in a database and a snapshot, ready to search."""

    engine: Engine
    searcher: Searcher
    beir_of: dict[str, str]  # arXiv id -> BEIR document id
    setup: dict[str, Any]


@contextlib.contextmanager
def loaded(
    beir: BeirSet,
    *,
    backend: str,
    embedder: Embedder | None,
    server_url: str | None = None,
) -> Iterator[Loaded]:
    """Ingest and index ``beir`` into a temporary database (embedder None: keyword only)."""
    with temp_database(backend, server_url) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export = folder / "corpus.jsonl"
        beir_of = write_export(beir, export)
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            ingest = run_ingest(
                engine=engine,
                source="jsonl",
                params={"path": str(export)},
                records=lambda resume: read_jsonl(export, resume=resume),
                explicit_days=False,
            )
            if ingest.rejected:
                log(f"{ingest.rejected} documents rejected: {ingest.rejects[:3]}")
            ingest_seconds = time.perf_counter() - started
            root = folder / "index"
            report = run_index(engine=engine, root=root, embedder=embedder)
            log(f"{ingest.summary()}; {report.summary()}")
            setup = {
                "database": database_version(url),
                "ingest_seconds": round(ingest_seconds, 2),
                "embedded": report.embedded,
                "embed_seconds": round(report.embed_seconds, 2),
                "build_seconds": round(report.build_seconds, 2),
            }
            yield Loaded(engine, Searcher(SnapshotStore(root), embedder), beir_of, setup)
        finally:
            engine.dispose()


def run_queries(data: Loaded, queries: dict[str, str], mode: Mode) -> dict[str, list[str]]:
    """The first page of ``LIMIT`` results of every query, as BEIR document ids."""
    run: dict[str, list[str]] = {}
    with data.engine.connect() as conn:
        for qid, text in queries.items():
            result = data.searcher.search(
                conn=conn, q=text, mode=mode, limit=LIMIT, highlight_hits=False
            )
            run[qid] = [data.beir_of[str(hit.row["id"])] for hit in result.hits]
    return run


def kind_of(query_id: str) -> str:
    """The kind of a query: its id up to the first ``-`` (``all`` when there is none)."""
    return query_id.split("-", 1)[0] if "-" in query_id else "all"


def by_kind(scores: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean metrics per query kind, with the number of queries of each."""
    kinds: dict[str, dict[str, dict[str, float]]] = {}
    for qid, values in scores.items():
        kinds.setdefault(kind_of(qid), {})[qid] = values
    return {
        kind: {**metrics.mean(group), "queries": len(group)}
        for kind, group in sorted(kinds.items())
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beir", type=Path, help="BEIR folder (corpus, queries, qrels/)")
    parser.add_argument("--qrels", type=Path, help="qrels file (default: BEIR/qrels/test.tsv)")
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", help="admin URL of an existing PostgreSQL server")
    parser.add_argument("--limit-queries", type=int, help="only the first N judged queries")
    parser.add_argument("--cache", type=Path, help="folder that keeps embeddings between runs")
    parser.add_argument("--by-kind", action="store_true", help="figures per query kind too")
    parser.add_argument("--per-query", type=Path, help="write per-query figures (JSON lines)")
    parser.add_argument("--self-check", action="store_true", help="check the metric code")
    parser.add_argument(
        "--max-tokens", type=int, help="truncate texts to N tokens (default: MAX_TOKENS, 256)"
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="onnxruntime",
        help="what embeds papers and queries (give each engine its own --cache: the cache is "
        "keyed by model, and both engines run the same model)",
    )
    args = parser.parse_args()
    if not args.beir and not args.self_check:
        parser.error("--beir is required (or --self-check)")
    return args


def main() -> None:
    """Load the set, run every mode, print one JSON line per mode."""
    args = _arguments()
    if args.self_check:
        metrics.self_check()
        log("metric self-check passed")
        if not args.beir:
            return
    beir = load(args.beir, args.qrels)
    queries = dict(list(beir.queries.items())[: args.limit_queries])
    qrels = {qid: beir.qrels[qid] for qid in queries}
    modes = list(MODES) if args.mode == "all" else [args.mode]
    if args.max_tokens:
        # Read by the tokenizer when the model loads and by ModelFiles.key (the cache key).
        embedder_module.MAX_TOKENS = args.max_tokens
    embedder: Embedder | None = None
    if modes != ["keyword"]:
        embedder = MiniLMEmbedder(engine=args.engine)
        log(f"embedder {embedder.key} on {args.engine}")
        if args.cache:
            embedder = CachedEmbedder(embedder, args.cache)
    log(f"{beir.name}: {len(beir.corpus)} documents, {len(queries)} queries, {args.backend}")
    per_query_out = args.per_query.open("wb") if args.per_query else None
    with loaded(
        beir, backend=args.backend, embedder=embedder, server_url=args.database_url
    ) as data:
        for mode in modes:
            started = time.perf_counter()
            run = run_queries(data, queries, mode)
            seconds = time.perf_counter() - started
            scores = metrics.per_query(run, qrels)
            result: dict[str, Any] = {
                "benchmark": "search_quality",
                "dataset": beir.name,
                "mode": mode,
                "backend": args.backend,
                "engine": args.engine,
                "max_tokens": embedder_module.MAX_TOKENS,
                **metrics.mean(scores),
                "docs": len(beir.corpus),
                "queries": len(scores),
                "seconds": round(seconds, 2),
                "setup": data.setup,
            }
            if args.by_kind:
                result["by_kind"] = by_kind(scores)
            result["machine"] = machine_info()
            emit(result)
            if per_query_out is not None:
                for qid, values in scores.items():
                    line = {"dataset": beir.name, "mode": mode, "query": qid, **values}
                    per_query_out.write(orjson.dumps(line) + b"\n")
    if per_query_out is not None:
        per_query_out.close()


if __name__ == "__main__":
    main()
