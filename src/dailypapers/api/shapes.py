"""JSON shapes of papers and daily entries, with Hugging Face's field names."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import RowMapping

from dailypapers.queries.daily import arxiv_links


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
        "license": row["license"],
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
