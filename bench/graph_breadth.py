"""How wide should the HNSW graph's search be? Recall, agreement and time at several breadths.

Reads a corpus that ``bench/search_latency.py --cache DIR`` built (its SQLite database, its
snapshot with a graph, and ``requests.tsv``, the bench's requests) and, for each breadth
(usearch's ``expansion_search``, set on the loaded graph; ``index/ann.py`` ships
``EXPANSION_SEARCH``), measures in this process:

- ``graph``: the graph's time for its nearest (``--nearest``: hybrid's count) to 400 queries
  near real papers (a paper's vector with noise), and their recall@10 and recall of all of
  them against the exact scan (the first 100 queries);
- ``search``: the bench's requests through ``Searcher.search`` (20 results, hybrid fusing
  the ``--nearest`` count of the graph's neighbours given for that breadth; vectors of the
  queries embedded once beforehand and cached, so the model's time is left out), their p50
  and mean time, and per query kind how many first pages (20) and first tens are the same as
  at the first breadth given.

    .venv/bin/python bench/search_latency.py --all-real --real 5000 --docs 74728 \\
        --cache bench/results/latency-cache --duration 5    # builds the corpus once
    .venv/bin/python bench/graph_breadth.py \\
        bench/results/latency-cache/sqlite-docs74728-real5000-text69728-seed0 \\
        --breadths 200 100 --nearest 200 100 --requests 2000

Times alternate between the breadths over two rounds (the second round's are reported), so a
busy machine weighs on each alike.
"""

from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(__file__)]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import collections  # noqa: E402
import datetime as dt  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench.common import emit, load_average, log, machine_info  # noqa: E402
from bench.search_queries import read_paths  # noqa: E402

from dailypapers.index.embedder import MiniLMEmbedder  # noqa: E402
from dailypapers.index.snapshot import SnapshotStore  # noqa: E402
from dailypapers.queries.search import Filters, Searcher  # noqa: E402
from dailypapers.ranking import hybrid  # noqa: E402
from dailypapers.storage.engine import make_engine  # noqa: E402


def calls_of(folder: Path, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The first ``count`` bench requests as ``Searcher.search`` arguments, with their kind."""
    calls = []
    for kind, path in read_paths(folder / "requests.tsv")[:count]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)

        def one(name: str, query: dict[str, list[str]] = query) -> str | None:
            return query.get(name, [None])[0]

        day = {name: one(name) for name in ("from", "to")}
        filters = Filters(
            category=one("category"),
            author=one("author"),
            date_from=dt.date.fromisoformat(day["from"]) if day["from"] else None,
            date_to=dt.date.fromisoformat(day["to"]) if day["to"] else None,
        )
        arguments = {"q": one("q") or "", "mode": one("mode") or "hybrid", "filters": filters}
        calls.append((kind, arguments))
    return calls


def main() -> None:
    """Measure each breadth; one JSON line per breadth and kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a corpus folder of search_latency's cache")
    parser.add_argument("--breadths", type=int, nargs="+", default=[400, 200])
    parser.add_argument(
        "--nearest",
        type=int,
        nargs="+",
        help="hybrid's nearest neighbours fused at each breadth (hybrid.NEAREST), one per breadth",
    )
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    nearest = args.nearest or [hybrid.NEAREST] * len(args.breadths)
    if len(nearest) != len(args.breadths):
        parser.error("--nearest needs one count per breadth")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    engine = make_engine(f"sqlite:///{args.corpus / 'bench.sqlite3'}")
    store = SnapshotStore(args.corpus / "data" / "index")
    searcher = Searcher(store, MiniLMEmbedder(threads=1))
    calls = calls_of(args.corpus, args.requests)
    machine = machine_info()
    with engine.connect() as conn, store.use() as snapshot:
        if snapshot.ann is None:
            raise SystemExit("this corpus has no graph (under 50,000 papers)")
        rng = np.random.default_rng(0)
        queries = []
        for row in rng.integers(0, snapshot.n_docs, 400):
            vector = np.asarray(snapshot.vectors[int(row)], dtype=np.float32)
            vector = vector + rng.normal(0, 0.04, vector.shape).astype(np.float32)
            queries.append(vector / np.linalg.norm(vector))
        deepest = max(nearest)
        exact = [np.argsort(-(snapshot.vectors @ q))[:deepest] for q in queries[:100]]
        log(f"{len(calls)} requests: embedding their queries once")
        for _, arguments in calls:
            searcher.search(conn=conn, **arguments, highlight_hits=False)
        pages: dict[int, list[list[str]]] = {}
        times: dict[int, list[float]] = {}
        graph_ms: dict[int, float] = {}
        for _ in range(2):
            for breadth, fused in zip(args.breadths, nearest, strict=True):
                snapshot.ann.expansion_search = breadth
                hybrid.NEAREST = fused
                started = time.perf_counter()
                for q in queries:
                    snapshot.ann.search(q, fused, threads=1)
                graph_ms[breadth] = (time.perf_counter() - started) / len(queries) * 1000
                pages[breadth], times[breadth] = [], []
                for _, arguments in calls:
                    started = time.perf_counter()
                    found = searcher.search(conn=conn, **arguments, highlight_hits=False)
                    times[breadth].append((time.perf_counter() - started) * 1000)
                    pages[breadth].append([hit.row["id"] for hit in found.hits])
        first = args.breadths[0]
        for breadth, fused in zip(args.breadths, nearest, strict=True):
            snapshot.ann.expansion_search = breadth
            checked = queries[: len(exact)]
            found = [np.asarray(snapshot.ann.search(q, fused, threads=1).keys) for q in checked]
            pairs = list(zip(found, exact, strict=True))
            recall_10 = np.mean([len(set(f[:10]) & set(e[:10])) / 10 for f, e in pairs])
            recall_all = np.mean([len(set(f) & set(e[:fused])) / fused for f, e in pairs])
            emit(
                {
                    "bench": "graph_breadth",
                    "part": "graph",
                    "breadth": breadth,
                    "nearest": fused,
                    "docs": snapshot.n_docs,
                    "graph_ms": round(graph_ms[breadth], 3),
                    "recall_at_10": round(float(recall_10), 4),
                    f"recall_at_{fused}": round(float(recall_all), 4),
                    "load_average": load_average(),
                    "machine": machine,
                }
            )
            same: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
            for (kind, _), mine, theirs in zip(calls, pages[breadth], pages[first], strict=True):
                for key in (kind, "all"):
                    same[key][0] += 1
                    same[key][1] += mine == theirs
                    same[key][2] += mine[:10] == theirs[:10]
            for kind, (count, page, ten) in sorted(same.items()):
                line: dict[str, Any] = {
                    "bench": "graph_breadth",
                    "part": "search",
                    "breadth": breadth,
                    "kind": kind,
                    "requests": count,
                    f"same_first_page_as_{first}": page,
                    f"same_first_ten_as_{first}": ten,
                }
                if kind == "all":
                    spent = np.asarray(times[breadth])
                    line.update(
                        p50_ms=round(float(np.median(spent)), 3),
                        mean_ms=round(float(spent.mean()), 3),
                        load_average=load_average(),
                    )
                emit(line)


if __name__ == "__main__":
    main()
