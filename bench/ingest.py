"""Ingest throughput: the 74,728 papers of the shared daily feed through ``ingest snapshot``.

The feed is converted to the Kaggle snapshot format in a temporary file (not timed), then
``dailypapers ingest snapshot FILE --no-progress`` is run in-process through the library,
exactly as ``dailypapers.cli.ingest`` does it (engine, migrations, ``run_ingest`` over
``read_snapshot`` with the feature rule of the default settings), into an empty database.
A second run over the same file (every paper unchanged) is timed as ``rerun_seconds``.

    .venv/bin/python bench/ingest.py --backend both
    .venv/bin/python bench/ingest.py --backend sqlite --limit 10000 --profile /tmp/ingest.prof

Prints one JSON line per backend.  Goal (issue): at least 5,000 papers/s on both backends.
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
import cProfile
import datetime as dt
import email.utils
import pstats
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from bench.common import (
    add_common_arguments,
    backends,
    database_version,
    emit,
    load_average,
    load_feed,
    log,
    machine_info,
    temp_database,
)

from dailypapers.ingest.pipeline import FeatureRule, IngestReport, run_ingest
from dailypapers.records import RawPaper
from dailypapers.settings import Settings
from dailypapers.sources.jsonl import read_jsonl
from dailypapers.sources.snapshot import read_snapshot
from dailypapers.storage.engine import make_engine
from dailypapers.storage.migrate import upgrade

# ---------------------------------------------------------------------------------------------
# Converting the feed (not timed)


def _split_name(name: str) -> list[str]:
    """``"S. V. Jaya Chand"`` as the snapshot's ``[last, first, suffix]``."""
    first, _, last = name.strip().rpartition(" ")
    return [last, first, ""]


def _author_string(authors: list[str]) -> str:
    """``"A, B and C"`` as the snapshot spells author lists."""
    if len(authors) <= 1:
        return "".join(authors)
    return ", ".join(authors[:-1]) + " and " + authors[-1]


def _day(row: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(row["first_seen"])


def snapshot_record(row: dict[str, Any]) -> dict[str, Any]:
    """One feed row in the Kaggle ``arxiv-metadata-oai-snapshot`` format."""
    day = _day(row)
    created = email.utils.format_datetime(
        dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), usegmt=True
    )
    categories = list(dict.fromkeys([row["primary_category"], *row["categories"]]))
    authors = row["authors"] or []
    return {
        "id": row["id"],
        "submitter": authors[0] if authors else None,
        "authors": _author_string(authors),
        "title": row["title"],
        "comments": row.get("comment"),
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(categories),
        "license": None,
        "abstract": row["abstract"],
        "versions": [{"version": "v1", "created": created}],
        "update_date": day.isoformat(),
        "authors_parsed": [_split_name(name) for name in authors],
    }


def export_record(row: dict[str, Any]) -> dict[str, Any]:
    """One feed row in our own export format (``dailypapers export``), listed on first_seen."""
    day = _day(row)
    published = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).isoformat()
    return {
        "id": row["id"],
        "version": 1,
        "title": row["title"],
        "abstract": row["abstract"],
        "authors": row["authors"] or [],
        "categories": row["categories"],
        "primary_category": row["primary_category"],
        "published": published,
        "updated": published,
        "comment": row.get("comment"),
        "journal_ref": None,
        "doi": None,
        "license": None,
        "day": day.isoformat(),
        "submitted_by": None,
        "upvotes": None,
    }


def write_jsonl(
    rows: Iterable[dict[str, Any]], path: Path, convert: Callable[[dict[str, Any]], Any]
) -> int:
    """Write ``convert(row)`` for every row as JSON lines; returns the count."""
    count = 0
    with path.open("wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(convert(row)) + b"\n")
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# The timed part: what ``dailypapers ingest snapshot|jsonl`` does after reading its settings


def _file_key(path: Path) -> dict[str, Any]:
    # The same run parameters as ``dailypapers.cli.ingest._file_key``.
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)}


def run_file_ingest(
    url: str,
    path: Path,
    *,
    source: str,
    settings: Settings,
    profile: cProfile.Profile | None = None,
) -> tuple[IngestReport, float, float]:
    """Ingest ``path`` as ``dailypapers ingest <source> PATH`` would; (report, wall s, CPU s).

    ``source`` is ``snapshot`` (feature rule from ``settings``) or ``jsonl`` (every paper on
    the day it names).
    """
    records: Callable[[str | None], Iterator[RawPaper]]
    if source == "snapshot":
        rule: FeatureRule | None = FeatureRule(
            frozenset(settings.feed_categories), settings.feed_cross_lists
        )
        explicit_days = False

        def records(resume: str | None) -> Iterator[RawPaper]:
            return read_snapshot(path, resume=resume, progress=False)

    elif source == "jsonl":
        rule, explicit_days = None, True

        def records(resume: str | None) -> Iterator[RawPaper]:
            return read_jsonl(path, resume=resume)

    else:
        raise ValueError(f"unknown source {source!r}")
    start, cpu_start = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    try:
        engine = make_engine(url)
        upgrade(engine)  # the CLI migrates before every command (a no-op here)
        try:
            report = run_ingest(
                engine=engine,
                source=source,
                params=_file_key(path),
                records=records,
                rule=rule,
                explicit_days=explicit_days,
                batch_size=settings.ingest_batch_size,
            )
        finally:
            engine.dispose()
    finally:
        if profile is not None:
            profile.disable()
    return report, time.perf_counter() - start, time.process_time() - cpu_start


# ---------------------------------------------------------------------------------------------


def bench_backend(
    backend: str, snapshot: Path, papers: int, args: argparse.Namespace, machine: dict[str, Any]
) -> dict[str, Any]:
    """Ingest the snapshot into an empty database on ``backend``, then again (no-op)."""
    settings = Settings()
    profile = cProfile.Profile() if args.profile else None
    with temp_database(backend, args.database_url) as url:
        log(f"{backend}: ingesting {papers} papers")
        report, seconds, cpu = run_file_ingest(
            url, snapshot, source="snapshot", settings=settings, profile=profile
        )
        log(f"{backend}: {report.summary()} in {seconds:.1f} s; re-running")
        rerun, rerun_seconds, _ = run_file_ingest(
            url, snapshot, source="snapshot", settings=settings
        )
        version = database_version(url)
    if profile is not None:
        target = Path(f"{args.profile}.{backend}")
        profile.dump_stats(target)
        log(f"{backend}: profile written to {target}; top functions by cumulative time:")
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return {
        "bench": "ingest",
        "source": "snapshot",
        "backend": backend,
        "database": version,
        "papers": papers,
        "batch_size": settings.ingest_batch_size,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "papers_per_s": round(papers / seconds, 1),
        "rerun_seconds": round(rerun_seconds, 3),
        "rerun_papers_per_s": round(papers / rerun_seconds, 1),
        "goal_papers_per_s": 5000,
        "report": report.counts(),
        "rerun_report": rerun.counts(),
        "profiled": bool(profile),
        "load_avg_1m_after": load_average(),
        "machine": machine,
    }


def main() -> None:
    """Parse arguments, convert the feed, run the benchmark on each backend."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--limit", type=int, help="only the first N papers of the feed")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="cProfile the first run; stats go to PREFIX.<backend> and a summary to stderr",
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    machine = machine_info()
    rows = load_feed(args.limit, args.feed)
    with tempfile.TemporaryDirectory(prefix="dailypapers-bench-") as folder:
        snapshot = Path(folder) / "snapshot.jsonl"
        papers = write_jsonl(rows, snapshot, snapshot_record)
        del rows
        log(f"wrote {papers} papers to {snapshot} ({snapshot.stat().st_size / 1e6:.0f} MB)")
        for backend in backends(args.backend):
            emit(bench_backend(backend, snapshot, papers, args, machine))


if __name__ == "__main__":
    main()
