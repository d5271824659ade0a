"""Many nodes, one database: search builds published in the database, leases, and an index on
``papers.modified_at`` for the live search delta.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``index_generations``, ``index_chunks`` and ``leases``; index ``modified_at``."""
    op.create_index("ix_papers_modified_at", "papers", ["modified_at"])
    op.create_table(
        "index_generations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("build", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("watermark", UTCDateTime()),
        sa.Column("papers", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_index_generations"),
        sa.UniqueConstraint("build", name="uq_index_generations_build"),
    )
    op.create_table(
        "index_chunks",
        sa.Column(
            "generation_id",
            sa.Integer,
            sa.ForeignKey(
                "index_generations.id",
                ondelete="CASCADE",
                name="fk_index_chunks_generation_id_index_generations",
            ),
        ),
        sa.Column("file", sa.String(64)),
        sa.Column("seq", sa.Integer),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("generation_id", "file", "seq", name="pk_index_chunks"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Index files are mostly floats: compressing them costs time and saves little.
        op.execute("ALTER TABLE index_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64)),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    """Drop what ``upgrade`` made."""
    op.drop_table("leases")
    op.drop_table("index_chunks")
    op.drop_table("index_generations")
    op.drop_index("ix_papers_modified_at", table_name="papers")
