"""Run Alembic migrations programmatically (``dailypapers db upgrade`` and on start).

Upgrades hold the ``migrations`` stage lock (``storage.locks``): nodes starting together on an
empty database queue behind the first, which migrates; the others then find it current.

Reading where a database stands (``/readyz`` in every web worker) needs no Alembic: the
revisions are read from the migration files and the database's ``alembic_version`` row
(Alembic and Mako are 10 MiB of a worker's memory); only ``upgrade`` imports it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from dailypapers.storage.locks import stage_lock

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision(?:: str)? = [\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision(?:: [^=]+)? = (?:[\"']([^\"']+)[\"']|None)", re.M)


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def _revisions() -> tuple[str, frozenset[str]]:
    """(head, every revision) from the migration files; one head, as Alembic requires."""
    down_of: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            raise RuntimeError(f"{path.name}: no revision or down_revision line")
        down_of[revision.group(1)] = down.group(1)
    heads = set(down_of) - {d for d in down_of.values() if d is not None}
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have one head, found {sorted(heads)}")
    return heads.pop(), frozenset(down_of)


def head_revision() -> str:
    """The newest revision the code knows."""
    return _revisions()[0]


def known_revisions() -> frozenset[str]:
    """Every revision the code knows (a database at another one was migrated by newer code)."""
    return _revisions()[1]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the database to ``revision``; returns (before, after). A no-op when current.

    Waits while another process migrates the same database.
    """
    with stage_lock(engine, "migrations", wait=True):
        before = current_revision(engine)
        from alembic import command

        config = _config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        return before, current_revision(engine) or ""
