"""JSON shapes of papers and daily entries, with Hugging Face's field names and types.

The models document the API's responses in /openapi.json and are the routes'
``response_model``s, so what a route answers is checked against what is documented. Every
field Hugging Face's own OpenAPI spec marks required is here with an honest value, so
clients generated from that spec (``pyhfapi``) accept our answers with strict validation:

- ``thumbnail``: a card image this site draws (``/cards/{id}.svg``);
- ``discussionId``: the paper's comment thread, which is the paper's id here
  (``/api/papers/{id}/comments``);
- ``authors[]._id``: a stable id of that author line of that paper; ``hidden`` is false
  (authors are never hidden here);
- ``isAuthorParticipating``: false (authors cannot claim papers here yet);
- ``submittedBy``: who put the paper on its list; papers featured automatically (arXiv
  announcements, imports without a submitter) name the system submitter ``arxiv``.

Timestamps are HF's format (``timefmt.hf_time``).
"""

# ruff: noqa: N815 - the field names are Hugging Face's (camelCase)

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import RowMapping

from dailypapers.queries.daily import arxiv_links
from dailypapers.storage.daily import SYSTEM_SUBMITTER
from dailypapers.timefmt import hf_time
from dailypapers.urls import url_or_text

SYSTEM_FULLNAME = "arXiv announcement (featured automatically)"
TIME_EXAMPLE = "2024-10-25T00:57:09.392Z"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
ID_EXAMPLE = "2410.17243"


def _hex_id(*parts: str) -> str:
    """A stable 24-hex-digit id (the length of HF's ids) derived from ``parts``."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def _hex_ids(*parts: str, last: Iterable[str]) -> list[str]:
    """``_hex_id(*parts, x)`` for each ``x`` of ``last`` (the same bytes hashed), the hash
    of the common ``parts`` taken once (a search's 20 hits have ~140 authors)."""
    prefix = hashlib.sha256("\x00".join((*parts, "")).encode())
    ids = []
    for part in last:
        digest = prefix.copy()
        digest.update(part.encode())
        ids.append(digest.hexdigest()[:24])
    return ids


def _author_items(paper_id: str, names: list[str]) -> list[dict[str, Any]]:
    """``authors``: each name with its id, ``_hex_id("author", paper_id, position)``."""
    ids = _hex_ids("author", paper_id, last=[str(position) for position in range(len(names))])
    return [{"_id": i, "name": n, "hidden": False} for i, n in zip(ids, names, strict=True)]


def card_url(base: str, arxiv_id: str) -> str:
    """The paper's card image (``thumbnail``)."""
    return f"{base}/cards/{arxiv_id}.svg"


def avatar_url(base: str, name: str) -> str:
    """The avatar image drawn for ``name``."""
    return f"{base}/avatars/{quote(name, safe='')}.svg"


def user_json(base: str, username: str, fullname: str) -> dict[str, Any]:
    """HF's user overview of a submitter."""
    return {
        "_id": _hex_id("user", username),
        "avatarUrl": avatar_url(base, username),
        "fullname": fullname,
        "name": username,
        "user": username,
        "type": "user",
        "isPro": False,
    }


def _submitter(row: RowMapping, base: str) -> dict[str, Any] | None:
    """Who put the paper on its list; None when it is on no list."""
    if row["day"] is None:
        return None
    username = row["submitter_username"] or row["submitter_name"]
    if username is None and row["submitter"] is None:
        return user_json(base, SYSTEM_SUBMITTER, SYSTEM_FULLNAME) | {"type": "system"}
    name = username or row["submitter"]
    return user_json(base, name, row["submitter"] or name)


def paper_json(row: RowMapping, *, base: str) -> dict[str, Any]:
    """``/api/papers/{id}``: a paper with its day-list details when it is on one."""
    links = arxiv_links(row)
    paper_id = row["id"]
    return {
        "id": paper_id,
        "authors": _author_items(paper_id, row["authors"]),
        "publishedAt": hf_time(row["published_at"]),
        "title": row["title"],
        "summary": row["abstract"],
        "upvotes": row["upvotes"],
        "discussionId": paper_id,
        "updatedAt": hf_time(row["updated_at"]),
        "version": row["version"],
        "categories": row["categories"],
        "primaryCategory": row["primary_category"],
        "comment": row["comment"],
        "journalRef": row["journal_ref"],
        "doi": row["doi"],
        # Checked again on the way out: rows stored before ingest dropped hostile values.
        "license": url_or_text(row["license"]),
        "submittedOnDailyAt": hf_time(row["submitted_at"]) if row["day"] else None,
        "submittedOnDailyBy": _submitter(row, base),
        "dailyDate": row["day"].isoformat() if row["day"] else None,
        "numComments": row.get("num_comments") or 0,
        "arxivUrl": links["abs"],
        "pdfUrl": links["pdf"],
        "thumbnail": card_url(base, paper_id),
    }


def daily_entry_json(row: RowMapping, *, base: str) -> dict[str, Any]:
    """One ``/api/daily_papers`` item: the paper plus the entry's own fields, as HF nests them
    (``publishedAt`` here is when the paper was put on the list)."""
    paper = paper_json(row, base=base)
    return {
        "paper": paper,
        "publishedAt": paper["submittedOnDailyAt"],
        "title": row["title"],
        "summary": row["abstract"],
        "thumbnail": paper["thumbnail"],
        "numComments": paper["numComments"],
        "upvotes": paper["upvotes"],
        "submittedBy": paper["submittedOnDailyBy"],
        "isAuthorParticipating": False,
        "date": paper["dailyDate"],
    }


def _time(description: str) -> Any:
    return Field(description=description, pattern=TIME_PATTERN, examples=[TIME_EXAMPLE])


class Author(BaseModel):
    """One author of a paper."""

    model_config = ConfigDict(populate_by_name=True)

    id_: str = Field(alias="_id", description="Stable id of this author line of this paper")
    name: str
    hidden: bool = Field(description="Always false: authors are never hidden here")


class User(BaseModel):
    """Who put a paper on a list (HF's user overview)."""

    model_config = ConfigDict(populate_by_name=True)

    id_: str = Field(alias="_id", examples=["5f1158120c833276f61f1a84"])
    avatarUrl: str = Field(description="An avatar image drawn by this site")
    fullname: str = Field(examples=["AK"])
    name: str = Field(
        description="Username; ``arxiv`` for papers featured automatically", examples=["akhaliq"]
    )
    user: str = Field(description="Username again (read by huggingface_hub)")
    type: str = Field(description="``user``, or ``system`` for the automatic submitter")
    isPro: bool


class PaperOut(BaseModel):
    """A paper (``/api/papers/{id}``), with its day-list details when it is on one."""

    id: str = Field(examples=[ID_EXAMPLE], description="arXiv id, without version")
    authors: list[Author]
    publishedAt: str = _time("When arXiv published the paper (first version)")
    title: str
    summary: str
    upvotes: int
    discussionId: str = Field(description="The comment thread: the paper's id")
    updatedAt: str = _time("When arXiv published the latest version")
    version: int
    categories: list[str]
    primaryCategory: str
    comment: str | None
    journalRef: str | None
    doi: str | None
    license: str | None
    submittedOnDailyAt: str | None = _time("When the paper was put on its list")
    submittedOnDailyBy: User | None
    dailyDate: str | None = Field(examples=["2024-10-25"])
    numComments: int
    arxivUrl: str
    pdfUrl: str
    thumbnail: str = Field(description="A card image of the paper drawn by this site")


class DailyEntryOut(BaseModel):
    """One ``/api/daily_papers`` item: the paper plus the entry's own fields."""

    paper: PaperOut
    publishedAt: str = _time("When the paper was put on the list")
    title: str
    summary: str
    thumbnail: str
    numComments: int
    upvotes: int
    submittedBy: User
    isAuthorParticipating: bool
    date: str = Field(examples=["2024-10-25"], description="The day of the list")


class SearchHitOut(BaseModel):
    """One search result: a daily-list item (``null`` list fields for a paper on no list)
    with its relevance score."""

    paper: PaperOut
    publishedAt: str | None = _time("When the paper was put on its list")
    title: str
    summary: str
    thumbnail: str
    numComments: int
    upvotes: int
    submittedBy: User | None
    isAuthorParticipating: bool
    date: str | None
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
    createdAt: str = _time("When the comment was written")
    editedAt: str | None = _time("When the comment was last edited")
    deleted: bool
    hidden: bool
    replies: list[CommentOut]


class ErrorOut(BaseModel):
    """Every error: a message, and sometimes a link to a page that explains."""

    error: str = Field(examples=["paper 2410.17243 not found"])
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
