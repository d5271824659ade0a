"""Ingest-run bookkeeping: reports, checkpoints for resuming, rejected records, site revision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, String, cast, func, insert, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.bulk import upsert_insert
from dailypapers.storage.schema import ingest_rejects, ingest_runs, site_meta

MAX_REJECTS_STORED = 1000
# PEP 249 names, for errors SQLAlchemy wraps and for those a driver raises directly (COPY).
_REFUSALS = frozenset({"DataError", "IntegrityError"})


def refused_data(exc: BaseException) -> bool:
    """Whether ``exc`` says the database refused a value or a constraint (not that it failed)."""
    return any(kind.__name__ in _REFUSALS for kind in type(exc).__mro__)


def find_resumable(*, conn: Connection, source: str, params: str) -> RowMapping | None:
    """The latest unfinished run of the same source and parameters, if any."""
    return (
        conn.execute(
            select(ingest_runs)
            .where(
                ingest_runs.c.source == source,
                ingest_runs.c.params == params,
                ingest_runs.c.status.in_(("running", "failed")),
            )
            .order_by(ingest_runs.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def start_run(*, conn: Connection, source: str, params: str, resumed: RowMapping | None) -> int:
    """Record a new run; a resumed run starts from the old run's checkpoint and counts."""
    values: dict[str, Any] = {
        "source": source,
        "params": params,
        "status": "running",
        "started_at": dt.datetime.now(dt.UTC),
    }
    if resumed is not None:
        values.update(
            resumed_from=resumed["id"],
            checkpoint=resumed["checkpoint"],
            new=resumed["new"],
            updated=resumed["updated"],
            unchanged=resumed["unchanged"],
            rejected=resumed["rejected"],
            featured=resumed["featured"],
        )
        conn.execute(
            update(ingest_runs).where(ingest_runs.c.id == resumed["id"]).values(status="resumed")
        )
    key = conn.execute(insert(ingest_runs).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def save_progress(
    *,
    conn: Connection,
    run_id: int,
    checkpoint: str | None,
    counts: dict[str, int],
    rejects: Sequence[tuple[str, str]],
) -> None:
    """Store the counts and checkpoint after a batch (same transaction as the batch's data)."""
    conn.execute(
        update(ingest_runs)
        .where(ingest_runs.c.id == run_id)
        .values(checkpoint=checkpoint, **counts)
    )
    stored = conn.execute(
        select(func.count()).select_from(ingest_rejects).where(ingest_rejects.c.run_id == run_id)
    ).scalar_one()
    room = max(0, MAX_REJECTS_STORED - int(stored))
    if rejects and room:
        conn.execute(
            insert(ingest_rejects),
            [{"run_id": run_id, "ref": ref, "reason": reason} for ref, reason in rejects[:room]],
        )


def finish_run(*, conn: Connection, run_id: int, status: str, error: str | None = None) -> None:
    """Mark a run done or failed."""
    conn.execute(
        update(ingest_runs)
        .where(ingest_runs.c.id == run_id)
        .values(status=status, error=error, finished_at=dt.datetime.now(dt.UTC))
    )


def get_run(*, conn: Connection, run_id: int) -> RowMapping:
    """One run by id."""
    return conn.execute(select(ingest_runs).where(ingest_runs.c.id == run_id)).mappings().one()


def list_runs(*, conn: Connection, limit: int = 20) -> list[RowMapping]:
    """The latest runs, newest first."""
    query = select(ingest_runs).order_by(ingest_runs.c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def bump_revision(*, conn: Connection, key: str = "revision") -> int:
    """Increase the site revision (pages cached under an older revision are rebuilt).

    ``key="votes"`` bumps the separate vote revision instead (see ``web/cache.py``). One
    atomic UPDATE, so concurrent writers (two upvotes at once) never lose an increment and a
    SQLite transaction never has to upgrade a read lock to a write lock.
    """
    # An upsert: two first votes at once must not both try to insert the row.
    statement = upsert_insert(conn, site_meta).values(key=key, value="1")
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[site_meta.c.key],
            set_={"value": cast(cast(site_meta.c.value, Integer) + 1, String)},
        )
    )
    return revisions(conn=conn)[0 if key == "revision" else 1]


def revisions(*, conn: Connection) -> tuple[int, int]:
    """The site revision and the vote revision, in one query (0 for a fresh database)."""
    rows = conn.execute(
        select(site_meta.c.key, site_meta.c.value).where(site_meta.c.key.in_(("revision", "votes")))
    )
    found = {key: int(value) for key, value in rows}
    return found.get("revision", 0), found.get("votes", 0)


def revision(*, conn: Connection) -> int:
    """The current site revision (0 for a fresh database)."""
    return revisions(conn=conn)[0]
