"""Engines for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import functools
import select
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

from dailypapers.settings import Settings

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
    # Pages are read (pread) into a 4 MiB cache per connection, not memory-mapped: each of
    # a process's pooled connections mapped the database on its own, and a web worker counted
    # the same file pages once per connection (1.3 GiB resident at 75k papers, issue 10);
    # the operating system's page cache still holds the file once for every process.
    "PRAGMA cache_size=-4096",
    "PRAGMA mmap_size=0",
    "PRAGMA temp_store=MEMORY",
)


def _configure_sqlite(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy manage transactions (BEGIN is emitted in ``_begin``).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    # Readers use plain BEGIN (deferred): WAL readers never block. A transaction that will
    # write after reading asks for ``write_transaction`` and gets BEGIN IMMEDIATE, so it waits
    # for the write lock up front (busy_timeout) instead of failing to upgrade a read lock.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@functools.cache
def _nul_free_dumpers() -> tuple[type, type]:
    from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

    class NulFreeText(StrDumperUnknown):
        def dump(self, obj: str) -> Any:
            return super().dump(obj.replace("\x00", ""))

    class NulFreeBinary(StrBinaryDumper):
        def dump(self, obj: str) -> Any:
            return super().dump(obj.replace("\x00", ""))

    # Text last: the last registered dumper answers ``%s`` (AUTO), and strings must go as
    # "unknown" text so PostgreSQL casts them (pgvector's '[...]' literals into ``vector``).
    return NulFreeBinary, NulFreeText


def _drop_nul_strings(dbapi_conn: Any, _record: Any) -> None:
    # PostgreSQL text cannot hold NUL, and psycopg raises DataError on one: a NUL typed into
    # any form, query or path would be a 500. No text here has a use for NUL, so the driver
    # drops it from every string it sends (the value "a<NUL>b" is stored and looked up as "ab").
    for dumper in _nul_free_dumpers():
        dbapi_conn.adapters.register_dumper(str, dumper)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the per-backend settings dailypapers relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=8,
            # The connection used last is handed out next: at low concurrency one or two
            # connections serve everything, with a warm page cache, instead of all eight in
            # turn each filling its own 4 MiB (SQLITE_PRAGMAS).
            pool_use_lifo=True,
            connect_args={"check_same_thread": False, "timeout": 10},
            **kwargs,
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    psycopg = parsed.get_backend_name() == "postgresql" and parsed.get_dialect().driver == "psycopg"
    engine = create_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        pool_size=8,
        max_overflow=8,
        # psycopg's connections are checked without a round trip (``_discard_if_closed``);
        # other drivers are pinged.
        pool_pre_ping=not psycopg,
        **kwargs,
    )
    if psycopg:
        event.listen(engine, "connect", _drop_nul_strings)
        event.listen(engine, "checkout", _discard_if_closed)
    return engine


def _discard_if_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Hand out a pooled PostgreSQL connection only if it still looks open.

    A server that restarts, or ends a session (``pg_terminate_backend``, an idle timeout),
    says so on the socket and closes it: an idle connection then has something to read.
    Checking that takes one ``poll`` with no wait, where a ping (``pool_pre_ping``) took a
    round trip to the server on every checkout (a checkout, one query and return took 400
    us with it, 250-300 without). A connection with anything to read, or closed, or not
    idle, is discarded and the pool hands out a new one (SQLAlchemy's documented answer to
    ``DisconnectionError`` raised in a ``checkout`` listener). A server that vanished
    without a word is found when a statement fails, as it was by a ping, which would have
    waited as long.
    """
    try:
        pgconn = dbapi_conn.pgconn
        usable = (
            not dbapi_conn.closed
            and not dbapi_conn.broken
            and pgconn.status == 0  # CONNECTION_OK
            and pgconn.transaction_status == 0  # PQTRANS_IDLE
        )
        if usable:
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
            usable = not poller.poll(0)
    except Exception as exc:  # any doubt about the connection discards it
        raise DisconnectionError(f"pooled connection unusable: {exc!r}") from exc
    if not usable:
        raise DisconnectionError("the server closed or wrote to an idle pooled connection")


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that reads then writes, committed on success.

    On SQLite it takes the write lock at BEGIN (see ``_begin_immediate``); on PostgreSQL it is
    an ordinary transaction.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    # One writer per process at a time: threads queue on a lock instead of sleeping in
    # SQLite's busy handler (whose back-off grows to 100 ms and dominated p99 under load).
    with _WRITE_LOCKS.setdefault(engine, threading.Lock()), engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            yield conn


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def engine_from_settings(settings: Settings) -> Engine:
    """The engine for the configured database (SQLite in the data directory by default)."""
    return make_engine(settings.effective_database_url)


def is_postgres(engine: Engine) -> bool:
    """Whether this engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"
