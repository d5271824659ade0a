"""``paper_authors`` (migration 0014): filled for papers stored before it, written and
rewritten with every paper, and read by author pages; both backends."""

from __future__ import annotations

import datetime as dt

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, update

from dailypapers.storage import migrate
from dailypapers.storage.schema import paper_authors, papers
from tests.core.helpers import raw
from tests.core.test_web import load


def _rows(engine: Engine) -> list[tuple[str, int, str, str]]:
    with engine.connect() as conn:
        query = select(
            paper_authors.c.paper_id,
            paper_authors.c.position,
            paper_authors.c.name,
            paper_authors.c.surname,
        ).order_by(paper_authors.c.paper_id, paper_authors.c.position)
        return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]


def _downgrade(engine: Engine, revision: str) -> None:
    config = migrate._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_the_migration_fills_the_table_from_stored_papers(engine: Engine) -> None:
    _downgrade(engine, "0013")  # a database from before author pages
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for n, names in enumerate([["Jan Müller", "1234", "Ada Lovelace"], ["Müller, Jan"]]):
            conn.execute(
                insert(papers).values(
                    id=f"2606.0000{n + 1}",
                    version=1,
                    title="T",
                    abstract="A",
                    authors=names,
                    categories=["cs.LG"],
                    primary_category="cs.LG",
                    published_at=now,
                    updated_at=now,
                    content_hash="h",
                    created_at=now,
                    modified_at=now,
                )
            )
    migrate.upgrade(engine)
    assert _rows(engine) == [
        ("2606.00001", 0, "Jan Müller", "muller"),
        ("2606.00001", 2, "Ada Lovelace", "lovelace"),  # "1234" has no letters: no row
        ("2606.00002", 0, "Müller, Jan", "muller"),
    ]
    _downgrade(engine, "0013")  # and back down: the table goes, the papers stay
    migrate.upgrade(engine)
    assert len(_rows(engine)) == 3


def test_rows_follow_the_paper_and_hidden_papers_leave_pages(
    client: TestClient, engine: Engine
) -> None:
    load(engine, [raw("2606.00001", day="2026-06-01", authors=["Jan Müller", "Ada Lovelace"])])
    assert [r[2] for r in _rows(engine)] == ["Jan Müller", "Ada Lovelace"]
    # A new version with another author list replaces the rows.
    load(
        engine,
        [raw("2606.00001", day="2026-06-01", version=2, title="New", authors=["Grace Hopper"])],
    )
    assert [r[2:] for r in _rows(engine)] == [("Grace Hopper", "hopper")]
    assert client.get("/authors/Grace%20Hopper").status_code == 200
    assert client.get("/authors/Jan%20M%C3%BCller").status_code == 404
    with engine.begin() as conn:
        conn.execute(update(papers).values(hidden=True))
    assert client.get("/api/authors/Grace%20Hopper").status_code == 404
