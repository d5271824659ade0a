"""Citation keys and comment math: ``papers.cite_key`` (indexed), comments re-rendered.

``cite_key`` is a paper's BibTeX key before its suffix (``vaswani2017attentionneed``): the
papers sharing one are found with one indexed query, and the second, third... of them get
``b``, ``c``... (queries/citations.py). Every stored paper gets its key here.

Comments keep ``$...$`` and ``\\(...\\)`` math as written now (Markdown used to eat the
backslashes and read ``*`` as emphasis inside it), so every stored comment is rendered again.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    """Add and fill the key column and its index; re-render every comment."""
    from dailypapers.community.markdown import render
    from dailypapers.ingest.citekey import key_base
    from dailypapers.storage.schema import UTCDateTime

    op.add_column("papers", sa.Column("cite_key", sa.String(128)))
    op.create_index("ix_papers_cite_key", "papers", ["cite_key"])
    papers = sa.table(
        "papers",
        sa.column("id", sa.String),
        sa.column("title", sa.Text),
        sa.column("authors", sa.JSON),
        sa.column("published_at", UTCDateTime()),
        sa.column("cite_key", sa.String),
    )
    conn = op.get_bind()
    update = (
        sa.update(papers)
        .where(papers.c.id == sa.bindparam("b_id"))
        .values(cite_key=sa.bindparam("b_key"))
    )
    last = ""
    while True:  # in id order, a batch at a time: bounded memory on a large site
        rows = conn.execute(
            sa.select(papers.c.id, papers.c.title, papers.c.authors, papers.c.published_at)
            .where(papers.c.id > last)
            .order_by(papers.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        values = [
            {
                "b_id": paper_id,
                "b_key": key_base(authors=authors or [], year=published.year, title=title),
            }
            for paper_id, title, authors, published in rows
        ]
        conn.execute(update, values)
        last = rows[-1][0]
    comments = sa.table(
        "comments", sa.column("id", sa.Integer), sa.column("body"), sa.column("html")
    )
    for comment_id, body in conn.execute(sa.select(comments.c.id, comments.c.body)).all():
        conn.execute(
            sa.update(comments)
            .where(comments.c.id == comment_id)
            .values(html=render(body) if body else "")
        )


def downgrade() -> None:
    """Drop the key column and its index (comments keep their HTML)."""
    op.drop_index("ix_papers_cite_key", table_name="papers")
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("cite_key")
