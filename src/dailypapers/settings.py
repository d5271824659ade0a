"""The one typed settings object: every knob, its default and its meaning.

All settings come from environment variables with the ``DAILYPAPERS_`` prefix
(or a ``.env`` file in the working directory).  ``docs/settings.md`` lists every
field; a test checks that it does.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets copied from examples and templates: anyone can sign links with them, so they are
# refused outright (compared case-insensitively, ignoring spaces, dashes and underscores).
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "changethis", "secret", "secretkey", "password", "default", "test", "xxx"}
)
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


class Settings(BaseSettings):
    """Settings for every part of dailypapers (env prefix ``DAILYPAPERS_``)."""

    model_config = SettingsConfigDict(
        env_prefix="DAILYPAPERS_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses to start with the placeholder secret key.",
    )
    data_dir: Path = Field(
        Path("./data"),
        description="The one directory that holds all state (SQLite file, indexes, checkpoints).",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. Empty means SQLite at `<data_dir>/dailypapers.sqlite3`. "
        "For PostgreSQL: `postgresql+psycopg://user:pass@host:5432/dbname`.",
    )
    secret_key: str = Field(
        "",
        description="Signs cookies and tokens (sign-in, email, unsubscribe links). Empty: a "
        "random key is made on first start and kept in `<data_dir>/secret_key` (mode 600); every "
        "node of a multi-node install must share it (same file or same value). Placeholders "
        "such as `change-me` are refused.",
    )
    site_name: str = Field("Daily Papers", description="Name shown in the header and titles.")
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL of the site, used for absolute links in feeds and emails. When "
        "it is not set, `serve` and `demo` use the address they serve (`--host`, `--port`; "
        "the machine's name for `--host 0.0.0.0`). Never taken from a request's `Host` header.",
    )
    demo_as_of: dt.date | None = Field(
        None,
        description="Set by `dailypapers demo` to the sample's last day, never in production: "
        "the site says it is a demo, trending, submissions and digest previews count from this "
        "day instead of today, and with no SMTP server the sign-up and subscription pages show "
        "the confirmation link the outbox received.",
    )
    page_size: int = Field(
        50, ge=1, le=500, description="Papers per page on day, week and month lists."
    )
    feed_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["cs.AI", "cs.CL", "cs.CV", "cs.LG"],
        description="Newly announced papers whose primary category is in this list are put on "
        "their day's list automatically. Comma-separated or JSON list; empty disables the rule.",
    )
    feed_cross_lists: bool = Field(
        False,
        description="Also feature papers cross-listed into `feed_categories` "
        "(any category matches).",
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="arXiv API (Atom) endpoint."
    )
    arxiv_oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint."
    )
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org/atom",
        description="arXiv listing feeds; the category list is appended, e.g. `/cs.LG+cs.CL`.",
    )
    arxiv_request_interval: float = Field(
        3.0, ge=0, description="Minimum seconds between two requests to arXiv (arXiv asks for 3)."
    )
    arxiv_max_retries: int = Field(
        5, ge=0, description="Retries on HTTP 429/5xx and network errors, with backoff."
    )
    arxiv_timeout: float = Field(
        30.0, gt=0, description="Seconds before an arXiv request times out."
    )
    user_agent: str = Field(
        "dailypapers/0.1 (self-hosted; +https://github.com/dailypapers)",
        description="User-Agent sent to arXiv.",
    )
    semantic_search: bool = Field(
        True,
        description="Embed papers and queries with all-MiniLM-L6-v2 (CPU) for semantic and hybrid "
        "search and related papers. False gives keyword-only search on very small servers.",
    )
    embedding_engine: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime",
        description="What embeds papers in the index stage: `onnxruntime` (installed with "
        "dailypapers) or `openvino` (`pip install 'dailypapers[openvino]'`, about 185 MB more). "
        "The same model file and vectors that agree at cosine 0.9998, so switching re-embeds "
        "nothing; OpenVINO embeds papers about 1.85x as fast on a CPU with AVX-512 VNNI and BF16 "
        "(measured on AMD Zen 4; without VNNI it computes in float32) and holds about 200 MiB "
        "more in the process that indexes. Queries are embedded by ONNX Runtime either way. See "
        'docs/search.md, "Engines".',
    )
    vector_search: Literal["auto", "pgvector"] = Field(
        "auto",
        description="Where semantic candidates come from. `auto`: the index snapshot's HNSW "
        "graph when it has one (50,000+ papers), else pgvector on PostgreSQL, else an exact "
        "scan. `pgvector`: pgvector's HNSW index for every unfiltered search (PostgreSQL only; "
        "keep the index in memory, see docs/search.md).",
    )
    index_follow_seconds: float = Field(
        10.0,
        ge=0,
        description="Every this many seconds each web process reads papers added or changed "
        "since its search index was built (the live delta: found by search at once, without "
        "`index`) and, on PostgreSQL, switches to a newer build published by any node "
        "(downloaded into its own data directory). 0 turns following off.",
    )
    index_rebuild_delta: int = Field(
        5000,
        ge=1,
        description="The job runner rebuilds and publishes the search index when this many "
        "papers were added or changed since the last build.",
    )
    index_rebuild_hours: float = Field(
        24.0,
        gt=0,
        description="The job runner also rebuilds the search index when the newest build is "
        "this old and papers changed since.",
    )
    jobs_lease_seconds: int = Field(
        60,
        ge=5,
        description="The job runner's lease in the database lasts this long and is renewed "
        "every third of it; when a runner dies, another takes over after it expires.",
    )
    embed_batch_size: int = Field(
        256, ge=1, le=4096, description="Papers per embedding batch (and per commit) in `index`."
    )
    ingest_batch_size: int = Field(
        2000, ge=1, description="Records per transaction (and per checkpoint) during ingest."
    )

    session_days: int = Field(
        30, ge=1, le=365, description="Days a login session lasts before the user logs in again."
    )
    email_token_hours: int = Field(
        48, ge=1, description="Hours an email-verification or subscription link stays valid."
    )
    password_reset_minutes: int = Field(
        60, ge=5, description="Minutes a password-reset link stays valid (it works once)."
    )
    submit_window_days: int = Field(
        14,
        ge=0,
        description="Papers can be submitted to today's list up to this many days after "
        "their first arXiv version.",
    )
    submit_fetch_timeout: float = Field(
        8.0,
        gt=0,
        description="Seconds a submission waits for arXiv to send a paper this site does not "
        "have yet (one attempt, no retries); past it the submitter is asked to try again.",
    )
    submit_fetch_slots: int = Field(
        2,
        ge=1,
        description="Submissions that may wait on arXiv at the same time; more are answered "
        "503 (busy, try again) at once, so a slow arXiv cannot tie up the request threads.",
    )
    rate_limit_signup: str = Field(
        "5/hour",
        description="Sign-ups per client address. Format `N/second|minute|hour|day`; "
        "`off` disables a limit (this applies to every `rate_limit_*`).",
    )
    rate_limit_login: str = Field("10/minute", description="Log-in attempts per client address.")
    rate_limit_password_reset: str = Field(
        "5/hour", description="Password-reset requests per client address."
    )
    rate_limit_submit: str = Field("30/hour", description="Paper submissions per user.")
    rate_limit_comment: str = Field("20/hour", description="Comments (and edits) per user.")
    rate_limit_upvote: str = Field("120/minute", description="Upvotes and un-votes per user.")
    rate_limit_follow: str = Field(
        "120/minute", description='Follows, unfollows and "not interested" marks per user.'
    )
    rate_limit_for_you: str = Field(
        "60/minute", description="For you pages and `/api/for-you` calls per user."
    )
    rate_limit_lists: str = Field(
        "300/hour", description="Reading-list changes (new lists, saves and removals) per user."
    )
    rate_limit_import: str = Field("10/hour", description="Library uploads per user.")
    import_max_kb: int = Field(
        20480,
        ge=1,
        description="Largest library upload (BibTeX, RIS, CSL-JSON) accepted at "
        "`/lists/import`, in KiB; larger ones get 413. Other requests keep `body_limit_kb`.",
    )
    cache_vote_lag: float = Field(
        2.0,
        ge=0,
        description="Seconds anonymous (cached) pages may lag behind a stream of new votes. "
        "An isolated vote shows at once; logged-in visitors always see live counts.",
    )
    smtp_host: str = Field(
        "",
        description="SMTP server for account and digest mail. Empty: messages are written to "
        "`<data_dir>/outbox/` as .eml files and their links logged (development).",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="`starttls` (port 587), `ssl` (implicit TLS, port 465) or `none` "
        "(loopback relays only).",
    )
    smtp_user: str = Field("", description="SMTP user name; empty for no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_timeout: float = Field(20.0, gt=0, description="Seconds before an SMTP command times out.")
    mail_from: str = Field(
        "Daily Papers <noreply@localhost>", description="From address of every message."
    )
    digest_trending_default: int = Field(
        10, ge=1, le=50, description="Trending papers in a new subscriber's digest."
    )
    digest_max_bounces: int = Field(
        3,
        ge=1,
        description="A subscription is suspended after this many consecutive permanent "
        "delivery failures (bounces).",
    )
    digest_unsubscribe_mailto: str = Field(
        "",
        description="Optional address for `List-Unsubscribe: <mailto:...>` (the one-click "
        "HTTPS link is always sent).",
    )
    digest_schedule_at: str = Field(
        "",
        pattern=r"^$|^([01]\d|2[0-3]):[0-5]\d$",
        description="`HH:MM` (UTC): `serve` runs the daily digest (weekdays) and the weekly "
        "digest (Mondays) at this time, once across all workers. Empty: off (use cron).",
    )
    digest_schedule_ingest: bool = Field(
        False,
        description="With `digest_schedule_at`: read today's arXiv listings "
        "(`ingest rss`) before sending the digests.",
    )
    rate_limit_subscribe: str = Field(
        "5/hour", description="Digest subscription requests per client address."
    )
    rate_limit_mail_recipient: str = Field(
        "5/hour",
        description="Mails sent on request (sign-up, log-in, reset and subscription links) "
        "per recipient address, whoever asks: over it, the page answers as usual and no mail "
        "is sent.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "`X-Forwarded-For`/`X-Forwarded-Proto` are believed (client addresses for rate limits); "
        "`*` trusts every peer (only when nothing but the proxy can reach the app).",
    )
    body_limit_kb: int = Field(
        1024,
        ge=1,
        description="Largest request body accepted, in KiB; larger ones get 413 before they "
        "are read.",
    )
    cache_freshness: float = Field(
        1.0,
        ge=0,
        description="Seconds a web worker keeps using the site revision it last read before "
        "reading it again: cached anonymous pages show writes made by other processes or "
        "nodes within this time (a worker's own writes show at once). 0 reads it on every "
        "request.",
    )
    cache_max_mb: int = Field(
        64,
        ge=0,
        description="Memory for cached anonymous pages per worker process, in MiB (least "
        "recently used pages are dropped first); 0 turns the cache off.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="Least severe log level written (to standard error) by `serve`, `jobs` and "
        "the other commands. Each request is one INFO line of the `dailypapers.access` logger.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text`: one readable line per event; `json`: one JSON object per line "
        "(time, level, logger, message, and for requests method, path, route, status, "
        "duration_ms, request_id, client).",
    )
    access_log: bool = Field(
        True, description="Log one line per HTTP request (`dailypapers.access`, level INFO)."
    )
    metrics_token: str = Field(
        "",
        description="Bearer token that unlocks Prometheus `/metrics`. Empty: `/metrics` is off "
        "(404). Metrics are per worker process (see docs/operations.md).",
    )
    jobs_at: str = Field(
        "06:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="`HH:MM` (UTC): `dailypapers jobs` runs the day's work at this time, once "
        "across all runners: `ingest rss` (with `jobs_ingest`), `index`, then the daily digest "
        "(weekdays) and the weekly one (Mondays).",
    )
    jobs_ingest: bool = Field(
        True,
        description="`dailypapers jobs` reads today's arXiv listings of `feed_categories` "
        "before indexing and sending digests.",
    )

    @field_validator("rate_limit_subscribe", "rate_limit_mail_recipient")
    @classmethod
    def _check_subscribe_rate(cls, value: str) -> str:
        from dailypapers.community.ratelimit import parse_rate

        parse_rate(value)
        return value

    @field_validator(
        "rate_limit_signup",
        "rate_limit_login",
        "rate_limit_password_reset",
        "rate_limit_submit",
        "rate_limit_comment",
        "rate_limit_upvote",
        "rate_limit_follow",
        "rate_limit_for_you",
        "rate_limit_lists",
        "rate_limit_import",
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        from dailypapers.community.ratelimit import parse_rate

        parse_rate(value)
        return value

    @field_validator("feed_categories", mode="before")
    @classmethod
    def _split_categories(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("secret_key")
    @classmethod
    def _refuse_placeholder(cls, value: str) -> str:
        if is_placeholder_secret(value):
            raise ValueError(
                f"DAILYPAPERS_SECRET_KEY is a placeholder ({value!r}) that anyone could sign "
                "links with: set a long random value (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))') or leave it empty to have one generated "
                "in the data directory"
            )
        return value

    @model_validator(mode="after")
    def _resolve_secret(self) -> Settings:
        if not self.secret_key:
            # Frozen model: the generated key replaces the empty value once, here.
            object.__setattr__(self, "secret_key", stored_secret(self.data_dir / SECRET_FILE))
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError(
                "DAILYPAPERS_SECRET_KEY must be a random value of at least 32 characters "
                "in production (or empty, to use the generated one)"
            )
        if self.environment == "production" and self.demo_as_of is not None:
            raise ValueError(
                "DAILYPAPERS_DEMO_AS_OF is for `dailypapers demo` only, not production"
            )
        return self

    def now(self) -> dt.datetime:
        """The time trending and submissions count from: now, or noon (UTC) of ``demo_as_of``."""
        if self.demo_as_of is not None:
            return dt.datetime.combine(self.demo_as_of, dt.time(12), dt.UTC)
        return dt.datetime.now(dt.UTC)

    @property
    def secure_cookies(self) -> bool:
        """Mark cookies Secure when the site is served over HTTPS."""
        return self.base_url.startswith("https://")

    @property
    def outbox_dir(self) -> Path:
        """Where messages go when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @property
    def index_dir(self) -> Path:
        """Where search snapshots live."""
        return self.data_dir / "index"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dailypapers.sqlite3').resolve()}"


def is_placeholder_secret(value: str) -> bool:
    """Whether ``value`` is a well-known example secret (``change-me``, ``secret``...)."""
    folded = "".join(ch for ch in value.lower() if ch.isalnum())
    return bool(value) and (not folded or folded in PLACEHOLDER_SECRETS)


def stored_secret(path: Path) -> str:
    """The key kept in ``path``, made (random, mode 600) by the first process that needs it."""
    try:
        return _stored_secret(path)
    except OSError as exc:  # a read-only or missing data directory: say what to do
        raise ValueError(
            f"cannot keep a generated secret key in {path} ({exc.strerror or exc}): make the "
            "data directory writable or set DAILYPAPERS_SECRET_KEY"
        ) from None


def _stored_secret(path: Path) -> str:
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(fresh, path)  # atomic: of two workers starting together, one key wins
    except FileExistsError:
        pass
    finally:
        fresh.unlink()
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(f"{path} is empty: delete it or set DAILYPAPERS_SECRET_KEY")
    return secret


@functools.cache
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own ``Settings``)."""
    return Settings()
