"""Small builders for test records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dailypapers.records import RawPaper


def raw(arxiv_id: str = "2606.00001", **fields: Any) -> RawPaper:
    """A valid raw record with overridable fields."""
    base: dict[str, Any] = {
        "arxiv_id": arxiv_id,
        "title": f"Paper {arxiv_id}",
        "abstract": "We study things.\nWrapped line.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.LG", "stat.ML"],
        "published": "2026-06-01T12:00:00Z",
        "day": None,
    }
    base.update(fields)
    if base.get("cursor") is None:
        base["cursor"] = arxiv_id
    return RawPaper(**base)


def day(value: str) -> dt.date:
    """Parse YYYY-MM-DD."""
    return dt.date.fromisoformat(value)
