"""A runner's lease on a role (``index``, ``jobs``), held through a row in the database.

The holder renews it every third of its length; a runner that crashes stops renewing and
another one takes over once it expires. The clock is a parameter so tests can move it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable

from sqlalchemy import Engine

from dailypapers.storage import leases
from dailypapers.storage.engine import write_transaction

log = logging.getLogger("dailypapers.jobs")
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


def holder_name() -> str:
    """This process, recognisably: ``host:pid:random``."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """Lease ``name`` for this process: ``hold`` takes or renews it, ``release`` gives it up."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        seconds: float,
        holder: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.name = name
        self.seconds = seconds
        self.holder = holder or holder_name()
        self.clock = clock
        self.held = False

    def hold(self) -> bool:
        """Take the lease if it is free or expired, renew it if ours; whether we hold it."""
        with write_transaction(self.engine) as conn:
            held = leases.acquire(
                conn=conn,
                name=self.name,
                holder=self.holder,
                now=self.clock(),
                seconds=self.seconds,
            )
        if held != self.held:
            log.info(
                "%s the %s lease", "took" if held else "lost", self.name, extra={"job": self.name}
            )
        self.held = held
        return held

    def release(self) -> None:
        """Give the lease up (another runner may take it at once)."""
        with write_transaction(self.engine) as conn:
            leases.release(conn=conn, name=self.name, holder=self.holder)
        self.held = False
