"""Follows and For you over JSON, with ``Authorization: Bearer <token>`` (like community
writes): ``/api/follows`` (GET, POST, DELETE), ``/api/for-you`` and "not interested" marks.

The same functions as the web pages (``community/follows.py``, ``queries/foryou.py``), so a
follow made here shows on ``/follows`` and in the email digest at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from dailypapers.api import shapes
from dailypapers.api.community import User
from dailypapers.api.params import ArxivIdPath
from dailypapers.api.routes import site_base
from dailypapers.community import follows as actions
from dailypapers.queries import foryou
from dailypapers.storage import follows as repo
from dailypapers.web.auth import limit
from dailypapers.web.deps import connect

router = APIRouter(prefix="/api", tags=["follows"])
FollowKind = Literal["category", "author", "keyword", "user"]


# Printable text with at least one non-space character (the same rule as ``actions.check``).
TEXT = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


class CategoryFollow(BaseModel):
    """Follow an arXiv category (cs.CL) or a whole archive (cs)."""

    kind: Literal["category"]
    value: str = Field(max_length=32, pattern=actions.CATEGORY.pattern, examples=["cs.CL"])


class AuthorFollow(BaseModel):
    """Follow an author by name (spaces collapsed, case folded when compared)."""

    kind: Literal["author"]
    value: str = Field(max_length=100, pattern=TEXT, examples=["Grace Hopper"])


class KeywordFollow(BaseModel):
    """Follow a word or phrase in titles and abstracts."""

    kind: Literal["keyword"]
    value: str = Field(max_length=60, pattern=TEXT, examples=["diffusion"])


class MemberFollow(BaseModel):
    """Follow a member's submissions, by username (404 if there is none)."""

    kind: Literal["user"]
    value: str = Field(max_length=40, pattern=r"^\S+$", examples=["ada"])


FollowIn = Annotated[
    CategoryFollow | AuthorFollow | KeywordFollow | MemberFollow, Field(discriminator="kind")
]


class FollowsOut(BaseModel):
    """Everything the member follows, by kind, oldest first."""

    category: list[str]
    author: list[str]
    keyword: list[str]
    user: list[str]


class FollowOut(BaseModel):
    """The state of one follow after a change; ``changed`` is False when it already was."""

    kind: str
    value: str
    following: bool
    changed: bool


class PickOut(BaseModel):
    """One For you pick: the paper, why it was picked (strongest first), its score."""

    paper: shapes.PaperOut
    reasons: list[str]
    score: float


class ForYouOut(BaseModel):
    """For you: the window (first and last listing day), whether it ran on follows alone
    (no liked papers yet), how many liked papers it learned from, and the picks."""

    start: str
    end: str
    coldStart: bool  # noqa: N815 - HF-style field name
    positives: int
    items: list[PickOut]


class NotInterestedOut(BaseModel):
    """A paper's "not interested" mark after a change."""

    paperId: str  # noqa: N815 - HF-style field name
    notInterested: bool  # noqa: N815


@router.get(
    "/follows",
    summary="What you follow",
    response_model=FollowsOut,
    responses=shapes.errors(401, 403),
)
def list_follows(request: Request, user: User) -> Any:
    """Your followed categories, authors, keywords and members."""
    with connect(request) as conn:
        found = repo.of_user(conn=conn, user_id=int(user["id"]))
    return {kind: found.get(kind, []) for kind in repo.KINDS}


@router.post(
    "/follows",
    status_code=201,
    summary="Follow a category, author, keyword or member (idempotent)",
    response_model=FollowOut,
    responses=shapes.errors(400, 401, 403, 404, 409, 422, 429),
)
def add_follow(payload: FollowIn, request: Request, user: User) -> Any:
    """Follow something; following it again changes nothing."""
    limit(request, "follow", f"user:{user['id']}")
    value = actions.check(payload.kind, payload.value)
    changed = actions.follow(request.app.state.engine, user, payload.kind, value)
    return {"kind": payload.kind, "value": value, "following": True, "changed": changed}


@router.delete(
    "/follows",
    summary="Stop following (idempotent)",
    response_model=FollowOut,
    responses=shapes.errors(401, 403, 422, 429),
)
def remove_follow(
    request: Request,
    user: User,
    kind: Annotated[FollowKind, Query()],
    value: Annotated[str, Query(min_length=1, max_length=200)],
) -> Any:
    """Stop following something; unfollowing twice is fine."""
    limit(request, "follow", f"user:{user['id']}")
    changed = actions.unfollow(request.app.state.engine, user, kind, value)
    return {"kind": kind, "value": value, "following": False, "changed": changed}


@router.get(
    "/for-you",
    summary="Your For you picks",
    response_model=ForYouOut,
    responses=shapes.errors(401, 403, 422, 429),
)
def for_you(
    request: Request,
    user: User,
    days: Annotated[int, Query(ge=1, le=foryou.MAX_DAYS)] = foryou.DEFAULT_DAYS,
    limit_: Annotated[int, Query(alias="limit", ge=1, le=100)] = 50,
) -> Any:
    """Recent papers ranked for you, each with the reasons it was picked."""
    limit(request, "for_you", f"user:{user['id']}")
    today = request.app.state.settings.now().date()
    with connect(request) as conn:
        found = foryou.for_you(conn, user_id=int(user["id"]), today=today, days=days, limit=limit_)
    base = site_base(request)
    return {
        "start": found.start.isoformat(),
        "end": found.end.isoformat(),
        "coldStart": found.cold,
        "positives": found.positives,
        "items": [
            {
                "paper": shapes.paper_json(item.row, base=base),
                "reasons": item.reasons,
                "score": item.score,
            }
            for item in found.items
        ],
    }


def _mark(request: Request, user: Any, arxiv_id: str, on: bool) -> Any:
    limit(request, "follow", f"user:{user['id']}")
    paper_id = actions.not_interested(request.app.state.engine, user, arxiv_id, on=on)
    return {"paperId": paper_id, "notInterested": on}


@router.post(
    "/papers/{arxiv_id:arxiv}/not-interested",
    summary='Mark a paper "not interested" (idempotent)',
    response_model=NotInterestedOut,
    responses=shapes.errors(401, 403, 404, 422, 429),
)
def not_interested(arxiv_id: ArxivIdPath, request: Request, user: User) -> Any:
    """The paper leaves For you, and papers like it rank lower."""
    return _mark(request, user, arxiv_id, True)


@router.delete(
    "/papers/{arxiv_id:arxiv}/not-interested",
    summary='Take a "not interested" back (idempotent)',
    response_model=NotInterestedOut,
    responses=shapes.errors(401, 403, 404, 422, 429),
)
def interested_again(arxiv_id: ArxivIdPath, request: Request, user: User) -> Any:
    """Undo a "not interested" mark."""
    return _mark(request, user, arxiv_id, False)
