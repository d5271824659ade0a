"""Fixtures for reading-list tests: the community tests' app, members and papers, plus the
papers the library fixtures name (so imports have something to match)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings

# Browser fixtures (test_browser.py brings its own live_server): imported as tests/browse does.
from tests.browser.conftest import page, site, viewport  # noqa: F401
from tests.community.conftest import (  # noqa: F401
    api_token,
    client,
    community_settings,
    make_member,
    papers,
    smtp,
)
from tests.core.helpers import raw
from tests.smtp import Inbox


@pytest.fixture
def settings(settings: Settings, smtp: Inbox) -> Settings:  # noqa: F811
    """The community tests' settings (mail to loopback, rate limits off), list limits off."""
    return community_settings(settings, smtp, "rate_limit_lists", "rate_limit_import")


@pytest.fixture
def known(engine: Engine) -> dict[str, str]:
    """Papers the fixture libraries name: matched by arXiv id, DOI and title."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    records = [
        raw("1706.03762", title="Attention Is All You Need", day=today),
        raw(
            "1810.04805",
            title="BERT: Pre-training of Deep Bidirectional Transformers for Language "
            "Understanding",
            doi="10.18653/v1/N19-1423",
            day=today,
        ),
        raw("2005.14165", title="Language Models are Few-Shot Learners", day=today),
        raw("hep-th/9711200", title="The Large N limit of superconformal field theories"),
        raw(
            "2203.15556",
            title="Training Compute-Optimal Large Language Models",
            journal_ref="NeurIPS 2022",
            abstract="We investigate the optimal model size & tokens; 50% of $\\alpha$_x.",
        ),
    ]
    run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "lists"},
        records=lambda _: records,
        explicit_days=True,
    )
    return {
        "attention": "1706.03762",
        "bert": "1810.04805",
        "gpt3": "2005.14165",
        "maldacena": "hep-th/9711200",
        "chinchilla": "2203.15556",
    }
