"""Liveness and readiness: /livez answers while the process does; /readyz waits for the
database, the search index and (with semantic search) the model, and says what is missing."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.index.build import run_index
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.web.app import create_app


class SlowEmbedder:
    """An embedder whose first use waits until the test lets it finish loading."""

    key = "slow-test-model"
    dim = 4

    def __init__(self) -> None:
        self.loaded = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of zeros, once loading is allowed to finish."""
        self.loaded.wait(20)
        return np.zeros((len(texts), self.dim), dtype=np.float32)


def _keyword_only(settings: Settings) -> Settings:
    return settings.model_copy(update={"semantic_search": False})


def test_livez_answers_without_the_database(tmp_path: Path, settings: Settings) -> None:
    """Liveness needs no database: a site whose database is gone is alive, not ready."""
    (tmp_path / "a-directory").mkdir()  # a database file that cannot be opened
    gone = make_engine(f"sqlite:///{tmp_path / 'a-directory'}")
    with TestClient(create_app(_keyword_only(settings), gone)) as client:
        assert client.get("/livez").json() == {"status": "ok"}
        ready = client.get("/readyz")
    gone.dispose()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert "database" in body["missing"]
    assert body["checks"]["database"].startswith("error")


def test_readyz_waits_for_migrations(tmp_path: Path, settings: Settings) -> None:
    """A database that answers but was never migrated is not ready; ``db upgrade`` fixes it."""
    from dailypapers.storage.migrate import upgrade

    bare = make_engine(f"sqlite:///{tmp_path / 'bare.sqlite3'}")
    settings = _keyword_only(settings)
    with TestClient(create_app(settings, bare)) as client:
        body = client.get("/readyz").json()
        assert "not migrated" in body["checks"]["database"]
        upgrade(bare)
        assert client.get("/readyz").json()["checks"]["database"] == "ok"
    bare.dispose()


def test_readyz_waits_for_the_search_index(settings: Settings, engine: Engine) -> None:
    """No index built yet: 503 naming the index; after ``index``: 200 ready."""
    settings = _keyword_only(settings)
    with TestClient(create_app(settings, engine)) as client:
        first = client.get("/readyz")
        assert first.status_code == 503
        assert first.json()["missing"] == ["index"]
        assert first.json()["checks"]["index"].startswith("missing")
        assert first.headers["cache-control"] == "no-store"
        run_index(engine=engine, root=settings.index_dir, embedder=None)
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "missing": [],
        "checks": {"database": "ok", "index": "ok", "model": "off"},
    }


def test_readyz_waits_for_the_model(settings: Settings, engine: Engine) -> None:
    """With semantic search, the first probe starts loading the model and answers 503 at once
    ("loading"); once the model is loaded, the site is ready."""
    run_index(engine=engine, root=settings.index_dir, embedder=None)
    app = create_app(_keyword_only(settings), engine)
    slow = SlowEmbedder()
    app.state.searcher.embedder = slow
    app.state.model_warmth.__init__(app.state.searcher)  # as if built with this embedder
    with TestClient(app) as client:
        loading = client.get("/readyz")
        assert loading.status_code == 503
        assert loading.json()["missing"] == ["model"]
        assert loading.json()["checks"]["model"] == "loading"
        slow.loaded.set()
        for _ in range(200):  # wait for the loader thread to record the result
            if app.state.model_warmth.state != "loading":
                break
            time.sleep(0.05)
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"]["model"] == "ok"
