"""Two writers of the same new paper at once (a submission beside an ingest) never collide.

Replays the race found in review: on PostgreSQL both transactions read "not stored yet" and
both inserted, so the second failed with a unique violation (a 500 for a submission, a wrongly
rejected record for an ingest). Paper upserts are now serialised by the database's lock.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, func, select

from dailypapers.ingest.normalize import normalize
from dailypapers.storage import papers
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.schema import papers as papers_table
from tests.core.helpers import raw


def test_two_transactions_upserting_one_new_paper_both_succeed(engine: Engine) -> None:
    paper = normalize(raw("2606.00042"))
    first_has_written = threading.Event()
    release_first = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        with write_transaction(engine) as conn:
            results["first"] = papers.upsert_papers(conn=conn, batch=[paper])
            first_has_written.set()
            release_first.wait(timeout=60)

    def second() -> None:
        first_has_written.wait(timeout=60)
        try:
            with write_transaction(engine) as conn:
                results["second"] = papers.upsert_papers(conn=conn, batch=[paper])
        except Exception as exc:  # the failure this test guards against
            results["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    # Let the second writer reach the database while the first still holds its transaction;
    # whichever way the scheduler runs it, the first commits only after this point.
    first_has_written.wait(timeout=60)
    threads[1].join(timeout=0.5)
    release_first.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not isinstance(results["second"], Exception), results["second"]
    assert results["first"].new == ["2606.00042"]  # type: ignore[attr-defined]
    assert results["second"].unchanged == ["2606.00042"]  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(papers_table)).scalar_one() == 1
