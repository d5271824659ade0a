"""Subscriptions: email digest subscribers, one delivery row per subscriber and period, and
job locks for the schedule inside ``serve``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the subscriptions, digest_deliveries and job_locks tables."""
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_subscriptions_user_id_users"),
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("trending_count", sa.Integer, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("similar", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("bounces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime()),
        sa.Column("unsubscribed_at", UTCDateTime()),
        sa.UniqueConstraint("email", name="uq_subscriptions_email"),
        sa.UniqueConstraint("user_id", name="uq_subscriptions_user_id"),
    )
    op.create_index("ix_subscriptions_status_period", "subscriptions", ["status", "period"])
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey(
                "subscriptions.id",
                ondelete="CASCADE",
                name="fk_digest_deliveries_subscription_id_subscriptions",
            ),
            nullable=False,
        ),
        sa.Column("period_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(255)),
        sa.Column("error", sa.Text),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.UniqueConstraint("subscription_id", "period_key", name="uq_digest_deliveries_key"),
    )
    op.create_index(
        "ix_digest_deliveries_period_key_status", "digest_deliveries", ["period_key", "status"]
    )
    op.create_table(
        "job_locks",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
    )


def downgrade() -> None:
    """Drop the subscription tables."""
    for table in ("job_locks", "digest_deliveries", "subscriptions"):
        op.drop_table(table)
