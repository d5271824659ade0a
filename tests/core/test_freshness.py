"""The cheap request path: cached pages and the site revision held in the process
(web/cache.py ``Freshness``), route labels on cache hits, one access line per request,
endpoint reads without transactions on PostgreSQL (web/deps.py ``connect``).

A worker reads the revisions at most every ``cache_freshness`` seconds; a write committed by
this process shows at once, a write by another process within the interval. Time is moved
with an injected clock, never slept.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.logs import configure_logging
from dailypapers.settings import Settings
from dailypapers.storage import runs
from dailypapers.storage.engine import write_transaction
from dailypapers.storage.schema import papers
from dailypapers.web import observability
from dailypapers.web.app import create_app
from dailypapers.web.cache import Freshness
from dailypapers.web.deps import connect
from tests.conftest import run_async
from tests.core.helpers import raw

PAPER = "2606.00001"
# Another process: retitles the paper and bumps the site revision, as an ingest would.
RETITLE = """
import sys
from sqlalchemy import update
from dailypapers.storage import runs
from dailypapers.storage.engine import make_engine, write_transaction
from dailypapers.storage.schema import papers
engine = make_engine(sys.argv[1])
with write_transaction(engine) as conn:
    conn.execute(update(papers).where(papers.c.id == sys.argv[2]).values(title=sys.argv[3]))
    runs.bump_revision(conn=conn)
engine.dispose()
"""


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def paper(engine: Engine) -> str:
    """One stored paper."""
    run_ingest(engine=engine, source="t", params={}, records=lambda _: [raw(PAPER)])
    return PAPER


def _title(client: TestClient, paper: str) -> str:
    response = client.get(f"/api/papers/{paper}")
    assert response.status_code == 200
    title: str = response.json()["title"]
    return title


def test_a_write_in_this_process_shows_at_once(
    settings: Settings, engine: Engine, paper: str
) -> None:
    app = create_app(settings, engine)
    app.state.freshness.clock = Clock()  # never moves: only the local bump can refresh
    with TestClient(app) as client:
        assert _title(client, paper) == f"Paper {paper}"
        # Another engine object of this process, as the CLI or a job would use.
        with write_transaction(engine) as conn:
            conn.execute(update(papers).where(papers.c.id == paper).values(title="Retitled"))
            runs.bump_revision(conn=conn)
        assert _title(client, paper) == "Retitled"


def test_a_write_by_another_process_shows_after_the_interval(
    settings: Settings, engine: Engine, paper: str
) -> None:
    app = create_app(settings, engine)
    clock = app.state.freshness.clock = Clock()
    with TestClient(app) as client:
        bucket = int(time.time() // 600)  # cached pages also move every ten minutes
        assert _title(client, paper) == f"Paper {paper}"
        command = [sys.executable, "-c", RETITLE, settings.database_url, paper, "Elsewhere"]
        subprocess.run(command, check=True, timeout=120)
        stale = _title(client, paper)
        if bucket == int(time.time() // 600):
            assert stale == f"Paper {paper}"  # within the interval: the page held
        clock.now += settings.cache_freshness
        assert _title(client, paper) == "Elsewhere"


def test_cached_pages_read_the_revision_once_per_interval(
    settings: Settings, engine: Engine, paper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings, engine)
    freshness: Freshness = app.state.freshness
    clock = freshness.clock = Clock()
    reads: list[float] = []
    select = freshness._select
    monkeypatch.setattr(freshness, "_select", lambda: reads.append(clock()) or select())
    with TestClient(app) as client:
        for _ in range(20):
            assert client.get("/api/daily_papers").status_code == 200
        assert len(reads) == 1
        clock.now += settings.cache_freshness
        for _ in range(5):
            assert client.get("/api/daily_papers").status_code == 200
        assert len(reads) == 2


def test_a_bump_the_database_never_shows_stops_forcing_reads(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A commit that failed after SQLAlchemy's commit event leaves a bump the database never
    # shows: reads are forced for one interval, then the held pair serves again.
    clock = Clock()
    freshness = Freshness(engine, interval=1.0, clock=clock)
    reads: list[float] = []
    select = freshness._select
    monkeypatch.setattr(freshness, "_select", lambda: reads.append(clock()) or select())
    database = runs.database_key(engine=engine)
    phantom = runs.LocalBump(sequence=10**9, revisions=(10**6, 0))

    async def look(times: int) -> tuple[int, int]:
        values = [await freshness.revisions() for _ in range(times)]
        return values[-1]

    assert run_async(look(3)) == (0, 0) and len(reads) == 1
    monkeypatch.setattr(runs, "_BUMPS", {database: phantom})
    assert run_async(look(3)) == (0, 0) and len(reads) == 4  # every look reads
    clock.now += 1.0
    assert run_async(look(3)) == (0, 0) and len(reads) == 5  # settled: held again


def test_a_rolled_back_bump_is_not_published(engine: Engine) -> None:
    database = runs.database_key(engine=engine)
    before = runs.local_bump(database=database)
    with engine.connect() as conn, conn.begin() as transaction:
        runs.bump_revision(conn=conn)
        transaction.rollback()
    assert runs.local_bump(database=database) == before
    with write_transaction(engine) as conn:
        runs.bump_revision(conn=conn)
    bump = runs.local_bump(database=database)
    assert bump is not None and bump != before and bump.revisions[0] >= 1


def test_endpoint_reads_open_no_transaction_and_writes_keep_theirs(engine: Engine) -> None:
    """On PostgreSQL an endpoint's reads run in autocommit (no BEGIN and ROLLBACK round
    trips); the pooled connection goes back with its transactions, so a failed write on it
    later still leaves nothing behind."""
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(engine=engine)))
    with engine.connect() as conn:
        before = runs.revision(conn=conn)
    with connect(request) as conn:
        assert runs.revision(conn=conn) == before
        used = conn.connection.dbapi_connection
        if engine.dialect.name == "postgresql":
            from psycopg.pq import TransactionStatus

            assert used is not None and used.autocommit
            assert used.info.transaction_status == TransactionStatus.IDLE
    with pytest.raises(RuntimeError, match="half way"), write_transaction(engine) as conn:
        assert conn.connection.dbapi_connection is used  # the only pooled connection
        runs.bump_revision(conn=conn)
        raise RuntimeError("half way")
    with engine.connect() as conn:
        assert runs.revision(conn=conn) == before


def test_cache_hits_keep_their_route_label(
    settings: Settings, engine: Engine, paper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hit puts the route that answered back in the scope: the request metrics label it
    # without matching the path against the routes again.
    matched: list[str] = []
    match = observability.RouteNames._match

    def spy(self: Any, scope: Any) -> str:
        matched.append(scope["path"])
        return match(self, scope)

    monkeypatch.setattr(observability.RouteNames, "_match", spy)
    app = create_app(settings, engine)
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get(f"/api/papers/{paper}").status_code == 200
    assert matched == []
    wanted = 'route="/api/papers/{arxiv_id:arxiv}",status="200"} 3'
    assert any(wanted in line for line in app.state.metrics.render().splitlines())


def test_cache_hits_leave_the_stored_response_as_it_was(
    settings: Settings, engine: Engine, paper: str
) -> None:
    """Outer layers add the request id and security headers to what a hit sends: to a copy,
    never to the stored response (which held the previous visitor's request id before)."""
    from dailypapers.web.cache import ResponseCache

    app = create_app(settings, engine)
    with TestClient(app) as client:
        ids = []
        for path in ("/", f"/papers/{paper}", "/api/daily_papers"):
            for number in range(3):
                response = client.get(path, headers={"X-Request-ID": f"hit-{number}"})
                assert response.status_code == 200
                assert "content-security-policy" in response.headers
                ids.append(response.headers["x-request-id"])
        layer: Any = app.middleware_stack
        while not isinstance(layer, ResponseCache):
            layer = layer.app
        stored = [m for messages, _, _ in layer._items.values() for m in messages]
    assert ids == ["hit-0", "hit-1", "hit-2"] * 3
    starts = [m for m in stored if m["type"] == "http.response.start"]
    assert len(starts) == 3
    for start in starts:
        names = {name.lower() for name, _ in start["headers"]}
        assert b"x-request-id" not in names and b"content-security-policy" not in names


def test_uvicorn_writes_no_access_lines_of_its_own() -> None:
    # The app logs each request once (dailypapers.access); uvicorn logs its own line whenever
    # its access logger reaches a handler (it checks hasHandlers()), which doubled the cost.
    configure_logging(level="INFO", fmt="text")
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    assert logging.getLogger("uvicorn.error").hasHandlers()
