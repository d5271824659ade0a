"""Listing time and the submitter's full name on daily entries.

``daily_entries.submitted_at`` is when a paper was put on its list. Entries written by an
import or by the feed rule took the time the row was written (a June day loaded in November
said November); such entries (no account submitted them) that were written after their
day are given their day's arXiv announcement time, midnight in New York. Re-importing from
Hugging Face sets HF's own time. ``submitter_fullname`` keeps the full name an import
gives next to the username.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ARXIV_TZ = zoneinfo.ZoneInfo("America/New_York")


def _announced(day: dt.date | str) -> dt.datetime:
    if isinstance(day, str):
        day = dt.date.fromisoformat(day[:10])
    return dt.datetime.combine(day, dt.time(), _ARXIV_TZ).astimezone(dt.UTC)


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC)  # stored as naive UTC


def upgrade() -> None:
    """Add the column, then give imported entries written after their day that day's time."""
    with op.batch_alter_table("daily_entries") as batch:
        batch.add_column(sa.Column("submitter_fullname", sa.String(200)))
    entries = sa.table(
        "daily_entries",
        sa.column("id", sa.Integer),
        sa.column("day", sa.Date),
        sa.column("submitted_by_id", sa.Integer),
        sa.column("submitted_at", sa.DateTime()),  # naive UTC, as UTCDateTime stores it
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(entries.c.id, entries.c.day, entries.c.submitted_at).where(
            entries.c.submitted_by_id.is_(None)
        )
    ).all()
    fixes = []
    for entry_id, day, written in rows:
        announced = _announced(day)
        if _aware(written) > announced + dt.timedelta(days=2):
            fixes.append({"b_id": entry_id, "b_at": announced.replace(tzinfo=None)})
    if fixes:
        conn.execute(
            sa.update(entries)
            .where(entries.c.id == sa.bindparam("b_id"))
            .values(submitted_at=sa.bindparam("b_at")),
            fixes,
        )


def downgrade() -> None:
    """Drop the column (listing times stay corrected)."""
    with op.batch_alter_table("daily_entries") as batch:
        batch.drop_column("submitter_fullname")
