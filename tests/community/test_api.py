"""The JSON write API with bearer tokens: every endpoint, every refusal, and exact counts
under concurrent and repeated votes on both backends."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from dailypapers.storage.schema import papers as papers_table
from dailypapers.storage.schema import users, votes

Make = Any


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_upvote_api_is_idempotent(
    client: TestClient, make_member: Make, api_token: Any, papers: list[str]
) -> None:
    ada = make_member("ada")
    token = api_token(ada.id)
    paper = papers[0]
    first = client.post(f"/api/papers/{paper}/upvote", headers=auth(token))
    second = client.post(f"/api/papers/{paper}/upvote", headers=auth(token))
    assert first.json() == second.json() == {"upvotes": 1, "voted": True}
    assert client.get(f"/api/papers/{paper}").json()["upvotes"] == 1
    listing = {
        i["paper"]["id"]: i["paper"]["upvotes"] for i in client.get("/api/daily_papers").json()
    }
    assert listing[paper] == 1
    gone = client.delete(f"/api/papers/{paper}/upvote", headers=auth(token))
    assert gone.json() == {"upvotes": 0, "voted": False}
    assert client.delete(f"/api/papers/{paper}/upvote", headers=auth(token)).json()["upvotes"] == 0


def test_auth_failures(
    client: TestClient, make_member: Make, api_token: Any, papers: list[str], engine: Engine
) -> None:
    paper = papers[0]
    missing = client.post(f"/api/papers/{paper}/upvote")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "error" in missing.json()
    invalid = client.post(f"/api/papers/{paper}/upvote", headers=auth("dp_stolen-or-made-up"))
    assert invalid.status_code == 401
    basic = client.post(f"/api/papers/{paper}/upvote", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    huge = client.post(f"/api/papers/{paper}/upvote", headers=auth("x" * 5000))
    assert huge.status_code == 401
    # A session cookie is not an API credential (no CSRF risk from cookies on the API).
    bob = make_member("bob")
    assert bob.client.post(f"/api/papers/{paper}/upvote").status_code == 401
    # Banned users' tokens are refused with 403.
    token = api_token(bob.id)
    with engine.begin() as conn:
        conn.execute(
            update(users).where(users.c.id == bob.id).values(banned_at=dt.datetime.now(dt.UTC))
        )
    banned = client.post(f"/api/papers/{paper}/upvote", headers=auth(token))
    assert banned.status_code == 403 and "suspended" in banned.json()["error"]
    for method, path in [
        ("POST", f"/api/papers/{paper}/submit"),
        ("POST", f"/api/papers/{paper}/comments"),
        ("DELETE", f"/api/papers/{paper}/upvote"),
    ]:
        assert client.request(method, path, json={"body": "x"}).status_code == 401


def test_not_found_and_bad_payloads(
    client: TestClient, make_member: Make, api_token: Any, papers: list[str]
) -> None:
    token = api_token(make_member("cleo").id)
    assert client.post("/api/papers/2699.99999/upvote", headers=auth(token)).status_code == 404
    # Not an arXiv id at all: refused by the path's documented pattern.
    nonsense = client.post("/api/papers/nonsense/upvote", headers=auth(token))
    assert nonsense.status_code == 422 and "arxiv_id" in nonsense.json()["error"]
    paper = papers[0]
    for payload in [
        {},
        {"body": ""},
        {"body": 5},
        {"body": "x" * 10_001},
        {"body": "x", "parentId": -1},
    ]:
        response = client.post(f"/api/papers/{paper}/comments", headers=auth(token), json=payload)
        assert response.status_code == 422, payload
        assert "error" in response.json()
    garbage = client.post(
        f"/api/papers/{paper}/comments",
        headers={**auth(token), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert garbage.status_code == 422
    orphan = client.post(
        f"/api/papers/{paper}/comments", headers=auth(token), json={"body": "hi", "parentId": 999}
    )
    assert orphan.status_code == 404


def test_comment_api(
    client: TestClient, make_member: Make, api_token: Any, papers: list[str]
) -> None:
    token = api_token(make_member("dora").id)
    paper = papers[1]
    created = client.post(
        f"/api/papers/{paper}/comments", headers=auth(token), json={"body": "Looks *great*"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["html"] == "<p>Looks <em>great</em></p>\n" and body["author"]["user"] == "dora"
    reply = client.post(
        f"/api/papers/{paper}/comments",
        headers=auth(token),
        json={"body": "Also this", "parentId": body["id"]},
    )
    assert reply.status_code == 201 and reply.json()["parentId"] == body["id"]
    listed = client.get(f"/api/papers/{paper}/comments").json()
    assert [c["body"] for c in listed] == ["Looks *great*"]
    assert [r["body"] for r in listed[0]["replies"]] == ["Also this"]
    assert client.get("/api/papers/2699.99999/comments").status_code == 404


def test_submit_api(
    client: TestClient, make_member: Make, api_token: Any, papers: list[str], engine: Engine
) -> None:
    from dailypapers.ingest.pipeline import run_ingest
    from tests.core.helpers import raw

    today = dt.datetime.now(dt.UTC).date()
    run_ingest(
        engine=engine,
        source="t",
        params={"n": 1},
        records=lambda _: [raw("2606.00077", published=f"{today}T02:00:00Z")],
    )
    token = api_token(make_member("eve").id)
    done = client.post("/api/papers/2606.00077/submit", headers=auth(token))
    assert done.status_code == 201
    assert done.json()["dailyDate"] == today.isoformat()
    assert done.json()["paper"]["submittedOnDailyBy"]["name"] == "eve"
    again = client.post("/api/papers/2606.00077/submit", headers=auth(token))
    assert again.status_code == 409 and again.json()["link"] == f"/papers?date={today}"


def test_rate_limit_api_429(
    settings: Any, engine: Engine, make_member: Make, api_token: Any, papers: list[str]
) -> None:
    from dailypapers.web.app import create_app

    token = api_token(make_member("fay").id)
    limited = settings.model_copy(update={"rate_limit_upvote": "2/minute"})
    with TestClient(create_app(limited, engine)) as client:
        codes = [
            client.post(f"/api/papers/{papers[0]}/upvote", headers=auth(token)).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        refused = client.post(f"/api/papers/{papers[0]}/upvote", headers=auth(token))
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert "Too many requests" in refused.json()["error"]


def test_concurrent_votes_leave_exact_counts(
    settings: Any, engine: Engine, make_member: Make, api_token: Any, papers: list[str]
) -> None:
    """Many users voting on one paper at once, each double-clicking: one vote per user."""
    from dailypapers.web.app import create_app

    members = [make_member(f"voter{n}") for n in range(8)]
    tokens = [api_token(m.id) for m in members]
    paper = papers[2]
    app = create_app(settings, engine)
    errors: list[object] = []
    barrier = threading.Barrier(len(tokens) * 2)

    def click(token: str) -> None:
        with TestClient(app) as client:
            barrier.wait()
            response = client.post(f"/api/papers/{paper}/upvote", headers=auth(token))
            if response.status_code != 200:
                errors.append(response.text)

    threads = [threading.Thread(target=click, args=(t,)) for t in tokens for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with engine.connect() as conn:
        stored = conn.execute(
            select(papers_table.c.upvotes).where(papers_table.c.id == paper)
        ).scalar()
        rows = conn.execute(select(func.count()).select_from(votes)).scalar()
    assert stored == rows == len(members)
    # And all withdraw at once, twice each: back to zero, never negative.
    barrier = threading.Barrier(len(tokens) * 2)

    def unclick(token: str) -> None:
        with TestClient(app) as client:
            barrier.wait()
            client.delete(f"/api/papers/{paper}/upvote", headers=auth(token))

    threads = [threading.Thread(target=unclick, args=(t,)) for t in tokens for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert (
            conn.execute(select(papers_table.c.upvotes).where(papers_table.c.id == paper)).scalar()
            == 0
        )


def test_revoked_token_is_refused(client: TestClient, make_member: Make, papers: list[str]) -> None:
    """A stolen token stops working once its owner revokes it on the settings page."""
    ada = make_member("ada")
    page = ada.client.post("/settings/tokens", data={"csrf_token": ada.csrf(), "name": "laptop"})
    token = page.text.split('<code class="token">')[1].split("<")[0]
    assert client.post(f"/api/papers/{papers[0]}/upvote", headers=auth(token)).status_code == 200
    token_id = page.text.split("/settings/tokens/")[1].split("/delete")[0]
    revoked = ada.client.post(
        f"/settings/tokens/{token_id}/delete", data={"csrf_token": ada.csrf()}
    )
    assert revoked.status_code == 303
    assert client.post(f"/api/papers/{papers[0]}/upvote", headers=auth(token)).status_code == 401
    # Someone else cannot revoke it (404, not theirs).
    bob = make_member("bob")
    other = bob.client.post(f"/settings/tokens/{token_id}/delete", data={"csrf_token": bob.csrf()})
    assert other.status_code == 404
