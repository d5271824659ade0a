"""Follows through the web forms and the JSON API: one store, shared with the digest."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.email import subscribers
from dailypapers.storage import follows as repo
from dailypapers.storage import subscriptions

pytestmark = pytest.mark.usefixtures("corpus")


def _follow(member: Any, kind: str, value: str, **extra: str) -> Any:
    data = {"csrf_token": member.csrf("/follows"), "kind": kind, "value": value, **extra}
    return member.client.post("/follows", data=data)


def test_follow_and_unfollow_through_the_forms(make_member: Any, engine: Engine) -> None:
    ada = make_member("ada")
    answer = _follow(ada, "category", "cs.CL", next="/c/cs.CL")
    assert answer.status_code == 303 and answer.headers["location"] == "/c/cs.CL"
    assert _follow(ada, "author", "  Grace   Hopper ").status_code == 303
    assert _follow(ada, "keyword", "speech recognition").status_code == 303
    # Following again, with another spelling, changes nothing.
    assert _follow(ada, "author", "grace hopper").status_code == 303
    with engine.connect() as conn:
        found = repo.of_user(conn=conn, user_id=ada.id)
    assert found["category"] == ["cs.CL"]
    assert found["author"] == ["Grace Hopper"]
    assert found["keyword"] == ["speech recognition"]
    page = ada.client.get("/follows")
    assert page.status_code == 200 and "Grace Hopper" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    # The buttons on the category and author pages show the state.
    category = ada.client.get("/c/cs.CL")
    assert 'data-follow="category:cs.CL"' in category.text and "Following" in category.text
    assert _follow(ada, "author", "grace hopper", action="unfollow").status_code == 303
    with engine.connect() as conn:
        assert repo.of_user(conn=conn, user_id=ada.id)["author"] == []


def test_follow_members_and_the_profile_button(make_member: Any, engine: Engine) -> None:
    ada, bob = make_member("ada"), make_member("bob")
    profile = ada.client.get("/users/bob")
    assert 'data-follow="user:bob"' in profile.text
    assert _follow(ada, "user", "BOB").status_code == 303
    with engine.connect() as conn:
        assert repo.of_user(conn=conn, user_id=ada.id)["user"] == ["bob"]
    assert _follow(ada, "user", "ada").status_code == 409  # not yourself
    assert _follow(ada, "user", "nobody-here").status_code == 404
    assert "Following" in ada.client.get("/users/bob").text
    assert bob.client.get("/users/bob").text.count('data-follow="user:bob"') == 0


def test_forms_need_csrf_and_a_login(make_member: Any, client: TestClient) -> None:
    ada = make_member("ada")
    refused = ada.client.post("/follows", data={"kind": "category", "value": "cs.CL"})
    assert refused.status_code == 403
    forged = ada.client.post(
        "/follows",
        data={"csrf_token": "x" * 40, "kind": "category", "value": "cs.CL"},
    )
    assert forged.status_code == 403
    anonymous = client.post("/follows", data={"kind": "category", "value": "cs.CL"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert client.get("/follows").status_code == 303
    assert client.get("/for-you").status_code == 303


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("category", "not a category"),
        ("category", "cs.CL<script>"),
        ("planet", "Mars"),
        ("author", "x" * 101),
        ("keyword", "bad\x00byte"),
        ("keyword", "   "),
        ("author", "a" * 5000),
        ("", ""),
    ],
)
def test_hostile_follows_get_a_4xx(make_member: Any, kind: str, value: str) -> None:
    ada = make_member("ada")
    answer = _follow(ada, kind, value)
    assert 400 <= answer.status_code < 500, answer.status_code


def test_a_redirect_back_stays_on_the_site(make_member: Any) -> None:
    ada = make_member("ada")
    answer = _follow(ada, "category", "cs.LG", next="https://evil.example/")
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_the_digest_reads_the_same_follows(make_member: Any, engine: Engine) -> None:
    ada = make_member("ada")
    _follow(ada, "category", "cs.CL")
    _follow(ada, "author", "Grace Hopper")
    # The digest form starts from the follows (not subscribed yet)...
    form = ada.client.get("/settings/email")
    assert 'value="cs.CL"' in form.text and 'value="Grace Hopper"' in form.text
    # ...and saving it (one category more, the author dropped) changes the follows.
    answer = ada.client.post(
        "/settings/email",
        data={
            "csrf_token": ada.csrf("/settings/email"),
            "period": "daily",
            "trending_count": "5",
            "categories": "cs.CL, cs.LG",
            "keywords": "speech",
            "authors": "",
            "similar": "on",
        },
    )
    assert answer.status_code == 303, answer.text
    with engine.connect() as conn:
        found = repo.of_user(conn=conn, user_id=ada.id)
        row = subscriptions.by_user(conn=conn, user_id=ada.id)
        due = subscriptions.list_all(conn=conn, status="active")
    assert found["category"] == ["cs.CL", "cs.LG"]
    assert found["keyword"] == ["speech"] and found["author"] == []
    assert row is not None and list(row["categories"]) == ["cs.CL", "cs.LG"]
    assert [list(r["keywords"]) for r in due] == [["speech"]]
    # A follow made later is in the digest's row at once: there is no second copy.
    _follow(ada, "author", "Ada Lovelace")
    with engine.connect() as conn:
        row = subscriptions.by_user(conn=conn, user_id=ada.id)
        raw_row = conn.exec_driver_sql(
            f"SELECT categories, authors FROM subscriptions WHERE user_id = {int(ada.id)}"
        ).one()
    assert row is not None and list(row["authors"]) == ["Ada Lovelace"]
    assert all(value in ("[]", []) for value in raw_row)


def test_a_visitor_subscription_keeps_its_own_lists(engine: Engine) -> None:
    prefs = subscribers.preferences(categories="cs.CL", keywords="graphs")
    row, _ = subscribers.request(engine, email="reader@example.org", prefs=prefs)
    with engine.connect() as conn:
        again = subscriptions.by_id(conn=conn, subscription_id=int(row["id"]))
    assert again is not None and list(again["categories"]) == ["cs.CL"]


def test_api_follows_with_a_token(make_member: Any, api_token: Any, client: TestClient) -> None:
    ada = make_member("ada")
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    assert client.get("/api/follows").status_code == 401
    assert client.get("/api/follows", headers={"Authorization": "Bearer nope"}).status_code == 401
    made = client.post("/api/follows", json={"kind": "category", "value": "cs.CL"}, headers=auth)
    assert made.status_code == 201 and made.json()["changed"] is True
    again = client.post("/api/follows", json={"kind": "category", "value": "cs.CL"}, headers=auth)
    assert again.status_code == 201 and again.json()["changed"] is False
    listed = client.get("/api/follows", headers=auth).json()
    assert listed == {"category": ["cs.CL"], "author": [], "keyword": [], "user": []}
    # The web page shows the same follow.
    assert "cs.CL" in ada.client.get("/follows").text
    gone = client.delete(
        "/api/follows", params={"kind": "category", "value": "cs.CL"}, headers=auth
    )
    assert gone.status_code == 200 and gone.json()["changed"] is True
    assert client.get("/api/follows", headers=auth).json()["category"] == []
    for body in (
        {"kind": "planet", "value": "x"},
        {"kind": "category", "value": "no such"},
        {"kind": "author", "value": "y" * 500},
        {"kind": "author"},
        [],
    ):
        answer = client.post("/api/follows", json=body, headers=auth)
        assert answer.status_code == 422, (body, answer.status_code)
    answer = client.post(
        "/api/follows", content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    assert 400 <= answer.status_code < 500


def test_follow_rate_limit(
    make_member: Any, api_token: Any, client: TestClient, settings: Any
) -> None:
    client.app.state.settings = settings.model_copy(update={"rate_limit_follow": "2/minute"})  # type: ignore[attr-defined]
    ada = make_member("ada")
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    for value in ("cs.CL", "cs.LG"):
        body = {"kind": "category", "value": value}
        assert client.post("/api/follows", json=body, headers=auth).status_code == 201
    limited = client.post("/api/follows", json={"kind": "category", "value": "cs.AI"}, headers=auth)
    assert limited.status_code == 429 and "retry-after" in limited.headers


def test_follows_per_kind_are_bounded(
    make_member: Any, api_token: Any, client: TestClient, engine: Engine
) -> None:
    from dailypapers.community.follows import MAX_PER_KIND

    ada = make_member("ada")
    with engine.begin() as conn:
        for n in range(MAX_PER_KIND):
            repo.add(conn=conn, user_id=ada.id, kind="keyword", value=f"word {n}")
    auth = {"Authorization": f"Bearer {api_token(ada.id)}"}
    refused = client.post(
        "/api/follows", json={"kind": "keyword", "value": "one more"}, headers=auth
    )
    assert refused.status_code == 409 and "at most" in refused.json()["error"]
    assert _follow(ada, "keyword", "one more").status_code == 409
    # Other kinds are not affected.
    made = client.post("/api/follows", json={"kind": "author", "value": "Ada"}, headers=auth)
    assert made.status_code == 201


def test_settings_link_to_follows(make_member: Any) -> None:
    ada = make_member("ada")
    page = ada.client.get("/settings")
    assert page.status_code == 200
    assert 'href="/follows"' in page.text and 'href="/for-you"' in page.text
