"""Submitting, upvoting, commenting and moderating through the pages (forms, no JavaScript)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dailypapers.storage.schema import daily_entries, papers
from tests.community.conftest import Member

Make = Any


def submit(member: Member, ref: str) -> Any:
    return member.client.post("/submit", data={"csrf_token": member.csrf("/submit"), "ref": ref})


def test_submit_known_paper_by_url(make_member: Make, engine: Engine) -> None:
    from dailypapers.ingest.pipeline import run_ingest
    from tests.core.helpers import raw

    today = dt.datetime.now(dt.UTC).date()
    record = raw("2606.00042", published=f"{today}T01:00:00Z")  # known, but on no list yet
    run_ingest(engine=engine, source="t", params={"x": 1}, records=lambda _: [record])
    ada = make_member("ada")
    response = submit(ada, "https://arxiv.org/abs/2606.00042v1")
    assert response.status_code == 303
    assert response.headers["location"] == "/papers/2606.00042?submitted=1"
    page = ada.client.get("/papers/2606.00042?submitted=1")
    assert "on today&#39;s list" in page.text or "on today's list" in page.text
    assert 'href="/users/ada"' in page.text
    home = TestClient(ada.client.app).get("/")
    assert "2606.00042" in home.text and "Submitted by" in home.text
    with engine.connect() as conn:
        entry = conn.execute(
            select(daily_entries).where(daily_entries.c.paper_id == "2606.00042")
        ).one()
    assert entry.day == today and entry.origin == "submitted" and entry.submitted_by_id == ada.id


def test_submit_refusals_link_to_the_day(make_member: Make, papers: list[str]) -> None:
    bob = make_member("bob")
    again = submit(bob, papers[0])
    assert again.status_code == 409
    today = dt.datetime.now(dt.UTC).date()
    assert "already on the list of" in again.text and f'href="/papers?date={today}"' in again.text
    bad = submit(bob, "not an id at all")
    assert bad.status_code == 422 and "not an arXiv id" in bad.text


def test_submit_unknown_paper_fetches_it_from_arxiv(
    make_member: Make, settings: Any, engine: Engine, arxiv_server: Any
) -> None:
    from dailypapers.web.app import create_app
    from tests.community.conftest import login

    wide = settings.model_copy(
        update={"arxiv_api_url": f"{arxiv_server.url}/api/query", "submit_window_days": 100_000}
    )
    cleo = make_member("cleo")
    with TestClient(create_app(wide, engine), follow_redirects=False) as client:
        login(client, cleo.email)
        token = client.get("/submit").text.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post("/submit", data={"csrf_token": token, "ref": "1605.08386"})
        assert response.status_code == 303, response.text
        page = client.get("/papers/1605.08386")
        assert page.status_code == 200 and "cleo" in page.text
        # With the default window, an old paper is refused with its age.
        narrow = wide.model_copy(update={"submit_window_days": 14})
    with TestClient(create_app(narrow, engine), follow_redirects=False) as client:
        login(client, cleo.email)
        token = client.get("/submit").text.split('name="csrf_token" value="')[1].split('"')[0]
        old = client.post("/submit", data={"csrf_token": token, "ref": "1707.08567"})
        assert old.status_code == 422 and "only papers from the last 14 days" in old.text
        missing = client.post("/submit", data={"csrf_token": token, "ref": "0000.0000"})
        assert missing.status_code in (404, 422)


def test_upvote_toggle_without_javascript(
    make_member: Make, papers: list[str], engine: Engine
) -> None:
    dan = make_member("dan")
    paper = papers[0]
    page = dan.client.get(f"/papers/{paper}")
    assert 'aria-pressed="false"' in page.text
    up = dan.client.post(
        f"/papers/{paper}/upvote",
        data={"csrf_token": dan.csrf(f"/papers/{paper}"), "action": "up", "next": "/"},
    )
    assert up.status_code == 303 and up.headers["location"] == "/"
    again = dan.client.post(
        f"/papers/{paper}/upvote",
        data={"csrf_token": dan.csrf(f"/papers/{paper}"), "action": "up", "next": "/"},
    )
    assert again.status_code == 303  # a repeated click changes nothing
    with engine.connect() as conn:
        assert (
            conn.execute(select(papers_table.c.upvotes).where(papers_table.c.id == paper)).scalar()
            == 1
        )
    page = dan.client.get(f"/papers/{paper}")
    assert 'aria-pressed="true"' in page.text
    # Anonymous visitors see the new count on the cached pages too.
    anon = TestClient(dan.client.app)
    assert '<span class="count">1</span>' in anon.get(f"/papers/{paper}").text
    assert anon.get(f"/api/papers/{paper}").json()["upvotes"] == 1
    down = dan.client.post(
        f"/papers/{paper}/upvote",
        data={"csrf_token": dan.csrf(f"/papers/{paper}"), "action": "down"},
        headers={"Accept": "application/json"},
    )
    assert down.json() == {"upvotes": 0, "voted": False}
    assert anon.get(f"/api/papers/{paper}").json()["upvotes"] == 0


papers_table = papers


def test_anonymous_upvote_goes_to_login(client: TestClient, papers: list[str]) -> None:
    response = client.post(f"/papers/{papers[0]}/upvote", data={})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    page = client.get(f"/papers/{papers[0]}")
    assert f'href="/login?next=/papers/{papers[0]}"' in page.text


def test_comments_markdown_replies_edit_delete(make_member: Make, papers: list[str]) -> None:
    eve, fay = make_member("eve"), make_member("fay")
    paper = papers[1]
    body = (
        "Nice **result**. <script>alert(1)</script> [link](javascript:alert(2)) [ok](https://x.org)"
    )
    posted = eve.client.post(
        f"/papers/{paper}/comments", data={"csrf_token": eve.csrf(f"/papers/{paper}"), "body": body}
    )
    assert posted.status_code == 303
    comment_id = int(posted.headers["location"].rsplit("-", 1)[1])
    page = fay.client.get(f"/papers/{paper}")
    assert "<strong>result</strong>" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert 'href="javascript' not in page.text
    assert 'href="https://x.org" rel="nofollow ugc noopener"' in page.text
    reply = fay.client.post(
        f"/papers/{paper}/comments",
        data={
            "csrf_token": fay.csrf(f"/papers/{paper}"),
            "body": "Agreed",
            "parent_id": comment_id,
        },
    )
    reply_id = int(reply.headers["location"].rsplit("-", 1)[1])
    # A reply to a reply joins the same thread (one level deep).
    nested = eve.client.post(
        f"/papers/{paper}/comments",
        data={"csrf_token": eve.csrf(f"/papers/{paper}"), "body": "Thanks", "parent_id": reply_id},
    )
    assert nested.status_code == 303
    api = TestClient(eve.client.app).get(f"/api/papers/{paper}/comments").json()
    assert len(api) == 1 and [r["body"] for r in api[0]["replies"]] == ["Agreed", "Thanks"]
    # Only the author edits or deletes.
    assert fay.client.get(f"/comments/{comment_id}/edit").status_code == 403
    refused = fay.client.post(
        f"/comments/{comment_id}/delete", data={"csrf_token": fay.csrf(f"/papers/{paper}")}
    )
    assert refused.status_code == 403
    edited = eve.client.post(
        f"/comments/{comment_id}/edit",
        data={"csrf_token": eve.csrf(f"/comments/{comment_id}/edit"), "body": "Edited *text*"},
    )
    assert edited.status_code == 303
    page = eve.client.get(f"/papers/{paper}")
    assert "<em>text</em>" in page.text and "(edited)" in page.text
    deleted = eve.client.post(
        f"/comments/{comment_id}/delete", data={"csrf_token": eve.csrf(f"/papers/{paper}")}
    )
    assert deleted.status_code == 303
    page = eve.client.get(f"/papers/{paper}")
    assert "[deleted]" in page.text and "Agreed" in page.text  # replies keep their place
    listing = TestClient(eve.client.app).get("/api/daily_papers").json()
    counts = {item["paper"]["id"]: item["numComments"] for item in listing}
    assert counts[paper] == 2
    empty = eve.client.post(
        f"/papers/{paper}/comments", data={"csrf_token": eve.csrf(f"/papers/{paper}"), "body": "  "}
    )
    assert empty.status_code == 422 and "cannot be empty" in empty.text


def test_moderation_hide_comment_paper_and_ban(make_member: Make, papers: list[str]) -> None:
    admin, gil = make_member("root1", admin=True), make_member("gil")
    paper = papers[2]
    posted = gil.client.post(
        f"/papers/{paper}/comments",
        data={"csrf_token": gil.csrf(f"/papers/{paper}"), "body": "spam"},
    )
    comment_id = int(posted.headers["location"].rsplit("-", 1)[1])
    assert gil.client.get("/admin").status_code == 403
    board = admin.client.get("/admin")
    assert board.status_code == 200 and "spam" in board.text
    hide = admin.client.post(
        f"/admin/comments/{comment_id}/hide", data={"csrf_token": admin.csrf("/admin")}
    )
    assert hide.status_code == 303
    anon = TestClient(admin.client.app)
    assert "spam" not in anon.get(f"/papers/{paper}").text
    assert "hidden by moderators" in admin.client.get(f"/papers/{paper}").text
    # Hide a paper from the lists.
    admin.client.post(f"/admin/papers/{paper}/hide", data={"csrf_token": admin.csrf("/admin")})
    assert paper not in anon.get("/").text
    assert anon.get(f"/papers/{paper}").status_code == 404
    # Ban: the user's session ends and writes are refused.
    banned = admin.client.post("/admin/users/gil/ban", data={"csrf_token": admin.csrf("/admin")})
    assert banned.status_code == 303
    assert gil.client.get("/settings").status_code == 303
    profile = anon.get("/users/gil")
    assert profile.status_code == 200 and "suspended" in profile.text
    # Non-admins cannot moderate.
    dan = make_member("dan")
    refused = dan.client.post(
        f"/admin/papers/{papers[0]}/hide", data={"csrf_token": dan.csrf("/settings")}
    )
    assert refused.status_code == 403


def test_profile_lists_submissions_and_upvotes(make_member: Make, papers: list[str]) -> None:
    hal = make_member("hal")
    hal.client.post(
        f"/papers/{papers[0]}/upvote",
        data={"csrf_token": hal.csrf(f"/papers/{papers[0]}"), "action": "up"},
    )
    profile = TestClient(hal.client.app).get("/users/hal")
    assert profile.status_code == 200
    assert "Upvoted papers" in profile.text and papers[0] in profile.text
    assert TestClient(hal.client.app).get("/users/nobody").status_code == 404
