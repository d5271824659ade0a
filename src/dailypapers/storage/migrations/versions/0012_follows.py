"""Follows: ``follows`` holds every member's followed categories, authors, keywords and
members, and ``not_interested`` their "not interested" marks on For you picks.

The email digest's preferences of members move here: the categories, keywords and authors of
each subscription linked to an account become follows, and the subscription's own lists are
emptied (they stay only for subscribers without an account). Downgrading copies them back.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

KINDS = (("categories", "category"), ("keywords", "keyword"), ("authors", "author"))


def _key(value: str) -> str:
    return " ".join(value.split()).lower()


def upgrade() -> None:
    """Create the tables and move members' digest preferences into ``follows``."""
    follows = op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_follows_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follows"),
        sa.UniqueConstraint("user_id", "kind", "key", name="uq_follows_user_id_kind_key"),
    )
    op.create_index("ix_follows_kind_key", "follows", ["kind", "key"])
    op.create_table(
        "not_interested",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_not_interested_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_not_interested_paper_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "paper_id", name="pk_not_interested"),
    )
    subs = sa.table(
        "subscriptions",
        sa.column("id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("categories", sa.JSON),
        sa.column("keywords", sa.JSON),
        sa.column("authors", sa.JSON),
    )
    bind = op.get_bind()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows: list[dict[str, object]] = []
    moved: list[int] = []
    for sub in bind.execute(sa.select(subs).where(subs.c.user_id.is_not(None))).mappings():
        seen: set[tuple[str, str]] = set()
        for column, kind in KINDS:
            for value in sub[column] or []:
                value = " ".join(str(value).split())[:200]
                if value and (kind, _key(value)) not in seen:
                    seen.add((kind, _key(value)))
                    rows.append(
                        {
                            "user_id": sub["user_id"],
                            "kind": kind,
                            "value": value,
                            "key": _key(value),
                            "created_at": now,
                        }
                    )
        moved.append(int(sub["id"]))
    if rows:
        op.bulk_insert(follows, rows)
    if moved:
        bind.execute(
            sa.update(subs)
            .where(subs.c.id.in_(moved))
            .values(categories=[], keywords=[], authors=[])
        )


def downgrade() -> None:
    """Copy members' followed categories, keywords and authors back into their subscription,
    then drop the tables."""
    bind = op.get_bind()
    subs = sa.table(
        "subscriptions",
        sa.column("id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("categories", sa.JSON),
        sa.column("keywords", sa.JSON),
        sa.column("authors", sa.JSON),
    )
    follows = sa.table(
        "follows",
        sa.column("id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
    )
    found: dict[int, dict[str, list[str]]] = {}
    for user_id, kind, value in bind.execute(
        sa.select(follows.c.user_id, follows.c.kind, follows.c.value).order_by(follows.c.id)
    ):
        found.setdefault(int(user_id), {}).setdefault(str(kind), []).append(str(value))
    for user_id, kinds in found.items():
        bind.execute(
            sa.update(subs)
            .where(subs.c.user_id == user_id)
            .values(
                categories=kinds.get("category", [])[:20],
                keywords=kinds.get("keyword", [])[:20],
                authors=kinds.get("author", [])[:20],
            )
        )
    op.drop_table("not_interested")
    op.drop_index("ix_follows_kind_key", table_name="follows")
    op.drop_table("follows")
