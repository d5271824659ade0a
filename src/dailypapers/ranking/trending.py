"""Trending: upvotes decayed by age, the formula documented in docs/ranking.md.

    score = upvotes / (age_hours + OFFSET_HOURS) ** GRAVITY

``age_hours`` counts from the start (00:00 UTC) of the day the paper was listed on.
Ties (and papers without votes) fall back to more upvotes, then the newer listing, then the
newer paper. Pure functions: the clock is a parameter, so tests freeze it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

GRAVITY = 1.5
OFFSET_HOURS = 2.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """What trending needs to know about a listed paper."""

    paper_id: str
    upvotes: int
    day: dt.date
    published_at: dt.datetime


def age_hours(day: dt.date, now: dt.datetime) -> float:
    """Hours from the start of ``day`` (UTC) to ``now``, never negative."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return max(0.0, (now - start).total_seconds() / 3600)


def score(upvotes: int, day: dt.date, now: dt.datetime) -> float:
    """The trending score of a paper with ``upvotes`` listed on ``day``."""
    return float(max(upvotes, 0) / (age_hours(day, now) + OFFSET_HOURS) ** GRAVITY)


def rank(candidates: Iterable[Candidate], now: dt.datetime) -> list[Candidate]:
    """Candidates ordered by trending score, best first (deterministic ties)."""
    return sorted(
        candidates,
        key=lambda c: (
            -score(c.upvotes, c.day, now),
            -c.upvotes,
            -c.day.toordinal(),
            -c.published_at.timestamp(),
            c.paper_id,
        ),
    )
