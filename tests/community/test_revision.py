"""The site and vote revisions: atomic increments, even for the very first writes at once."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from dailypapers.storage import runs
from dailypapers.storage.engine import write_transaction


def test_concurrent_first_bumps_count_every_one(engine: Engine) -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            barrier.wait()
            with write_transaction(engine) as conn:
                runs.bump_revision(conn=conn, key="votes")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with engine.connect() as conn:
        assert runs.revisions(conn=conn) == (0, 8)
