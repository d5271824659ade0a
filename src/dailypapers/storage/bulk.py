"""Fast bulk inserts: COPY on PostgreSQL (one round trip instead of one INSERT per row),
``executemany`` on SQLite (already a single prepared statement)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dailypapers.storage.schema import UTCDateTime


def _copy_value(value: Any, column_type: Any) -> Any:
    if value is None:
        return None
    if isinstance(column_type, JSON):
        return orjson.dumps(value).decode()
    if isinstance(column_type, UTCDateTime) and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def upsert_insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` for this backend
    (SQLite and PostgreSQL spell them alike, through their own dialect's construct)."""
    if conn.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def insert_rows(*, conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    types = [table.c[name].type for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([_copy_value(row[n], t) for n, t in zip(names, types, strict=True)])
