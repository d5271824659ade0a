"""A small site for the feed and HTTP-convention tests: listed papers on two days, a hostile
title, a member with a submission, an upvote and digest preferences, and a keyword index."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from dailypapers.community import accounts
from dailypapers.email import subscribers
from dailypapers.index.build import run_index
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage import community
from dailypapers.storage.engine import write_transaction
from tests.core.helpers import raw

BASE = "http://papers.example.org"  # not the test client's Host: links must come from here
PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script> & <b>bold</b> ]]> "quoted" \'single\''
LONG_ABSTRACT = " ".join(
    f"Sentence {n} about transformers, graphs and robots <em>not markup</em>." for n in range(60)
)


@dataclass
class SiteData:
    """What the site holds: ids by role and the member's id."""

    today: dt.date
    older: dt.date
    member_id: int
    submitted: str
    upvoted: str


def site_settings(settings: Settings) -> Settings:
    """The test settings with the feeds' base URL, no rate limits and keyword-only search."""
    return settings.model_copy(
        update={
            "base_url": BASE,
            "semantic_search": False,
            "rate_limit_signup": "off",
            "rate_limit_login": "off",
            "rate_limit_submit": "off",
            "rate_limit_upvote": "off",
            "cache_vote_lag": 0,
        }
    )


def fill(engine: Engine, settings: Settings) -> SiteData:
    """Ingest, list, submit, upvote, subscribe and index (see the module doc)."""
    today = dt.datetime.now(dt.UTC).date()
    older = today - dt.timedelta(days=10)
    t, o = today.isoformat(), older.isoformat()
    records = [
        raw(
            "2606.00001",
            title="Parsing language",
            categories=["cs.CL"],
            day=t,
            published=f"{t}T01:00:00Z",
            authors=["Grace Hopper"],
        ),
        raw(
            "2606.00002",
            title="Learning graphs",
            categories=["cs.LG", "stat.ML"],
            day=t,
            published=f"{t}T02:00:00Z",
            abstract=LONG_ABSTRACT,
        ),
        raw(
            "2606.00003",
            title=HOSTILE,
            categories=["cs.CV"],
            day=t,
            published=f"{t}T03:00:00Z",
            abstract=f"Abstract with {HOSTILE} inside.",
        ),
        raw(
            "2606.00004",
            title="Old statistics",
            categories=["stat.ML"],
            day=o,
            published=f"{o}T04:00:00Z",
        ),
        raw(
            "2606.00005",
            title="Robots submitted",
            categories=["cs.RO"],
            day=None,
            published=f"{t}T05:00:00Z",
        ),
    ]
    report = run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "feeds"},
        records=lambda _: records,
        explicit_days=True,
    )
    assert report.rejected == 0, report.summary()
    with write_transaction(engine) as conn:
        member = accounts.create_user(
            conn, email="ada@example.org", password=PASSWORD, username="ada"
        )
        community.submit_entry(conn=conn, paper_id="2606.00005", day=today, user_id=member["id"])
        community.add_vote(conn=conn, user_id=member["id"], paper_id="2606.00002")
    prefs = subscribers.preferences(categories="cs.RO", keywords="transformers")
    subscribers.for_user(engine, user=member, prefs=prefs, settings=settings)
    run_index(engine=engine, root=settings.index_dir, embedder=None)
    return SiteData(today, older, int(member["id"]), "2606.00005", "2606.00002")
