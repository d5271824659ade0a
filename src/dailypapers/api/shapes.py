"""JSON shapes of papers and daily entries, with Hugging Face's field names.

The models document the API's responses in /openapi.json and are the routes'
``response_model``s, so what a route answers is checked against what is documented.
"""

# ruff: noqa: N815 - the field names are Hugging Face's (camelCase)

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import RowMapping

from dailypapers.queries.daily import arxiv_links
from dailypapers.urls import url_or_text


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _submitter(row: RowMapping) -> dict[str, Any] | None:
    if not row["submitter"]:
        return None
    return {"name": row["submitter_username"] or row["submitter"], "fullname": row["submitter"]}


def paper_json(row: RowMapping) -> dict[str, Any]:
    """``/api/papers/{id}``: a paper with its day-list details when it is on one."""
    links = arxiv_links(row)
    return {
        "id": row["id"],
        "title": row["title"],
        "summary": row["abstract"],
        "authors": [{"name": name} for name in row["authors"]],
        "publishedAt": _iso(row["published_at"]),
        "updatedAt": _iso(row["updated_at"]),
        "upvotes": row["upvotes"],
        "version": row["version"],
        "categories": row["categories"],
        "primaryCategory": row["primary_category"],
        "comment": row["comment"],
        "journalRef": row["journal_ref"],
        "doi": row["doi"],
        # Checked again on the way out: rows stored before ingest dropped hostile values.
        "license": url_or_text(row["license"]),
        "submittedOnDailyAt": _iso(row["submitted_at"]),
        "dailyDate": row["day"].isoformat() if row["day"] else None,
        "submittedOnDailyBy": _submitter(row),
        "numComments": row.get("num_comments") or 0,
        "arxivUrl": links["abs"],
        "pdfUrl": links["pdf"],
    }


def daily_entry_json(row: RowMapping) -> dict[str, Any]:
    """One ``/api/daily_papers`` item: the paper plus the entry's own fields, as HF nests them."""
    paper = paper_json(row)
    return {
        "paper": paper,
        "publishedAt": paper["submittedOnDailyAt"],
        "title": row["title"],
        "summary": row["abstract"],
        "numComments": row.get("num_comments") or 0,
        "submittedBy": paper["submittedOnDailyBy"],
        "date": paper["dailyDate"],
    }


class Author(BaseModel):
    """One author of a paper."""

    name: str


class Submitter(BaseModel):
    """Who put a paper on a day's list."""

    name: str
    fullname: str


class PaperOut(BaseModel):
    """A paper (``/api/papers/{id}``), with its day-list details when it is on one."""

    id: str
    title: str
    summary: str
    authors: list[Author]
    publishedAt: str | None
    updatedAt: str | None
    upvotes: int
    version: int
    categories: list[str]
    primaryCategory: str
    comment: str | None
    journalRef: str | None
    doi: str | None
    license: str | None
    submittedOnDailyAt: str | None
    dailyDate: str | None
    submittedOnDailyBy: Submitter | None
    numComments: int
    arxivUrl: str
    pdfUrl: str


class DailyEntryOut(BaseModel):
    """One ``/api/daily_papers`` item: the paper plus the entry's own fields."""

    paper: PaperOut
    publishedAt: str | None
    title: str
    summary: str
    numComments: int
    submittedBy: Submitter | None
    date: str | None


class SearchHitOut(DailyEntryOut):
    """One search result: a daily-list item with its relevance score."""

    score: float


class SubmittedOut(BaseModel):
    """A paper just put on today's list."""

    paper: PaperOut
    dailyDate: str


class VoteOut(BaseModel):
    """A paper's upvote count after a vote, and whether the caller's vote is on."""

    upvotes: int
    voted: bool


class CommentAuthor(BaseModel):
    """Who wrote a comment."""

    user: str
    fullname: str


class CommentOut(BaseModel):
    """A comment with its replies (one level deep)."""

    id: int
    paperId: str
    parentId: int | None
    author: CommentAuthor
    body: str
    html: str
    createdAt: str
    editedAt: str | None
    deleted: bool
    hidden: bool
    replies: list[CommentOut]


class ErrorOut(BaseModel):
    """Every error: a message, and sometimes a link to a page that explains."""

    error: str
    link: str | None = None


_ERROR_MEANINGS = {
    400: "The request body could not be parsed (not JSON)",
    401: "No API token, or not a valid one",
    403: "Not allowed (suspended account, unconfirmed email, hidden paper)",
    404: "No such paper or comment",
    409: "Already on a list (``link`` points at it)",
    422: "Invalid input: the message says which parameter and why",
    429: "Rate limit reached; ``Retry-After`` says when to try again",
    502: "arXiv answered with an error",
    503: "Temporarily unavailable (search index not ready, or arXiv fetches busy)",
    504: "arXiv did not answer in time",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the ``{"error": ...}`` body."""
    return {code: {"model": ErrorOut, "description": _ERROR_MEANINGS[code]} for code in codes}
