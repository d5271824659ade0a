"""Hugging Face Daily Papers (``https://huggingface.co/api/daily_papers?date=...``).

The response is a JSON list of entries ``{paper: {id, title, summary, authors,
publishedAt, upvotes, ...}, publishedAt, submittedBy: {name, fullname}, ...}``.
Each entry keeps its daily date, upvotes, submitter (username and full name) and HF's
listing time (the entry's ``publishedAt``).  A record's cursor is
its position in the list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.guard import one_record
from dailypapers.sources.http import Fetcher

DEFAULT_URL = "https://huggingface.co/api/daily_papers"


def fetch_hf_daily(
    fetcher: Fetcher, *, base_url: str = DEFAULT_URL, day: dt.date, resume: str | None = None
) -> Iterator[RawPaper]:
    """Yield the papers Hugging Face listed on ``day``."""
    text = fetcher.get(base_url, {"date": day.isoformat()})
    yield from parse_hf_daily(text, day=day, resume=resume)


def parse_hf_daily(
    text: str | bytes, *, day: dt.date | None = None, resume: str | None = None
) -> Iterator[RawPaper]:
    """Parse a ``/api/daily_papers`` response; ``day`` overrides each entry's own date."""
    try:
        entries = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"Hugging Face daily papers response is not JSON: {exc}") from None
    if not isinstance(entries, list):
        raise SourceError(
            f"Hugging Face daily papers response is a {type(entries).__name__}, not a list"
        )
    skip = int(resume) if resume else 0
    for position, entry in enumerate(entries[skip:], start=skip + 1):
        ref, cursor = f"entry {position}", str(position)
        yield one_record(cursor, ref, _paper, entry, day, cursor)


def _paper(entry: dict[str, Any], day: dt.date | None, cursor: str) -> RawPaper:
    paper = entry["paper"]
    arxiv_id = paper["id"]
    if not isinstance(arxiv_id, str) or not arxiv_id:
        raise ValueError(f"paper.id is {arxiv_id!r}")
    submitter = entry.get("submittedBy") or {}
    upvotes = paper.get("upvotes")
    return RawPaper(
        arxiv_id=arxiv_id,
        title=paper.get("title") or entry.get("title"),
        abstract=paper.get("summary") or entry.get("summary"),
        authors=[a["name"] for a in paper.get("authors") or [] if a.get("name")],
        published=paper.get("publishedAt"),
        day=day or _date_of(entry.get("publishedAt")),
        submitted_by=submitter.get("name") or submitter.get("user") or submitter.get("fullname"),
        submitter_fullname=submitter.get("fullname"),
        # When HF put it on the list: the entry's publishedAt is the paper's submittedOnDailyAt.
        listed_at=entry.get("publishedAt") or paper.get("submittedOnDailyAt"),
        upvotes=upvotes if isinstance(upvotes, int) else None,
        ref=f"entry {arxiv_id}",
        cursor=cursor,
    )


def _date_of(value: object) -> dt.date | str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return value
