"""Helpers shared by the benchmark programs: machine facts, JSON output, the corpus, databases.

Benchmarks are programs, not tests: each prints one JSON line per figure, with the machine
and the corpus size, so figures can be compared over time (``bench/results/`` is ignored by
git for keeping them).

Run the scripts from the repository root with the project's interpreter, e.g.
``.venv/bin/python bench/ingest.py``.  ``bench/http.py`` shadows the standard library's
``http`` package while its folder is first on ``sys.path``, so every script starts by putting
the repository root there instead (see ``fix_sys_path``) and imports ``bench.common``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text

from dailypapers.storage.engine import make_engine
from dailypapers.storage.migrate import upgrade

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED_DATA = REPO.parent / "shared" / "data"
FEED = SHARED_DATA / "arxiv-daily-feed" / "papers.jsonl.gz"
BACKENDS = ("sqlite", "postgresql")


def fix_sys_path() -> None:
    """Put the repository root (not ``bench/``) first on ``sys.path``; idempotent."""
    sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != BENCH]
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def code_version(checkout: Path = REPO) -> str:
    """The commit benchmarked (``git describe --always --dirty`` of ``checkout``), or the
    package version."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--exclude", "*"],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from dailypapers import __version__

        return __version__


def machine_info() -> dict[str, Any]:
    """CPU model, usable cores, memory and the versions that matter for the figures."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "code": code_version(),
        # Other work on the machine skews the figures; keep the load next to them.
        "load_avg_1m": load_average(),
    }


def load_average() -> float:
    """The 1-minute load average now (compare with ``machine.cores``)."""
    return round(os.getloadavg()[0], 2)


def emit(result: dict[str, Any]) -> None:
    """Print one result as one JSON line on standard output (progress goes to stderr)."""
    sys.stdout.write(orjson.dumps(result, default=str).decode() + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    """A progress line on standard error, so standard output stays pure JSON lines."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load_feed(limit: int | None = None, path: Path | None = None) -> list[dict[str, Any]]:
    """The papers of the shared arXiv daily feed (74,728 rows), as dicts, in file order."""
    path = path or FEED
    if not path.exists():
        raise SystemExit(f"feed not found: {path} (pass --feed PATH)")
    with gzip.open(path, "rb") as handle:
        return [orjson.loads(line) for line in islice(handle, limit) if line.strip()]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--feed`` and ``--database-url``, shared by every benchmark."""
    parser.add_argument(
        "--feed", type=Path, default=FEED, help=f"papers.jsonl.gz of the daily feed ({FEED})"
    )
    parser.add_argument(
        "--database-url",
        help="admin URL of an existing PostgreSQL server to use instead of starting one "
        "(a throwaway database is created on it and dropped afterwards)",
    )


@contextlib.contextmanager
def _postgres_admin(server_url: str | None) -> Iterator[str]:
    if server_url:
        yield server_url
        return
    fix_sys_path()
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    try:
        yield server.url()
    finally:
        server.stop()


@contextlib.contextmanager
def temp_database(backend: str, server_url: str | None = None) -> Iterator[str]:
    """The SQLAlchemy URL of an empty, migrated database; removed afterwards.

    SQLite: a file in a temporary folder.  PostgreSQL: a new database on ``server_url`` (an
    admin URL), or on a throwaway server from ``tests/pgserver.py`` when none is given.
    """
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="dailypapers-bench-"))
        try:
            url = f"sqlite:///{folder / 'bench.sqlite3'}"
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    with _postgres_admin(server_url) as admin_url:
        name = f"dp_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def database_version(url: str) -> str:
    """The server version of the database behind ``url`` (SQLite's library version)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                return str(conn.execute(text("SHOW server_version")).scalar_one())
            return str(conn.execute(text("SELECT sqlite_version()")).scalar_one())
    finally:
        engine.dispose()


def backends(choice: str) -> list[str]:
    """``both`` as the list of backends, anything else as a one-item list."""
    return list(BACKENDS) if choice == "both" else [choice]
