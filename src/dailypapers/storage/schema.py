"""Table definitions shared by SQLite and PostgreSQL (Alembic migrations create them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as naive UTC and gives back aware UTC datetimes on both backends."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, one C call per value: the stored text read as UTC by
        ``fromisoformat`` (0.15 us, where SQLAlchemy's regular expression then
        ``process_result_value`` took 2 us: 0.2 ms of a search's 20 rows of five datetimes);
        any other text goes the general way."""
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general

        def process(value: Any) -> dt.datetime | None:
            if isinstance(value, str):
                try:
                    parsed = dt.datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass
                else:
                    if parsed.tzinfo is dt.UTC:  # not a date alone, or text with an offset
                        return parsed
            result: dt.datetime | None = general(value)
            return result

        return process


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(320), nullable=True, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # Added by migration 0003 (community): accounts that can log in.
    Column("password_hash", String(255)),
    Column("email_verified_at", UTCDateTime()),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("banned_at", UTCDateTime()),
)
# Added by migration 0007: one account per username whatever its case.
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)

sessions = Table(
    "sessions",
    metadata,
    # SHA-256 of the cookie's token: a leaked table does not give working cookies.
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("expires_at", UTCDateTime()),  # None: until revoked
    Index("ix_api_tokens_user_id", "user_id"),
)

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_votes_paper_id", "paper_id"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer, ForeignKey("comments.id", ondelete="CASCADE")),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("edited_at", UTCDateTime()),
    Column("deleted_at", UTCDateTime()),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    # Added by migration 0006: the body's safe HTML, rendered once when written.
    Column("html", Text),
    Index("ix_comments_paper_id", "paper_id"),
    Index("ix_comments_user_id", "user_id"),
    Index("ix_comments_created_at", "created_at"),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("hits", Integer, nullable=False),
)

papers = Table(
    "papers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("primary_category", String(64), nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("comment", Text),
    Column("journal_ref", Text),
    Column("doi", Text),
    Column("license", Text),
    Column("upvotes", Integer, nullable=False, server_default="0"),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("content_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("modified_at", UTCDateTime(), nullable=False),
    # Added by migration 0010: the BibTeX key before its a/b/c suffix (ingest/citekey.py).
    Column("cite_key", String(128)),
    Index("ix_papers_published_at", "published_at"),
    Index("ix_papers_cite_key", "cite_key"),
    # Added by migration 0009: the live search delta reads papers changed since a build.
    Index("ix_papers_modified_at", "modified_at"),
)

paper_categories = Table(
    "paper_categories",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(64), primary_key=True),
    Index("ix_paper_categories_category", "category"),
)

# Added by migration 0014: each paper's authors with their folded surname, which author pages
# look up (ingest/author_names.py); written with the paper (storage/papers.py).
paper_authors = Table(
    "paper_authors",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("surname", String(200), nullable=False),
    Index("ix_paper_authors_surname", "surname"),
)

daily_entries = Table(
    "daily_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("submitted_by_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("submitter_name", String(200)),
    Column("submitter_fullname", String(200)),  # added by migration 0008
    Column("submitted_at", UTCDateTime(), nullable=False),  # when it was put on the list
    Column("origin", String(32), nullable=False),
    UniqueConstraint("paper_id", name="uq_daily_entries_paper_id"),
    Index("ix_daily_entries_day", "day"),
    Index("ix_daily_entries_submitted_by_id", "submitted_by_id"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("params", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("checkpoint", Text),
    Column("resumed_from", Integer, ForeignKey("ingest_runs.id", ondelete="SET NULL")),
    Column("new", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("featured", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Index("ix_ingest_runs_source_status", "source", "status"),
)

ingest_rejects = Table(
    "ingest_rejects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("ingest_runs.id", ondelete="CASCADE"), nullable=False),
    Column("ref", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_ingest_rejects_run_id", "run_id"),
)

EMBEDDING_DIM = 384


class EmbeddingVector(TypeDecorator[npt.NDArray[np.float32]]):
    """A float32 vector: pgvector's ``vector(384)`` on PostgreSQL, raw bytes on SQLite."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from pgvector.sqlalchemy import Vector

            return dialect.type_descriptor(Vector(EMBEDDING_DIM))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        array = np.asarray(value, dtype=np.float32)
        return array if dialect.name == "postgresql" else array.tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> npt.NDArray[np.float32] | None:
        if value is None:
            return None
        if isinstance(value, bytes | memoryview):
            return np.frombuffer(bytes(value), dtype=np.float32)
        return np.asarray(value, dtype=np.float32)


embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("vector", EmbeddingVector(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

site_meta = Table(
    "site_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Added by migration 0004 (subscriptions): email digests.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), unique=True),
    # pending (waiting for the confirmation link), active, unsubscribed, suspended (bounces).
    Column("status", String(16), nullable=False),
    Column("period", String(8), nullable=False),
    Column("trending_count", Integer, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("similar", Boolean, nullable=False, server_default="1"),
    Column("bounces", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime()),
    Column("unsubscribed_at", UTCDateTime()),
    Index("ix_subscriptions_status_period", "status", "period"),
)

digest_deliveries = Table(
    "digest_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # ``daily:2026-06-08`` or ``weekly:2026-W23``: one digest per subscription and period.
    Column("period_key", String(32), nullable=False),
    # sending (claimed; the SMTP outcome is unknown until marked), sent, failed.
    Column("status", String(16), nullable=False),
    Column("message_id", String(255)),
    Column("error", Text),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    UniqueConstraint("subscription_id", "period_key", name="uq_digest_deliveries_key"),
    Index("ix_digest_deliveries_period_key_status", "period_key", "status"),
)

job_locks = Table(
    "job_locks",
    metadata,
    # ``digest:daily:2026-06-08``: the first worker to insert the row runs the job.
    Column("key", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
)

# Added by migration 0009 (many nodes): search builds published in the database, and leases.
index_generations = Table(
    "index_generations",
    metadata,
    Column("id", Integer, primary_key=True),
    # The build's folder name (``build-<stamp>``), the same on every node that downloads it.
    Column("build", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # Papers changed after this were not in the build: the live delta covers them.
    Column("watermark", UTCDateTime()),
    Column("papers", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    # {"files": {name: {"size": n, "sha256": hex}}}: what a node checks after downloading.
    Column("manifest", JSON, nullable=False),
)

index_chunks = Table(
    "index_chunks",
    metadata,
    Column(
        "generation_id",
        Integer,
        ForeignKey("index_generations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("file", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    # ``runner``: one holder at a time; a holder that stops renewing loses it at expires_at.
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# Added by migration 0011 (feeds): one private feed link per user, kept as a hash only.
feed_tokens = Table(
    "feed_tokens",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Added by migration 0012 (follows): what each member follows, the one place the web site,
# the API, "For you" and the email digest read a member's categories, authors and keywords.
follows = Table(
    "follows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # category (cs.CL), author (a name as written), keyword, user (a member's username).
    Column("kind", String(16), nullable=False),
    Column("value", String(200), nullable=False),
    # The value folded for uniqueness (case and spaces): "Yann LeCun" and "yann  lecun" are one.
    Column("key", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "kind", "key", name="uq_follows_user_id_kind_key"),
    Index("ix_follows_kind_key", "kind", "key"),
)

# "Not interested" on a For you pick: a negative example for the member's ranking.
not_interested = Table(
    "not_interested",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Added by migration 0013 (reading lists and library imports, storage/lists.py and
# storage/library.py). A list's ``token`` is its address (unguessable: an unlisted list is
# a secret link); ``visibility`` is private, unlisted or public.
reading_lists = Table(
    "reading_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("visibility", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "name", name="uq_reading_lists_user_id_name"),
)

list_items = Table(
    "list_items",
    metadata,
    Column(
        "list_id", Integer, ForeignKey("reading_lists.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("note", Text, nullable=False, server_default=""),  # private: shown to the owner only
    Column("added_at", UTCDateTime(), nullable=False),
    Index("ix_list_items_paper_id", "paper_id"),
)

library_imports = Table(
    "library_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("format", String(16)),  # bibtex, ris, csl-json, ids (known once parsed)
    # queued, running, done, failed.
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("processed", Integer, nullable=False, server_default="0"),
    Column("matched", Integer, nullable=False, server_default="0"),
    Column("list_id", Integer, ForeignKey("reading_lists.id", ondelete="SET NULL")),
    Column("error", Text),
    Column("payload", LargeBinary),  # the uploaded file until it is parsed
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index("ix_library_imports_user_id", "user_id"),
)

library_entries = Table(
    "library_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "import_id",
        Integer,
        ForeignKey("library_imports.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(32), nullable=False),  # article, misc, JOUR, ... as the file said
    Column("cite_key", String(200)),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("year", Integer),
    Column("doi", String(255)),
    Column("arxiv_id", String(64)),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="SET NULL")),
    Column("matched_by", String(16)),  # arxiv, doi, title; None: not on this site
    Index("ix_library_entries_import_id", "import_id"),
    Index("ix_library_entries_user_id", "user_id"),
)
