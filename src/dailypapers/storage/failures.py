"""What a database or file-system failure means for a caller: a full disk, or a database that
is not answering (both are temporary, so web answers are 503, not 500)."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13
# PostgreSQL's disk_full SQLSTATE ("could not extend file ...: No space left on device").
PG_DISK_FULL = "53100"
FULL_TEXTS = ("database or disk is full", "no space left on device", "disk quota exceeded")
# SQLAlchemy's wrappers for a database that failed to do its work (not a refused value).
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen or len(seen) > 10:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it wraps) says the disk or the database is full."""
    for error in _chain(exc):
        if isinstance(error, OSError) and error.errno in FULL_ERRNOS:
            return True
        if isinstance(error, sqlite3.Error) and (
            getattr(error, "sqlite_errorcode", None) == SQLITE_FULL
        ):
            return True
        if getattr(error, "sqlstate", None) == PG_DISK_FULL:
            return True
        if isinstance(error, sa_exc.DBAPIError | sqlite3.Error) and any(
            text in str(error).lower() for text in FULL_TEXTS
        ):
            return True
    return False


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not do its work now (down, locked, full,
    out of connections), as opposed to refusing a value."""
    return isinstance(exc, UNAVAILABLE) or storage_full(exc)
