"""Initial schema: papers, categories, daily lists, users, ingest runs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the core tables."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(64), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("doi", sa.Text),
        sa.Column("license", sa.Text),
        sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_papers_published_at", "papers", ["published_at"])
    op.create_table(
        "paper_categories",
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey(
                "papers.id", ondelete="CASCADE", name="fk_paper_categories_paper_id_papers"
            ),
            primary_key=True,
        ),
        sa.Column("category", sa.String(64), primary_key=True),
    )
    op.create_index("ix_paper_categories_category", "paper_categories", ["category"])
    op.create_table(
        "daily_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE", name="fk_daily_entries_paper_id_papers"),
            nullable=False,
        ),
        sa.Column(
            "submitted_by_id",
            sa.Integer,
            sa.ForeignKey(
                "users.id", ondelete="SET NULL", name="fk_daily_entries_submitted_by_id_users"
            ),
        ),
        sa.Column("submitter_name", sa.String(200)),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("origin", sa.String(32), nullable=False),
        sa.UniqueConstraint("paper_id", name="uq_daily_entries_paper_id"),
    )
    op.create_index("ix_daily_entries_day", "daily_entries", ["day"])
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("checkpoint", sa.Text),
        sa.Column(
            "resumed_from",
            sa.Integer,
            sa.ForeignKey(
                "ingest_runs.id",
                ondelete="SET NULL",
                name="fk_ingest_runs_resumed_from_ingest_runs",
            ),
        ),
        sa.Column("new", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("featured", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_ingest_runs_source_status", "ingest_runs", ["source", "status"])
    op.create_table(
        "ingest_rejects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey(
                "ingest_runs.id", ondelete="CASCADE", name="fk_ingest_rejects_run_id_ingest_runs"
            ),
            nullable=False,
        ),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_ingest_rejects_run_id", "ingest_rejects", ["run_id"])
    op.create_table(
        "site_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the core tables."""
    for table in (
        "site_meta",
        "ingest_rejects",
        "ingest_runs",
        "daily_entries",
        "paper_categories",
        "papers",
        "users",
    ):
        op.drop_table(table)
