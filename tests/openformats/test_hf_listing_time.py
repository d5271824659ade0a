"""Issue 13, item 3: the listing time is when a paper was put on its list, on both backends.

Migration 0008 corrects entries an import wrote long after their day, and importing from
Hugging Face again restores HF's own listing time and the submitter's full name.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from dailypapers.ingest.normalize import announced_at
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.sources.hf_daily import parse_hf_daily
from dailypapers.storage import migrate
from dailypapers.storage.engine import make_engine, write_transaction
from dailypapers.storage.schema import daily_entries, papers, users
from tests.conftest import pg_database
from tests.openformats.hf_site import HF_EXCERPT

BACKENDS = [
    b for b in os.environ.get("DAILYPAPERS_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]
JUNE = dt.date(2026, 6, 8)
NOVEMBER = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables yet."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        yield engine
        engine.dispose()
        return
    with pg_database(request.getfixturevalue("pg_server"), "dp_mig") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def _paper(paper_id: str) -> dict[str, object]:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    return {
        "id": paper_id,
        "version": 1,
        "title": "T",
        "abstract": "A",
        "authors": ["X"],
        "categories": ["cs.LG"],
        "primary_category": "cs.LG",
        "published_at": now,
        "updated_at": now,
        "content_hash": "h",
        "created_at": now,
        "modified_at": now,
    }


def test_migration_0008_gives_late_imports_their_days_announcement(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0007")
    on_time = dt.datetime(2026, 6, 8, 9, 30, tzinfo=dt.UTC)
    with empty_engine.begin() as conn:
        user_id = conn.execute(
            insert(users).values(username="ada", display_name="Ada", created_at=NOVEMBER)
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(insert(papers), [_paper(f"2606.0000{n}") for n in (1, 2, 3)])
        conn.execute(
            insert(daily_entries),
            [
                # Imported in November for a June day: the time the row was written.
                {
                    "day": JUNE,
                    "paper_id": "2606.00001",
                    "submitted_at": NOVEMBER,
                    "origin": "hf",
                    "submitted_by_id": None,
                },
                # Imported on its day: kept.
                {
                    "day": JUNE,
                    "paper_id": "2606.00002",
                    "submitted_at": on_time,
                    "origin": "hf",
                    "submitted_by_id": None,
                },
                # Submitted by a member: their own time, kept.
                {
                    "day": JUNE,
                    "paper_id": "2606.00003",
                    "submitted_at": NOVEMBER,
                    "origin": "submission",
                    "submitted_by_id": user_id,
                },
            ],
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(select(daily_entries.c.paper_id, daily_entries.c.submitted_at))
        times = {paper_id: at for paper_id, at in rows}
        fullnames = conn.execute(select(daily_entries.c.submitter_fullname)).scalars().all()
    assert times == {
        "2606.00001": dt.datetime(2026, 6, 8, 4, 0, tzinfo=dt.UTC),  # midnight in New York
        "2606.00002": on_time,
        "2606.00003": NOVEMBER,
    }
    assert fullnames == [None, None, None]
    assert migrate.upgrade(empty_engine)[0] == migrate.head_revision()  # twice: a no-op


def test_announcement_is_midnight_in_new_york_in_summer_and_winter() -> None:
    assert announced_at(JUNE) == dt.datetime(2026, 6, 8, 4, 0, tzinfo=dt.UTC)
    assert announced_at(dt.date(2026, 1, 5)) == dt.datetime(2026, 1, 5, 5, 0, tzinfo=dt.UTC)


def _import(engine: Engine, run: str) -> None:
    records = list(parse_hf_daily(HF_EXCERPT.read_bytes()))
    report = run_ingest(
        engine=engine,
        source="hf_daily",
        params={"run": run},
        records=lambda _: records,
        explicit_days=True,
    )
    assert report.rejected == 0, report.summary()


def test_importing_again_restores_hfs_listing_time_and_full_name(engine: Engine) -> None:
    _import(engine, "first")
    listed = select(
        daily_entries.c.paper_id,
        daily_entries.c.submitted_at,
        daily_entries.c.submitter_name,
        daily_entries.c.submitter_fullname,
    ).order_by(daily_entries.c.paper_id)
    with engine.connect() as conn:
        first = [tuple(row) for row in conn.execute(listed)]
    assert first[0] == (
        "2410.17243",
        dt.datetime(2024, 10, 25, 0, 57, 9, 392000, tzinfo=dt.UTC),
        "ClownRat",
        "Zesen Cheng",
    )
    with write_transaction(engine) as conn:  # as an import before this change left them
        conn.execute(update(daily_entries).values(submitted_at=NOVEMBER, submitter_fullname=None))
    _import(engine, "again")
    with engine.connect() as conn:
        assert [tuple(row) for row in conn.execute(listed)] == first
