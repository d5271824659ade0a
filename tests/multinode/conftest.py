"""Two web nodes on one database, each with its own data directory, and a small real corpus.

Nodes follow published builds and the live delta only when a test says so
(``node.follower.poll()``): ``index_follow_seconds=0`` keeps the background thread off.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.index.embedder import default_embedder
from dailypapers.index.follow import Follower
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.search.conftest import Memoised, ingest_rows, sample_records


@dataclass
class Node:
    """One web node: its settings (own data directory), app client and follower."""

    settings: Settings
    client: TestClient

    @property
    def follower(self) -> Follower:
        follower: Follower = self.client.app.state.follower  # type: ignore[attr-defined]
        return follower

    def search(self, q: str, mode: str = "hybrid", limit: int = 10) -> list[str]:
        response = self.client.get(
            "/api/papers/search", params={"q": q, "mode": mode, "limit": limit}
        )
        assert response.status_code == 200, response.text
        return [item["paper"]["id"] for item in response.json()]

    def related(self, arxiv_id: str, limit: int = 6) -> list[str]:
        searcher = self.client.app.state.searcher  # type: ignore[attr-defined]
        with self.client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            return [r["id"] for r in searcher.similar(conn=conn, arxiv_id=arxiv_id, limit=limit)]


@pytest.fixture(scope="session")
def embedder() -> Memoised:
    """The real model, loaded once for the session, with its vectors remembered."""
    return Memoised(default_embedder())


@pytest.fixture
def make_node(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[Any]:
    """Factory: ``make_node("b")`` -> a Node on the test database with an empty data dir."""
    clients: list[TestClient] = []

    def make(name: str, **overrides: Any) -> Node:
        node_settings = settings.model_copy(
            update={"data_dir": tmp_path / f"node-{name}", "index_follow_seconds": 0, **overrides}
        )
        client = TestClient(create_app(node_settings, engine), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return Node(node_settings, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    """Sixty real papers of the bundled sample."""
    return sample_records()


@pytest.fixture
def spare_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Real papers of the bundled sample that are not in ``rows`` (new arrivals)."""
    known = {r["id"] for r in rows}
    return [r for r in sample_records(200) if r["id"] not in known][:5]


def ingest(engine: Engine, rows: list[dict[str, Any]], key: str) -> None:
    """Ingest sample rows (as the CLI would, from any node)."""
    ingest_rows(engine, rows, key=key)
