"""Importing an uploaded library in the background, with progress a page can show.

``start_import`` stores the upload (in the database, so any node's worker can run it) and
returns at once; ``run_import`` (run by
``ImportWorker``'s one background thread, or called directly) parses it, matches it in
batches of ``BATCH`` references, and after each batch commits the entries and the progress
(``processed`` of ``total``), so a 10,000-reference file never blocks a page and the progress
page shows it moving. Matched papers go to a new private list named after the file. The
upload is kept until the import is done. Any failure ends the import as ``failed`` with a
message. A worker claims an import atomically (queued -> running), and every batch commits
its entries with the progress and touches the import, so an import queued or stopped midway
on a server that went away (nothing moved for a while) can be handed to another worker (the
progress page does): it parses the upload again, keeps the list it was filling and goes on
after the last committed batch, so every reference is stored once.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from dailypapers.library.match import TitleIndex, match
from dailypapers.library.parse import LibraryError, parse
from dailypapers.storage import library, lists
from dailypapers.storage.engine import write_transaction

log = logging.getLogger("dailypapers.library")
BATCH = 500
MAX_ACTIVE = 2  # imports of one user queued or running at a time


def list_token() -> str:
    """A new list's address: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def free_list_name(*, conn: object, user_id: int, wanted: str) -> str:
    """``wanted``, or ``wanted (2)``, ``(3)``... the first name the user has no list under."""
    name, number = wanted[:180], 1
    while lists.list_named(conn=conn, user_id=user_id, name=name) is not None:  # type: ignore[arg-type]
        number += 1
        name = f"{wanted[:180]} ({number})"
    return name


def start_import(engine: Engine, *, user_id: int, filename: str, payload: bytes) -> int:
    """Store an upload as a queued import; returns its id."""
    with write_transaction(engine) as conn:
        return library.create_import(
            conn=conn, user_id=user_id, filename=filename[:255] or "library", payload=payload
        )


def run_import(
    engine: Engine,
    import_id: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    stale_before: dt.datetime | None = None,
) -> None:
    """Parse, match and store one import; ``progress(processed, total)`` after each batch.
    With ``stale_before``, also take over the import if it is running but has not moved
    since then (and go on from its last batch)."""
    try:
        _run(engine, import_id, progress, stale_before)
    except LibraryError as exc:
        _fail(engine, import_id, str(exc))
    except Exception:
        log.exception("library import %s failed", import_id)
        _fail(engine, import_id, "The import stopped on an internal error; try again later.")


def _fail(engine: Engine, import_id: int, message: str) -> None:
    with write_transaction(engine) as conn:
        library.update_import(
            conn=conn,
            import_id=import_id,
            status="failed",
            error=message,
            payload=None,
            finished_at=dt.datetime.now(dt.UTC),
        )


def _run(
    engine: Engine,
    import_id: int,
    progress: Callable[[int, int], None] | None,
    stale_before: dt.datetime | None,
) -> None:
    with write_transaction(engine) as conn:
        if not library.claim_import(conn=conn, import_id=import_id, stale_before=stale_before):
            return  # done, failed, or another worker's
        row = library.get_import(conn=conn, import_id=import_id)
        payload = library.import_payload(conn=conn, import_id=import_id)
    if row is None or payload is None:
        raise LibraryError("The uploaded file is gone; upload it again.")
    parsed = parse(payload)
    references = parsed.references
    user_id = row["user_id"]
    list_id, done, matched = row["list_id"], int(row["processed"] or 0), int(row["matched"] or 0)
    if list_id is None:  # a first run (a resumed one goes on with its list and counts)
        done = matched = 0
        with write_transaction(engine) as conn:
            wanted = f"Imported: {row['filename']}"
            name = free_list_name(conn=conn, user_id=user_id, wanted=wanted)
            list_id = lists.create_list(
                conn=conn, user_id=user_id, name=name, token=list_token(), visibility="private"
            )
            library.update_import(
                conn=conn,
                import_id=import_id,
                format=parsed.format,
                total=len(references),
                list_id=list_id,
                error="; ".join(parsed.skipped[:5])[:2000] or None,
            )
    titles: TitleIndex | None = None
    for start in range(done, len(references), BATCH):
        batch = references[start : start + BATCH]
        with engine.connect() as conn:
            if titles is None and any(r.title for r in batch):
                titles = TitleIndex(conn)
            found = match(conn=conn, references=batch, titles=titles)
        rows = [
            {
                "import_id": import_id,
                "user_id": user_id,
                "position": start + offset,
                "kind": ref.kind,
                "cite_key": ref.key or None,
                "title": ref.title,
                "abstract": ref.abstract,
                "authors": ref.authors,
                "year": ref.year,
                "doi": ref.doi,
                "arxiv_id": ref.arxiv_id,
                "paper_id": paper_id,
                "matched_by": how,
            }
            for offset, (ref, (paper_id, how)) in enumerate(zip(batch, found, strict=True))
        ]
        matched += sum(1 for paper_id, _ in found if paper_id)
        with write_transaction(engine) as conn:
            library.add_entries(conn=conn, rows=rows)
            lists.save_papers(conn=conn, list_id=list_id, paper_ids=[p for p, _ in found if p])
            library.update_import(
                conn=conn, import_id=import_id, processed=start + len(batch), matched=matched
            )
        if progress is not None:
            progress(start + len(batch), len(references))
    with write_transaction(engine) as conn:
        library.update_import(
            conn=conn,
            import_id=import_id,
            status="done",
            payload=None,
            finished_at=dt.datetime.now(dt.UTC),
        )


class ImportWorker:
    """One background thread per process that runs imports one after another."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, import_id: int, stale_before: dt.datetime | None = None) -> None:
        """Run ``import_id`` in the background (``stale_before``: see ``run_import``)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="library-import")
            self._pool.submit(run_import, self.engine, import_id, stale_before=stale_before)

    def shutdown(self) -> None:
        """Wait for the running import and stop the thread."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
