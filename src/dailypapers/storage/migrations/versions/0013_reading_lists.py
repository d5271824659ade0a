"""Reading lists and library imports: ``reading_lists``, ``list_items``, ``library_imports``
and ``library_entries`` (storage/lists.py, storage/library.py).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dailypapers.storage.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the four tables (nobody has a list yet)."""
    op.create_table(
        "reading_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _user_fk("reading_lists"),
        sa.PrimaryKeyConstraint("id", name="pk_reading_lists"),
        sa.UniqueConstraint("token", name="uq_reading_lists_token"),
        sa.UniqueConstraint("user_id", "name", name="uq_reading_lists_user_id_name"),
    )
    op.create_table(
        "list_items",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["reading_lists.id"],
            name="fk_list_items_list_id_reading_lists",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name="fk_list_items_paper_id_papers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("list_id", "paper_id", name="pk_list_items"),
    )
    op.create_index("ix_list_items_paper_id", "list_items", ["paper_id"])
    op.create_table(
        "library_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("format", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("processed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("matched", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("list_id", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("payload", sa.LargeBinary()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        _user_fk("library_imports"),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["reading_lists.id"],
            name="fk_library_imports_list_id_reading_lists",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_library_imports"),
    )
    op.create_index("ix_library_imports_user_id", "library_imports", ["user_id"])
    op.create_table(
        "library_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cite_key", sa.String(200)),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("year", sa.Integer()),
        sa.Column("doi", sa.String(255)),
        sa.Column("arxiv_id", sa.String(64)),
        sa.Column("paper_id", sa.String(64)),
        sa.Column("matched_by", sa.String(16)),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["library_imports.id"],
            name="fk_library_entries_import_id_library_imports",
            ondelete="CASCADE",
        ),
        _user_fk("library_entries"),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_library_entries_paper_id_papers",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_library_entries"),
    )
    op.create_index("ix_library_entries_import_id", "library_entries", ["import_id"])
    op.create_index("ix_library_entries_user_id", "library_entries", ["user_id"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("library_entries")
    op.drop_table("library_imports")
    op.drop_table("list_items")
    op.drop_table("reading_lists")
