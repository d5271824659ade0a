"""Issue 11's "go looking for the next ones": findings of a second review, each replayed
through the interface where it was found (HTTP, the CLI, migrations).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dailypapers.community import accounts
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.storage import migrate
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import comments
from tests.community.conftest import (  # noqa: F401 - fixtures used by the tests below
    Member,
    api_token,
    client,
    make_member,
    papers,
    settings,
    smtp,
)
from tests.core.helpers import raw

Make = Any
HOSTILE_MARKDOWN = "[" * 10_000  # about half a second to render, for one comment


def _no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(body: str) -> str:
        raise AssertionError("a page rendered a stored comment's Markdown")

    monkeypatch.setattr("dailypapers.queries.comments.render", refuse)


def test_comments_are_rendered_once_when_written_not_on_every_view(
    make_member: Make,  # noqa: F811 - the fixture imported above
    papers: list[str],  # noqa: F811
    client: TestClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A comment of hostile Markdown cost half a second of CPU on every view of its paper (page
    and API) per visitor; pages now show the HTML stored when it was written or edited."""
    ada: Member = make_member("ada")
    paper = papers[0]
    answer = ada.client.post(
        f"/papers/{paper}/comments", data={"csrf_token": ada.csrf(), "body": HOSTILE_MARKDOWN}
    )
    assert answer.status_code == 303
    posted = ada.client.post(
        f"/papers/{paper}/comments",
        data={"csrf_token": ada.csrf(), "body": "see [this](javascript:alert(1)) *now*"},
    )
    assert posted.status_code == 303
    comment_id = int(posted.headers["location"].rsplit("-", 1)[1])
    _no_rendering(monkeypatch)
    assert client.get(f"/papers/{paper}").status_code == 200
    listed = client.get(f"/api/papers/{paper}/comments").json()
    assert listed[0]["html"].count("[") == 10_000
    assert "<em>now</em>" in listed[1]["html"] and "href=" not in listed[1]["html"]
    monkeypatch.undo()
    edited = ada.client.post(
        f"/comments/{comment_id}/edit",
        data={"csrf_token": ada.csrf(f"/comments/{comment_id}/edit"), "body": "**edited**"},
    )
    assert edited.status_code == 303
    _no_rendering(monkeypatch)
    listed = client.get(f"/api/papers/{paper}/comments").json()
    assert listed[1]["html"].strip() == "<p><strong>edited</strong></p>"


def test_migration_renders_comments_stored_before_it(tmp_path: Path) -> None:
    """Comments written before the HTML was stored get it from the migration."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0005")
    run_ingest(engine=engine, source="t", params={}, records=lambda _: [raw("2606.00001")])
    with engine.begin() as conn:
        user = accounts.create_user(conn, email="ada@example.org", password="x" * 12)
        conn.exec_driver_sql(
            "INSERT INTO comments (paper_id, user_id, body, created_at, hidden)"
            " VALUES ('2606.00001', ?, '*old*', ?, 0)",
            (user["id"], dt.datetime.now(dt.UTC).isoformat()),
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(comments.c.html)).scalar_one().strip() == "<p><em>old</em></p>"
    engine.dispose()
