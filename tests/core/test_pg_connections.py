"""Pooled PostgreSQL connections: handed out without a round trip, and replaced when the
server has closed them (a restart, ``pg_terminate_backend``, an idle timeout), so the next
request answers instead of failing (storage/engine.py ``_discard_if_closed``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app
from tests.conftest import BACKENDS, pg_database

pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="PostgreSQL is not among the test backends"
)


@pytest.fixture
def pg_url(pg_server: str, pg_template: str) -> Iterator[str]:
    with pg_database(pg_server, "dp_conns", pg_template) as url:
        yield url


def _backends(admin: Engine, database: str) -> set[int]:
    with admin.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        )
        return {int(pid) for (pid,) in rows}


def _terminate_all(admin: Engine, database: str) -> set[int]:
    """End every session of ``database`` as a restarting server would, and wait until they
    are gone (readiness, not a sleep)."""
    ended = _backends(admin, database)
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        )
    while _backends(admin, database) & ended:
        threading.Event().wait(0.01)
    return ended


def _hold(engine: Engine, count: int) -> set[int]:
    """Open ``count`` pooled connections at once, return them to the pool; their pids."""
    conns = [engine.connect() for _ in range(count)]
    try:
        return {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in conns}
    finally:
        for conn in conns:
            conn.close()


def test_a_checkout_sends_nothing_to_the_server(pg_url: str, pg_server: str) -> None:
    """The pool hands out an idle connection without pinging it: the statement the server
    saw last on that session is still the one the previous user ran."""
    engine = make_engine(pg_url)
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            pid = conn.execute(text("SELECT pg_backend_pid() /* marker */")).scalar_one()
        for _ in range(3):
            with engine.connect() as conn:
                pass
        with admin.connect() as conn:
            last = conn.execute(
                text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
        assert "marker" in last
    finally:
        engine.dispose()
        admin.dispose()


def test_connections_the_server_closed_are_replaced_on_checkout(
    pg_url: str, pg_server: str
) -> None:
    engine = make_engine(pg_url)
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    database = pg_url.rsplit("/", 1)[1]
    try:
        before = _hold(engine, 4)
        assert len(before) == 4
        assert _terminate_all(admin, database) >= before
        # Every pooled connection is dead; each checkout finds out and opens a new one.
        for _ in range(6):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM papers")).scalar_one() == 0
        after = _hold(engine, 4)
        assert not after & before
    finally:
        engine.dispose()
        admin.dispose()


def test_requests_answer_after_the_server_ended_every_session(
    pg_url: str, pg_server: str, tmp_path: Path
) -> None:
    """Through HTTP: pages, the API and a feed all answer 200 right after every pooled
    connection was ended by the server (no 500 for the first request on each)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        arxiv_request_interval=0,
        index_follow_seconds=0,
    )
    engine = make_engine(pg_url)
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    database = pg_url.rsplit("/", 1)[1]
    try:
        with TestClient(create_app(settings, engine)) as client:
            paths = ["/", "/api/daily_papers", "/search", "/feeds/daily.rss", "/trending"]
            for path in paths:
                assert client.get(path).status_code == 200, path
            _hold(engine, 4)
            _terminate_all(admin, database)
            for _ in range(3):
                for path in paths:
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.text[:300])
    finally:
        engine.dispose()
        admin.dispose()
