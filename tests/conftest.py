"""Shared fixtures: a migrated database per test on SQLite and PostgreSQL, app and CLI helpers.

Every test that uses ``engine`` (directly or through ``client``/``settings``) runs once per
backend. Set ``DAILYPAPERS_TEST_BACKENDS=sqlite`` to run only one while developing.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.storage.migrate import upgrade
from dailypapers.web.app import create_app
from tests.sources.recorded_http import RecordedServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

REPO = Path(__file__).resolve().parents[1]
# Recorded real responses the tests replay, copied into the repository (tests/fixtures/README.md
# gives their sources and licences), so every clone runs every test.
FIXTURES = REPO / "tests" / "fixtures"
BACKENDS = [
    b for b in os.environ.get("DAILYPAPERS_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]
_counter = itertools.count()


def fixture_path(*parts: str) -> Path:
    """A path in the recorded fixtures (tests/fixtures); a missing one is an error, not a skip."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test fixture not found: {path}")
    return path


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings built from the environment keep their files (the generated secret key, the
    default SQLite database) in a temporary folder, never in the checkout's ``./data``."""
    monkeypatch.setenv("DAILYPAPERS_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo a test's ``configure_logging`` (a root handler at INFO), so later tests in the same
    worker do not find alembic's and aiosmtpd's INFO lines in the CLI output they read."""
    root = logging.getLogger()
    # Whatever configured it before (a fixture, an import), each test starts without the
    # product's stderr handler.
    for handler in list(root.handlers):
        if getattr(handler, "_dailypapers_handler", False):
            root.removeHandler(handler)
            root.setLevel(logging.WARNING)
    saved_root = (root.level, list(root.handlers))
    saved = {
        name: (logger.level, list(logger.handlers), logger.propagate)
        for name, logger in root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The recorded fixtures' folder (tests/fixtures)."""
    return fixture_path()


@pytest.fixture
def arxiv_server(fixtures_dir: Path) -> Iterator[RecordedServer]:
    """A loopback server replaying the recorded arXiv API and OAI-PMH responses.

    Tests add their own routes (RSS listings, HF daily papers) with ``add_text``.
    """
    server = RecordedServer()
    recordings = fixtures_dir / "arxiv-api-fixtures"
    for envelope in sorted((recordings / "atom_arxiv_py").glob("*.json")):
        server.load_envelope(envelope)
    for nock in sorted((recordings / "oai_pmh_paperhive").glob("*.json")):
        server.load_nock(nock)
    with server:
        yield server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of the admin database of a PostgreSQL server on loopback, for the whole run."""
    external = os.environ.get("DAILYPAPERS_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """Name of a migrated PostgreSQL template database."""
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    name = f"dp_template_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(pg_server.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    engine.dispose()
    return name


@contextmanager
def pg_database(server: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """URL of a new PostgreSQL database on ``server`` (a copy of ``template`` when given),
    dropped when the ``with`` block ends."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database (one per test and backend)."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    with pg_database(request.getfixturevalue("pg_server"), "dp_test", template) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the per-test database."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings pointing at the per-test database and a temporary data directory."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        arxiv_request_interval=0,
        page_size=50,
        # No background index follower: its queries would land in query counts; the tests
        # of following call its poll() themselves (tests/multinode).
        index_follow_seconds=0,
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """An in-process HTTP client for the app on the per-test database."""
    with TestClient(create_app(settings, engine)) as test_client:
        yield test_client


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the CLI against the per-test database."""
    env = {
        "DAILYPAPERS_DATA_DIR": str(settings.data_dir),
        "DAILYPAPERS_DATABASE_URL": settings.database_url,
        "DAILYPAPERS_ARXIV_REQUEST_INTERVAL": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


CHROMIUM = os.environ.get("DAILYPAPERS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Defined here, once for every test package: a fixture imported into a second module would be
# a second session fixture, and a second Playwright in one run fails.
@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver for the run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Debian Chromium for the whole run."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM}")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop in its own thread.

    While the session's Playwright is open, the main thread has a running event loop, so a
    plain ``asyncio.run`` there fails ("cannot be called from a running event loop").
    """
    import asyncio

    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
