"""Counts for the Prometheus ``/metrics`` page read from the database: ingest runs and digest
deliveries, the same numbers whichever process or node did the work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from dailypapers.storage.schema import digest_deliveries, ingest_runs, job_locks


@dataclass(frozen=True, slots=True)
class RunCount:
    """Ingest runs of one source that ended in one status, and when the latest one finished."""

    source: str
    status: str
    runs: int
    last_finished: dt.datetime | None


def ingest_run_counts(*, conn: Connection) -> list[RunCount]:
    """Ingest runs by source and status (one query)."""
    rows = conn.execute(
        select(
            ingest_runs.c.source,
            ingest_runs.c.status,
            func.count().label("runs"),
            func.max(ingest_runs.c.finished_at).label("last_finished"),
        )
        .group_by(ingest_runs.c.source, ingest_runs.c.status)
        .order_by(ingest_runs.c.source, ingest_runs.c.status)
    ).all()
    return [RunCount(r.source, r.status, int(r.runs), r.last_finished) for r in rows]


def delivery_counts(*, conn: Connection) -> dict[tuple[str, str], int]:
    """Digest deliveries by period (daily, weekly) and status (sending, sent, failed)."""
    period = case((digest_deliveries.c.period_key.like("weekly:%"), "weekly"), else_="daily")
    rows = conn.execute(
        select(
            period.label("period"), digest_deliveries.c.status, func.count().label("n")
        ).group_by(period, digest_deliveries.c.status)
    ).all()
    return {(str(r.period), str(r.status)): int(r.n) for r in rows}


def last_day_runs(*, conn: Connection) -> dict[str, dt.datetime]:
    """When the latest finished day of each scheduler ended: ``jobs`` (the job runner) and
    ``schedule`` (the digest schedule inside ``serve``)."""
    found: dict[str, dt.datetime] = {}
    for kind in ("jobs", "schedule"):
        last = conn.execute(
            select(func.max(job_locks.c.finished_at)).where(job_locks.c.key.like(f"{kind}:%"))
        ).scalar_one()
        if last is not None:
            found[kind] = last
    return found
