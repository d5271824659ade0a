"""API tokens can expire: ``api_tokens.expires_at`` (NULL: valid until revoked).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the expiry column (existing tokens keep working until revoked)."""
    op.add_column("api_tokens", sa.Column("expires_at", UTCDateTime()))


def downgrade() -> None:
    """Drop the expiry column."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
