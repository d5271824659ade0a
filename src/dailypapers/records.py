"""Plain records passed from sources to ingest.

Sources (``dailypapers.sources``) read the outside world and yield ``RawPaper``
records exactly as the source spelled them; ``dailypapers.ingest`` normalises
and validates them into ``Paper`` before anything is stored.  Nothing here
touches the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(slots=True)
class RawPaper:
    """One paper as a source gave it: loosely typed, not yet validated.

    ``error`` is set (and the other fields may be empty) when the source could
    not parse this record at all, e.g. a garbage JSON line; ingest then rejects
    it with that reason.  ``cursor`` is an opaque resume position: once every
    record up to and including this one is stored, a re-run may start after it.
    """

    arxiv_id: str | None = None
    title: str | None = None
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published: dt.datetime | dt.date | str | None = None
    updated: dt.datetime | dt.date | str | None = None
    version: int | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    # Daily-list information, when the source knows it (HF daily papers,
    # our own export, announcement feeds).
    day: dt.date | str | None = None
    submitted_by: str | None = None
    upvotes: int | None = None
    announce_type: str | None = None
    # When the source put the paper on its list, and the submitter's full name (HF imports).
    listed_at: dt.datetime | str | None = None
    submitter_fullname: str | None = None
    # Bookkeeping.
    ref: str = ""
    cursor: str | None = None
    error: str | None = None


class SourceError(Exception):
    """A source could not deliver (HTTP error, unparseable page, missing file).

    The message is one line meant for the operator.
    """


@dataclass(slots=True, frozen=True)
class Paper:
    """A validated, normalised paper, ready to store (``arxiv_id`` has no version)."""

    arxiv_id: str
    version: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    primary_category: str
    published_at: dt.datetime
    updated_at: dt.datetime
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None


@dataclass(slots=True, frozen=True)
class Listing:
    """A request to put a paper on a day's list (how it got there, who submitted it, when).

    ``listed_at`` is when the paper was put on the list: the source's own time (Hugging
    Face's ``submittedOnDailyAt``) or, for automatically featured papers, the announcement.
    """

    arxiv_id: str
    day: dt.date
    origin: str
    submitter_name: str | None = None
    upvotes: int | None = None
    listed_at: dt.datetime | None = None
    submitter_fullname: str | None = None
