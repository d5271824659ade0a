"""Settings are documented; migrations are idempotent and keep data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, insert, inspect, select

from dailypapers.settings import Settings
from dailypapers.storage import migrate
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import metadata, papers

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_docs_list_every_setting() -> None:
    text = DOC.read_text()
    missing = [n for n in Settings.model_fields if f"`DAILYPAPERS_{n.upper()}`" not in text]
    assert not missing, f"run scripts/settings_doc.py; undocumented: {missing}"


def test_feed_categories_accept_commas_and_json(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAILYPAPERS_FEED_CATEGORIES", "cs.LG, cs.CL")
    assert Settings().feed_categories == ["cs.LG", "cs.CL"]
    monkeypatch.setenv("DAILYPAPERS_FEED_CATEGORIES", '["hep-th"]')
    assert Settings().feed_categories == ["hep-th"]


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'dailypapers.sqlite3'}"


def test_upgrading_twice_is_a_no_op(engine: Engine) -> None:
    head = migrate.head_revision()
    assert migrate.upgrade(engine) == (head, head)


def test_migrations_match_the_schema(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(metadata.tables)
    for name, table in metadata.tables.items():
        columns = {c["name"] for c in inspect(engine).get_columns(name)}
        assert columns == set(table.columns.keys()), name


def test_an_old_database_upgrades_with_its_data(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0001")
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(papers).values(
                id="2606.00001",
                version=1,
                title="T",
                abstract="A",
                authors=["X"],
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
    with engine.connect() as conn:
        assert conn.execute(select(papers.c.title)).scalar_one() == "T"
    engine.dispose()


def test_datetimes_come_back_aware_utc_whatever_text_a_row_holds(engine: Engine) -> None:
    """UTCDateTime reads what it wrote, and on SQLite also text other writers left (a date
    alone, no seconds, an offset, 'Z'), as aware UTC: its fast path (one ``fromisoformat``)
    and the general one agree."""
    from sqlalchemy import Column, Integer, MetaData, Table, text

    from dailypapers.storage.schema import UTCDateTime

    table = Table(
        "when_test",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime()),
    )
    table.create(engine)
    written = {
        1: dt.datetime(2025, 3, 3, 18, 59, 59, 123, tzinfo=dt.UTC),
        2: dt.datetime(2025, 3, 3, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        3: dt.datetime(2025, 3, 3, 7, 0),  # naive: taken as UTC
        4: None,
    }
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": k, "at": v} for k, v in written.items()])
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "INSERT INTO when_test VALUES (5, '2025-03-03'), (6, '2025-03-03 10:00'),"
                    " (7, '2025-03-03 10:00:00'), (8, '2025-03-03 10:00:00Z'),"
                    " (9, '2025-03-03 10:00:00.5')"
                )
            )
        read = {row.id: row.at for row in conn.execute(select(table.c.id, table.c.at))}
    utc = dt.UTC
    assert read[1] == written[1] and read[1].tzinfo is utc
    assert read[2] == dt.datetime(2025, 3, 3, 18, 0, tzinfo=utc) and read[2].tzinfo is utc
    assert read[3] == dt.datetime(2025, 3, 3, 7, 0, tzinfo=utc)
    assert read[4] is None
    if engine.dialect.name == "sqlite":
        assert read[5] == dt.datetime(2025, 3, 3, tzinfo=utc)
        assert read[6] == read[7] == read[8] == dt.datetime(2025, 3, 3, 10, tzinfo=utc)
        assert read[9] == dt.datetime(2025, 3, 3, 10, 0, 0, 500000, tzinfo=utc)
        assert all(v.tzinfo is utc for k, v in read.items() if v is not None)
