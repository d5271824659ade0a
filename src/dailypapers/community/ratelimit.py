"""Rate limits: fixed-window counters stored in the database, shared by every worker.

A limit reads ``N/unit`` (``5/hour``) or ``off``. ``check`` counts one hit for a key and
raises ``RateLimited`` with the seconds to wait once the window's budget is spent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from sqlalchemy import Engine

from dailypapers.storage import ratelimits
from dailypapers.storage.engine import write_transaction

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
    with write_transaction(engine) as conn:
        wait = ratelimits.hit(
            conn=conn, key=key[:255], limit=limit, period=period, now=now or dt.datetime.now(dt.UTC)
        )
    if wait is not None:
        raise RateLimited(wait)


def recipient_check(engine: Engine, rate: str) -> Callable[[str], bool]:
    """``allow(address)`` for mail sent on request: False once ``address`` has had ``rate``
    messages, whoever asked for them and from wherever (keyed on the recipient, not the
    client), so rotating client addresses cannot flood one inbox."""

    def allow(address: str) -> bool:
        try:
            check(engine, key=f"mail-to:{address.strip().lower()}", rate=rate)
        except RateLimited:
            return False
        return True

    return allow
