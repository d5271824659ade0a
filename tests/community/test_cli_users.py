"""``dailypapers user create|list`` and ``dailypapers token create``, end to end."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dailypapers.storage.schema import api_tokens
from tests.core.test_cli import run


def test_user_and_token_commands(
    cli_env: dict[str, str], engine: Engine, client: TestClient, papers: list[str]
) -> None:
    out = run("user", "create", "Admin@Example.org", "--password", "long enough pw", "--admin")
    assert "created admin admin1 <admin@example.org>" in out
    run("user", "create", "admin@example.org", "--password", "long enough pw", ok=False)
    assert "already exists" in run(
        "user", "create", "admin@example.org", "--password", "long enough pw", ok=False
    )
    assert "at least 8" in run("user", "create", "b@example.org", "--password", "short", ok=False)
    assert "line breaks" in run(
        "user", "create", "b@example.org\r\nBcc: x@y.z", "--password", "long enough pw", ok=False
    )
    listing = run("user", "list")
    assert "admin@example.org" in listing and "admin" in listing
    token = run("token", "create", "admin@example.org", "--name", "ci").strip()
    assert token.startswith("dp_")
    with engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash, api_tokens.c.name)).one()
    assert stored.name == "ci" and token not in stored.token_hash  # only the hash is kept
    response = client.post(
        f"/api/papers/{papers[0]}/upvote", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.json()["upvotes"] == 1
    assert "no user with email" in run("token", "create", "nobody@example.org", ok=False)
