"""Anonymous cached pages follow votes: at once after a quiet spell, at most ``cache_vote_lag``
seconds behind while votes keep coming; logged-in pages are never cached."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.web.app import create_app


def test_vote_lag(
    settings: Any, engine: Engine, make_member: Any, api_token: Any, papers: list[str]
) -> None:
    lagging = settings.model_copy(update={"cache_vote_lag": 1.0})
    token = api_token(make_member("ada").id)
    bearer = {"Authorization": f"Bearer {token}"}
    paper = papers[0]
    with TestClient(create_app(lagging, engine)) as client:
        assert client.get(f"/api/papers/{paper}").json()["upvotes"] == 0
        client.post(f"/api/papers/{paper}/upvote", headers=bearer)
        assert (
            client.get(f"/api/papers/{paper}").json()["upvotes"] == 1
        )  # an isolated vote: at once
        client.delete(f"/api/papers/{paper}/upvote", headers=bearer)
        stale = client.get(f"/api/papers/{paper}").json()["upvotes"]
        assert stale in (0, 1)  # within the lag the cached page may still say 1
        time.sleep(1.1)
        assert client.get(f"/api/papers/{paper}").json()["upvotes"] == 0
