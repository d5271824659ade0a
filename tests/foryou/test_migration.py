"""Migration 0012 moves members' digest preferences into follows and keeps visitors' lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import insert, select

from dailypapers.storage import follows, migrate, subscriptions
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import subscriptions as subscriptions_table
from dailypapers.storage.schema import users


def test_old_digest_preferences_become_follows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0011")
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(insert(users).values(id=1, username="ada", display_name="Ada", created_at=now))
        base = {"status": "active", "period": "daily", "trending_count": 5, "created_at": now}
        conn.execute(
            insert(subscriptions_table).values(
                id=1,
                email="ada@example.org",
                user_id=1,
                categories=["cs.CL", "cs.LG"],
                keywords=["speech", "Speech "],
                authors=["Grace  Hopper"],
                **base,
            )
        )
        conn.execute(
            insert(subscriptions_table).values(
                id=2,
                email="reader@example.org",
                categories=["math.AG"],
                keywords=[],
                authors=["Emmy Noether"],
                **base,
            )
        )
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # twice: a no-op
    with engine.connect() as conn:
        found = follows.of_user(conn=conn, user_id=1)
        member = subscriptions.by_id(conn=conn, subscription_id=1)
        visitor = subscriptions.by_id(conn=conn, subscription_id=2)
        stored = conn.execute(
            select(subscriptions_table.c.categories).where(subscriptions_table.c.id == 1)
        ).scalar_one()
    assert found == {
        "category": ["cs.CL", "cs.LG"],
        "author": ["Grace Hopper"],
        "keyword": ["speech"],
        "user": [],
    }
    assert stored == []  # no second copy
    assert member is not None and list(member["categories"]) == ["cs.CL", "cs.LG"]
    assert list(member["authors"]) == ["Grace Hopper"]
    assert visitor is not None and list(visitor["authors"]) == ["Emmy Noether"]
    engine.dispose()
