"""Ingest-run bookkeeping: reports, checkpoints for resuming, rejected records, site revision."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    cast,
    event,
    func,
    insert,
    select,
    update,
)
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
    values = revisions(conn=conn)
    _publish_on_commit(conn, values)
    return values[0 if key == "revision" else 1]


@dataclass(frozen=True)
class LocalBump:
    """The newest revisions that commits of this process set on one database.

    ``sequence`` grows with every such commit, so a reader can tell that one happened since
    it last looked; ``revisions`` (site, votes) is the highest pair these commits set.
    """

    sequence: int
    revisions: tuple[int, int]


_BUMPS: dict[str, LocalBump] = {}
_BUMPS_LOCK = threading.Lock()
_SEQUENCE = itertools.count(1)


def database_key(*, engine: Engine) -> str:
    """The name under which ``local_bump`` knows ``engine``'s database (its URL, no password)."""
    return engine.url.render_as_string(hide_password=True)


def local_bump(*, database: str) -> LocalBump | None:
    """The latest revision bump committed by this process on ``database`` (None before any).

    A plain dictionary read, cheap enough for every request: web/cache.py reads the database
    again when this changes, so a writer sees its own write at once.
    """
    return _BUMPS.get(database)


def _publish_on_commit(conn: Connection, values: tuple[int, int]) -> None:
    """Record ``values`` as a local bump when ``conn``'s transaction commits; a rollback (of
    the transaction, or of any savepoint after the bump) cancels it."""
    # SQLAlchemy's commit event comes just before the database commits: readers take a bump
    # as a reason to read the revisions again, and trust only what they read.
    database = database_key(engine=conn.engine)
    state = {"open": True}

    def committed(_: Connection) -> None:
        if state["open"]:
            state["open"] = False
            with _BUMPS_LOCK:
                old = _BUMPS.get(database)
                high = (
                    values
                    if old is None
                    else (max(old.revisions[0], values[0]), max(old.revisions[1], values[1]))
                )
                _BUMPS[database] = LocalBump(next(_SEQUENCE), high)

    def cancelled(*_: Any) -> None:
        state["open"] = False

    event.listen(conn, "commit", committed, once=True)
    event.listen(conn, "rollback", cancelled, once=True)
    event.listen(conn, "rollback_savepoint", cancelled, once=True)


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
