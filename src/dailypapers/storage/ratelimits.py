"""Rate-limit counters: one fixed window per key, shared by every worker through the database."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Connection, delete, select, update

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.schema import rate_limits

# The longest window a limit can have (``N/day``): older counters can never matter again.
LONGEST_PERIOD = 86_400


def hit(*, conn: Connection, key: str, limit: int, period: int, now: dt.datetime) -> int | None:
    """Count one hit for ``key`` in its current window of ``period`` seconds; None when it is
    within ``limit``, else the seconds until the window resets (nothing is counted then).

    Run it in a write transaction: the row is locked from the first statement on.
    """
    created = conn.execute(
        upsert_insert(conn, rate_limits)
        .values(key=key, window_start=now, hits=0)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(rate_limits.c.key)
    ).first()
    if created is not None:
        # A new client or action: drop the counters whose window ended long ago, so the
        # table holds only the clients of the last day.
        conn.execute(
            delete(rate_limits).where(
                rate_limits.c.window_start < now - dt.timedelta(seconds=LONGEST_PERIOD),
                rate_limits.c.key != key,
            )
        )
    row = conn.execute(
        select(rate_limits.c.window_start, rate_limits.c.hits)
        .where(rate_limits.c.key == key)
        .with_for_update()
    ).one()
    start: dt.datetime = row.window_start
    hits: int = row.hits
    if (now - start).total_seconds() >= period:
        start, hits = now, 0
    if hits >= limit:
        return max(1, math.ceil(period - (now - start).total_seconds()))
    conn.execute(
        update(rate_limits)
        .where(rate_limits.c.key == key)
        .values(window_start=start, hits=hits + 1)
    )
    return None
