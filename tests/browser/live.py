"""A real uvicorn server for the app in a background thread, and the sample loader."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from dailypapers.cli.serve import sample_path
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.sources.jsonl import read_jsonl


def load_sample(engine: Engine, settings: Settings) -> None:
    """Load the bundled sample the way ``dailypapers demo`` does."""
    path = sample_path()
    report = run_ingest(
        engine=engine,
        source="demo",
        params={"sample": path.name, "size": path.stat().st_size},
        records=lambda resume: read_jsonl(path, resume=resume),
        explicit_days=True,
        batch_size=settings.ingest_batch_size,
    )
    assert report.rejected == 0, report.summary()


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
