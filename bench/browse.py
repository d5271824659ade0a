"""Author and category pages at the size of the real feed: in-process query latency.

Loads the shared arXiv daily feed (74,728 papers; ``--limit`` fewer) into a throwaway
database, then times the query functions behind ``/authors/{name}`` (the most prolific
authors, authors with the commonest short surnames, and random ones) and ``/c/{...}`` (one
category, several, an archive; day list and the 30-day chart), each run ``--repeat`` times.
Prints one JSON line per kind (p50, p95, max in ms, and how many papers the pages found).

    .venv/bin/python bench/browse.py --backend sqlite
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    FEED,
    add_common_arguments,
    emit,
    load_feed,
    log,
    machine_info,
    temp_database,
)

from dailypapers.ingest.author_names import name_key
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.queries import authors, categories
from dailypapers.records import RawPaper
from dailypapers.storage.engine import make_engine


def _timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def _summary(kind: str, times: list[float], found: list[int], extra: dict[str, Any]) -> None:
    ordered = sorted(times)
    emit(
        {
            "bench": "browse",
            "kind": kind,
            "runs": len(times),
            "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max_ms": round(ordered[-1], 2),
            "papers_found_median": statistics.median(found) if found else 0,
            **extra,
        }
    )


def main() -> None:
    """Load the feed, then time author and category pages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--limit", type=int, default=None, help="papers of the feed to load")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    feed: Path = args.feed or FEED
    with temp_database(args.backend, args.database_url) as url:
        engine = make_engine(url)
        start = time.perf_counter()

        rows = load_feed(args.limit, feed)
        records = [
            RawPaper(
                arxiv_id=r["id"],
                title=r["title"],
                abstract=r["abstract"],
                authors=r["authors"],
                categories=r["categories"],
                published=r["first_seen"],
                day=r["first_seen"],  # on the list of the day the feed first showed it
                cursor=str(i),
            )
            for i, r in enumerate(rows)
        ]
        report = run_ingest(
            engine=engine,
            source="bench",
            params={"bench": "browse"},
            records=lambda _: records,
            explicit_days=True,
        )
        log(f"loaded {report.summary()} in {time.perf_counter() - start:.0f} s")
        with engine.connect() as conn:
            from sqlalchemy import select

            from dailypapers.storage.schema import papers

            lists = [row for (row,) in conn.execute(select(papers.c.authors))]
        counts = Counter(a for names in lists for a in set(names))
        surnames = Counter(k.surname for a in counts if (k := name_key(a)) is not None)
        rng = random.Random(args.seed)
        short = [s for s, _ in surnames.most_common() if len(s) <= 3][:5]
        chosen = {
            "prolific": [a for a, _ in counts.most_common(10)],
            "common-short-surname": [
                max((a for a in counts if a.endswith(" " + s.title())), key=counts.__getitem__)
                for s in short
            ],
            "random": rng.sample(sorted(counts), 10),
        }
        machine = machine_info()
        with engine.connect() as conn:
            for kind, names in chosen.items():
                times: list[float] = []
                found: list[int] = []
                for name in names:
                    t, result = _timed(
                        lambda n=name: authors.author_page(conn=conn, name=n, limit=50),
                        args.repeat,
                    )
                    times += t
                    found.append(getattr(result, "total", 0))
                _summary(
                    f"author:{kind}",
                    times,
                    found,
                    {
                        "backend": args.backend,
                        "papers": len(lists),
                        "names": names,
                        "machine": machine,
                    },
                )
            for spec_text in ["cs.CL", "cs.CL+cs.LG", "cs", "hep-th"]:
                spec = categories.parse_spec(spec_text)

                def page(spec: categories.Spec = spec) -> Any:
                    result = categories.category_list(conn=conn, spec=spec, period=None)
                    if result is not None:
                        categories.papers_per_day(conn=conn, end=result.period.end, spec=spec)
                    return result

                t, result = _timed(page, args.repeat)
                _summary(
                    f"category:{spec_text}",
                    t,
                    [getattr(result, "total", 0)],
                    {"backend": args.backend, "papers": len(lists)},
                )
        engine.dispose()


if __name__ == "__main__":
    main()
