"""Stage locks: one run of a stage at a time across processes and nodes (the database's own locks).

``stage_lock(engine, name, wait=...)`` holds a lock for the duration of a ``with`` block:

- PostgreSQL: a session advisory lock (``pg_advisory_lock`` / ``pg_try_advisory_lock`` on a
  64-bit hash of the name), held on a dedicated connection in autocommit mode, so no
  transaction stays open while a long stage runs.
- SQLite: an exclusive ``flock`` on a small file next to the database file (``<db>.<name>.lock``),
  the same file system object every process that opens the database sees.

Both are released by the server or the kernel when the holder's connection or process dies, so
a crashed or killed run never leaves a stale lock behind. ``wait=False`` raises
``AlreadyRunning`` at once when another run holds the lock; ``wait=True`` queues behind it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

_MEMORY_LOCKS: dict[tuple[int, str], threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


class AlreadyRunning(Exception):
    """Another run of the same stage holds its lock; the message is one line for the operator."""


def _digest(name: str) -> bytes:
    return hashlib.blake2b(f"dailypapers:{name}".encode(), digest_size=8).digest()


def advisory_key(name: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key of a stage name."""
    return int.from_bytes(_digest(name), "big", signed=True)


def lock_file(database: str, name: str) -> Path:
    """The lock file of stage ``name`` next to the SQLite database file ``database``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "stage"
    return Path(f"{database}.{slug}-{_digest(name).hex()[:12]}.lock")


def _message(name: str, holder: str = "") -> str:
    who = f" (process {holder})" if holder else ""
    return f"another {name} is already running{who}; try again when it has finished"


@contextmanager
def stage_lock(
    engine: Engine, name: str, *, wait: bool, label: str | None = None
) -> Iterator[None]:
    """Hold the lock of stage ``name``; wait for it, or raise ``AlreadyRunning`` if taken.

    ``label`` names the stage in the ``AlreadyRunning`` message (default: ``name``).
    """
    label = label or name
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name, label, wait=wait):
            yield
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        with _memory_lock(engine, name, label, wait=wait):
            yield
        return
    with _file_lock(lock_file(database, name), label, wait=wait):
        yield


@contextmanager
def _advisory_lock(engine: Engine, name: str, label: str, *, wait: bool) -> Iterator[None]:
    key = advisory_key(name)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if wait:
            conn.execute(select(func.pg_advisory_lock(key)))
        elif not conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one():
            raise AlreadyRunning(_message(label))
        try:
            yield
        finally:
            try:
                conn.execute(select(func.pg_advisory_unlock(key)))
            except SQLAlchemyError:  # the connection died: the server released the lock
                conn.invalidate()


@contextmanager
def _file_lock(path: Path, name: str, *, wait: bool) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").split(" ", 1)[0]
            raise AlreadyRunning(_message(name, holder.strip())) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {name}\n".encode(), 0)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _memory_lock(engine: Engine, name: str, label: str, *, wait: bool) -> Iterator[None]:
    # An in-memory database lives in one process: a thread lock per engine and name suffices.
    with _MEMORY_GUARD:
        lock = _MEMORY_LOCKS.setdefault((id(engine), name), threading.Lock())
    if not lock.acquire(blocking=wait):
        raise AlreadyRunning(_message(label))
    try:
        yield
    finally:
        lock.release()
