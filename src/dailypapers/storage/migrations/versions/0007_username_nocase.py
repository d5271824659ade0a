"""Usernames are unique whatever their case: a unique index on ``lower(username)``.

Sign-up checked case-insensitively, but the database only refused exact duplicates, so on
PostgreSQL two sign-ups at once as ``alice`` and ``Alice`` both succeeded (one profile page,
two people). An existing case-variant duplicate (only such a race made one) is renamed to
``<name>-<id>`` so the index can be built.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Rename case-variant duplicates (all but the oldest), then add the index."""
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    conn = op.get_bind()
    seen: set[str] = set()
    for user_id, username in conn.execute(
        sa.select(users.c.id, users.c.username).order_by(users.c.id)
    ).all():
        if username.lower() in seen:
            renamed = f"{username}-{user_id}"
            conn.execute(sa.update(users).where(users.c.id == user_id).values(username=renamed))
        seen.add(username.lower())
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("uq_users_username_lower", table_name="users")
