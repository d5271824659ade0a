"""A real uvicorn server for the app in a background thread, and the sample loader."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from dailypapers import demo
from dailypapers.settings import Settings
from tests.conftest import pg_database


@contextlib.contextmanager
def fresh_database(
    request: pytest.FixtureRequest, folder: Path, backend: str, name: str
) -> Iterator[str]:
    """URL of a migrated throwaway database for a browser test module, dropped afterwards:
    a copy of the SQLite template in ``folder``, or a PostgreSQL database from the template."""
    if backend == "sqlite":
        path = folder / "site.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("pg_server")
    with pg_database(server, f"dp_{name}", request.getfixturevalue("pg_template")) as url:
        yield url


def load_sample(engine: Engine, settings: Settings) -> None:
    """Load and index the bundled sample the way ``dailypapers demo`` does."""
    report = demo.load_sample(engine, settings, activity=False)  # pages match the file
    assert report.ingest.rejected == 0, report.ingest.summary()


class LiveServer:
    """Serves ``app`` on 127.0.0.1 on a free port until the ``with`` block ends."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,  # the OS picks a free port; read back once bound
            log_level="warning",
            access_log=False,
            ws="none",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)
        self.url = ""

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("the live server did not start in 30 s")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if self.thread.is_alive():
            raise RuntimeError("the live server did not stop in 30 s")
