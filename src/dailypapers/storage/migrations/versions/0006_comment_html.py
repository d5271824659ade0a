"""Comments keep their rendered HTML: ``comments.html``, filled for every existing comment.

Pages used to render each comment's Markdown on every view; hostile Markdown costs about half a
second a comment to render, so a few such comments made a paper page take seconds per visitor.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column and render every stored comment into it."""
    from dailypapers.community.markdown import render

    op.add_column("comments", sa.Column("html", sa.Text()))
    comments = sa.table(
        "comments", sa.column("id", sa.Integer), sa.column("body"), sa.column("html")
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(comments.c.id, comments.c.body)).all()
    for comment_id, body in rows:
        conn.execute(
            sa.update(comments)
            .where(comments.c.id == comment_id)
            .values(html=render(body) if body else "")
        )


def downgrade() -> None:
    """Drop the column (pages render the Markdown again)."""
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("html")
