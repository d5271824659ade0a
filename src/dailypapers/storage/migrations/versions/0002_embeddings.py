"""Embeddings keyed by paper, model and text hash; pgvector with an HNSW index on PostgreSQL.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import EmbeddingVector, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the embeddings table (and the pgvector extension and index on PostgreSQL)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "embeddings",
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE", name="fk_embeddings_paper_id_papers"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("vector", EmbeddingVector(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    if postgres:
        op.execute(
            "CREATE INDEX ix_embeddings_vector_hnsw ON embeddings "
            "USING hnsw (vector vector_cosine_ops)"
        )


def downgrade() -> None:
    """Drop the embeddings table."""
    op.drop_table("embeddings")
