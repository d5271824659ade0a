"""Run Alembic migrations programmatically (``dailypapers db upgrade`` and on start).

Upgrades hold the ``migrations`` stage lock (``storage.locks``): nodes starting together on an
empty database queue behind the first, which migrates; the others then find it current.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from dailypapers.storage.locks import stage_lock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> frozenset[str]:
    """Every revision the code knows (a database at another one was migrated by newer code)."""
    return frozenset(
        rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()
    )


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the database to ``revision``; returns (before, after). A no-op when current.

    Waits while another process migrates the same database.
    """
    with stage_lock(engine, "migrations", wait=True):
        before = current_revision(engine)
        config = _config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        return before, current_revision(engine) or ""
