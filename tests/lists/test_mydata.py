"""My data: the JSON download holds everything about the member and no secrets; deleting the
account (password again, CSRF) anonymises or removes votes and comments as chosen, and
revokes sessions, API tokens and mail subscriptions."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from dailypapers.storage import follows, subscriptions
from dailypapers.storage.schema import (
    api_tokens,
    comments,
    metadata,
    papers,
    reading_lists,
    sessions,
    users,
    votes,
)
from dailypapers.storage.schema import subscriptions as subscription_table
from tests.community.conftest import PASSWORD, Member


def _activity(member: Member, engine: Engine, known: dict[str, str], api_token: Any) -> str:
    """Votes, a comment with a reply by someone else, a list with a note, an import, a
    subscription and an API token; returns the token."""
    paper = known["attention"]
    token = member.csrf()
    member.client.post(f"/papers/{paper}/upvote", data={"csrf_token": token, "action": "up"})
    member.client.post(f"/papers/{known['bert']}/upvote", data={"csrf_token": token})
    member.client.post(f"/papers/{paper}/comments", data={"csrf_token": token, "body": "First!"})
    member.client.post(
        f"/papers/{known['bert']}/comments", data={"csrf_token": token, "body": "Alone"}
    )
    member.client.post(
        f"/papers/{paper}/save",
        data={"csrf_token": token, "new_list": "Notes", "note": "my private note"},
    )
    from tests.lists.test_import import Manual

    worker = Manual(engine)
    member.client.app.state.library_worker = worker  # type: ignore[attr-defined]
    member.client.post(
        "/lists/import",
        data={"csrf_token": member.csrf("/lists/import")},
        files={"file": ("lib.txt", b"1706.03762\n10.1000/not-here\n", "text/plain")},
    )
    worker.run()
    with engine.begin() as conn:
        subscriptions.create(
            conn=conn,
            email=member.email,
            status="active",
            user_id=member.id,
            period="daily",
            trending_count=5,
        )
        # After the subscription: a member's digest preferences are their follows.
        follows.add(conn=conn, user_id=member.id, kind="category", value="cs.CL")
        follows.add(conn=conn, user_id=member.id, kind="author", value="Yann LeCun")
        follows.mark_not_interested(conn=conn, user_id=member.id, paper_id=known["gpt3"])
    return str(api_token(member.id))


def test_download_everything_without_secrets(
    make_member: Any, engine: Engine, known: dict[str, str], api_token: Any
) -> None:
    ada: Member = make_member("ada")
    secret = _activity(ada, engine, known, api_token)
    response = ada.client.get("/settings/data/export.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["cache-control"] == "private, no-store"
    data = orjson.loads(response.content)
    assert data["profile"]["username"] == "ada" and data["profile"]["email"] == ada.email
    assert {v["paper_id"] for v in data["votes"]} == {known["attention"], known["bert"]}
    assert sorted(c["body"] for c in data["comments"]) == ["Alone", "First!"]
    names = sorted(r["name"] for r in data["reading_lists"])
    assert names == ["Imported: lib.txt", "Notes"]
    notes = next(r for r in data["reading_lists"] if r["name"] == "Notes")
    assert notes["name"] == "Notes" and notes["papers"][0]["note"] == "my private note"
    (imported,) = data["imported_libraries"]
    assert [e["doi"] for e in imported["entries"]] == [None, "10.1000/not-here"]
    assert data["subscriptions"][0]["email"] == ada.email
    assert {(f["kind"], f["value"]) for f in data["follows"]} == {
        ("category", "cs.CL"),
        ("author", "Yann LeCun"),
    }
    assert [n["paper_id"] for n in data["other"]["not_interested"]] == [known["gpt3"]]
    assert data["api_tokens"][0]["name"] == "test"
    assert data["sessions"] and "id" not in data["sessions"][0]
    text = response.text
    with engine.connect() as conn:
        hashes = [
            *conn.execute(select(users.c.password_hash)).scalars(),
            *conn.execute(select(api_tokens.c.token_hash)).scalars(),
            *conn.execute(select(sessions.c.id)).scalars(),
            *conn.execute(select(sessions.c.csrf)).scalars(),
        ]
    for value in [*hashes, secret]:
        assert value not in text
    assert "password_hash" not in text and "token_hash" not in text
    # The API gives the same document to a token's owner.
    api = TestClient(ada.client.app)
    body = api.get("/api/me/data", headers={"Authorization": f"Bearer {secret}"}).json()
    assert body["reading_lists"] == data["reading_lists"]
    # Anonymous: log in first.
    assert api.get("/settings/data/export.json", follow_redirects=False).status_code == 303


def _delete(member: Member, mode: str, password: str = PASSWORD, **extra: str) -> Any:
    data = {"csrf_token": member.csrf("/settings/data"), "password": password, "mode": mode}
    return member.client.post("/settings/delete", data={**data, **extra})


def _counts(engine: Engine, known: dict[str, str]) -> dict[str, Any]:
    with engine.connect() as conn:
        upvotes = dict(conn.execute(select(papers.c.id, papers.c.upvotes)).all())
        bodies = sorted(
            (row.body, row.username)
            for row in conn.execute(
                select(comments.c.body, users.c.username).join(
                    users, users.c.id == comments.c.user_id
                )
            )
        )
        return {
            "upvotes": (upvotes[known["attention"]], upvotes[known["bert"]]),
            "comments": bodies,
            "votes": conn.execute(select(func.count()).select_from(votes)).scalar_one(),
            "lists": conn.execute(select(func.count()).select_from(reading_lists)).scalar_one(),
            "tokens": conn.execute(select(func.count()).select_from(api_tokens)).scalar_one(),
            "sessions": conn.execute(select(func.count()).select_from(sessions)).scalar_one(),
            "subs": conn.execute(select(func.count()).select_from(subscription_table)).scalar_one(),
        }


def _reply(bob: Member, paper: str, engine: Engine) -> None:
    with engine.connect() as conn:
        first = conn.execute(select(comments.c.id).where(comments.c.body == "First!")).scalar_one()
    bob.client.post(
        f"/papers/{paper}/comments",
        data={"csrf_token": bob.csrf(), "body": "A reply", "parent_id": str(first)},
    )


def test_delete_account_anonymising(
    make_member: Any, engine: Engine, known: dict[str, str], api_token: Any, client: TestClient
) -> None:
    ada: Member = make_member("ada")
    bob: Member = make_member("bob")
    secret = _activity(ada, engine, known, api_token)
    _reply(bob, known["attention"], engine)
    assert _delete(ada, "anonymise", password="wrong password").status_code == 403
    assert _delete(ada, "anonymise", csrf_token="forged").status_code == 403
    response = _delete(ada, "anonymise")
    assert response.status_code == 200 and "Account deleted" in response.text
    assert "were kept without your name" in response.text
    after = _counts(engine, known)
    assert after["upvotes"] == (1, 1)  # the votes still count
    assert after["comments"] == [
        ("A reply", "bob"),
        ("Alone", "[deleted]"),
        ("First!", "[deleted]"),
    ]
    assert after["votes"] == 0 and after["lists"] == 0 and after["tokens"] == 0
    with engine.connect() as conn:
        for table in ("follows", "not_interested", "library_entries", "feed_tokens"):
            rows = conn.execute(select(func.count()).select_from(metadata.tables[table]))
            assert rows.scalar_one() == 0, table
    assert after["subs"] == 0
    assert after["sessions"] == 1  # bob's only
    # The browser is logged out, the API token no longer works, the name is free.
    assert ada.client.get("/settings").status_code == 303
    api = client.get("/api/me/lists", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    page = client.get(f"/papers/{known['attention']}").text
    assert "Deleted user" in page and ">ada<" not in page
    assert client.get("/users/ada").status_code == 404


def test_delete_account_removing(
    make_member: Any, engine: Engine, known: dict[str, str], api_token: Any
) -> None:
    ada: Member = make_member("ada")
    bob: Member = make_member("bob")
    _activity(ada, engine, known, api_token)
    bob.client.post(f"/papers/{known['attention']}/upvote", data={"csrf_token": bob.csrf()})
    _reply(bob, known["attention"], engine)
    assert _counts(engine, known)["upvotes"] == (2, 1)
    response = _delete(ada, "remove")
    assert response.status_code == 200 and "were removed" in response.text
    after = _counts(engine, known)
    assert after["upvotes"] == (1, 0)  # ada's votes taken back, bob's kept
    # A comment somebody replied to stays as a deleted stub; the other is gone.
    assert after["comments"] == [("", "[deleted]"), ("A reply", "bob")]
    assert after["votes"] == 1 and after["subs"] == 0 and after["tokens"] == 0
    # Deleting a second account reuses the placeholder.
    bob_delete = _delete(bob, "remove")
    assert bob_delete.status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(users)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(comments)).scalar_one() == 0


def test_my_data_pages_need_a_login(client: TestClient) -> None:
    assert client.get("/settings/data").status_code == 303
    assert client.post("/settings/delete", data={"password": "x"}).status_code == 303
