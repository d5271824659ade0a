"""Author pages look up authors by folded surname: ``paper_authors`` holds each paper's
authors with their position and folded surname (ingest/author_names.py), filled here for the
papers already stored and written with every paper from now on (storage/papers.py).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

from dailypapers.storage.browse import author_rows

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 2000  # papers read per round of the backfill


def upgrade() -> None:
    """Create the table and its surname index, then fill it from every stored paper."""
    op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("surname", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_paper_authors_paper_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "position", name="pk_paper_authors"),
    )
    op.create_index("ix_paper_authors_surname", "paper_authors", ["surname"])
    bind = op.get_bind()
    table = sa.table(
        "paper_authors",
        sa.column("paper_id", sa.String),
        sa.column("position", sa.Integer),
        sa.column("name", sa.Text),
        sa.column("surname", sa.String),
    )
    last = ""
    while True:
        batch = bind.execute(
            sa.text("SELECT id, authors FROM papers WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not batch:
            return
        rows = []
        for paper_id, authors in batch:
            names = orjson.loads(authors) if isinstance(authors, (str, bytes)) else authors
            rows += author_rows(paper_id, [n for n in names if isinstance(n, str)])
        if rows:
            bind.execute(table.insert(), rows)
        last = batch[-1][0]


def downgrade() -> None:
    """Drop the table (the papers keep their author lists)."""
    op.drop_index("ix_paper_authors_surname", table_name="paper_authors")
    op.drop_table("paper_authors")
