"""Leases: one holder of a named role at a time across processes and nodes, that survives a
crash (a holder that stops renewing loses the lease when it expires).

``acquire`` is one atomic statement on both backends: insert the row if there is none, else
take it over when it is ours already (a renewal) or expired. Times come from the caller, so
tests can move the clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.schema import leases


def acquire(*, conn: Connection, name: str, holder: str, now: dt.datetime, seconds: float) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now + seconds``; whether it is held."""
    expires = now + dt.timedelta(seconds=seconds)
    inserted = conn.execute(
        upsert_insert(conn, leases)
        .values(name=name, holder=holder, acquired_at=now, expires_at=expires)
        .on_conflict_do_nothing(index_elements=[leases.c.name])
    )
    if inserted.rowcount == 1:
        return True
    renewed = conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(expires_at=expires)
    )
    if renewed.rowcount == 1:
        return True
    taken = conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.expires_at < now)
        .values(holder=holder, acquired_at=now, expires_at=expires)
    )
    return taken.rowcount == 1


def release(*, conn: Connection, name: str, holder: str) -> None:
    """Give lease ``name`` up (only when ``holder`` holds it)."""
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))


def holder_of(*, conn: Connection, name: str) -> RowMapping | None:
    """The lease row (holder, acquired_at, expires_at), or None when nobody ever held it."""
    return conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
