"""Rate limits: fixed-window counters stored in the database, shared by every worker.

A limit reads ``N/unit`` (``5/hour``) or ``off``. ``check`` counts one hit for a key and
raises ``RateLimited`` with the seconds to wait once the window's budget is spent.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dailypapers.storage.engine import write_transaction
from dailypapers.storage.schema import rate_limits

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$")


class RateLimited(Exception):
    """Too many requests; ``retry_after`` is the number of seconds until the window resets."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def parse_rate(value: str) -> tuple[int, int] | None:
    """``"5/hour"`` -> (5, 3600); ``"off"`` -> None; anything else raises ValueError."""
    if value.strip().lower() in ("off", "none", "0", ""):
        return None
    match = RATE.match(value.lower())
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"invalid rate limit {value!r}: use N/second|minute|hour|day or off")
    return int(match.group(1)), UNITS[match.group(2)]


def check(engine: Engine, *, key: str, rate: str, now: dt.datetime | None = None) -> None:
    """Count one hit for ``key``; raise ``RateLimited`` if the budget is already spent."""
    parsed = parse_rate(rate)
    if parsed is None:
        return
    limit, period = parsed
    now = now or dt.datetime.now(dt.UTC)
    key = key[:255]
    with write_transaction(engine) as conn:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            insert(rate_limits)
            .values(key=key, window_start=now, hits=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = conn.execute(
            select(rate_limits.c.window_start, rate_limits.c.hits)
            .where(rate_limits.c.key == key)
            .with_for_update()
        ).one()
        start, hits = row.window_start, row.hits
        if (now - start).total_seconds() >= period:
            start, hits = now, 0
        if hits >= limit:
            raise RateLimited(max(1, math.ceil(period - (now - start).total_seconds())))
        conn.execute(
            update(rate_limits)
            .where(rate_limits.c.key == key)
            .values(window_start=start, hits=hits + 1)
        )


def reset(engine: Engine, *, key: str) -> None:
    """Forget the hits of ``key`` (a successful log-in clears its failed attempts)."""
    with write_transaction(engine) as conn:
        conn.execute(delete(rate_limits).where(rate_limits.c.key == key[:255]))
