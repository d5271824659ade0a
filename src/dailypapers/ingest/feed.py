"""Today's arXiv listing of the configured categories, ingested with the feed rule.

The one definition of "the daily ingest" shared by the job runner (``dailypapers jobs``) and
the schedule inside ``serve``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from dailypapers.ingest.pipeline import FeatureRule, IngestReport, run_ingest
from dailypapers.settings import Settings
from dailypapers.sources import rss
from dailypapers.sources.http import Fetcher


def ingest_todays_listing(engine: Engine, settings: Settings) -> IngestReport | None:
    """Ingest today's RSS listing of ``feed_categories``; None when no category is set."""
    cats = settings.feed_categories
    if not cats:
        return None
    with Fetcher.from_settings(settings) as fetcher:
        return run_ingest(
            engine=engine,
            source="rss",
            params={"categories": sorted(cats), "day": dt.date.today().isoformat()},
            records=lambda resume: rss.fetch_listing(
                fetcher, base_url=settings.arxiv_rss_url, categories=cats, resume=resume
            ),
            rule=FeatureRule(frozenset(cats), settings.feed_cross_lists),
            batch_size=settings.ingest_batch_size,
        )
