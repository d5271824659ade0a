"""Community writes over JSON with ``Authorization: Bearer <token>``: submit, upvote, comment.

Reads stay public. Errors are ``{"error": ...}`` with 401 (no or bad token), 403 (banned or
not allowed), 404, 409 (already listed), 422 (bad input) or 429 (rate limit, Retry-After).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.engine import RowMapping

from dailypapers.api import shapes
from dailypapers.api.params import ArxivIdPath
from dailypapers.api.routes import site_base
from dailypapers.community import actions
from dailypapers.community.accounts import hash_secret
from dailypapers.community.errors import ActionError
from dailypapers.queries import comments, daily
from dailypapers.storage import accounts
from dailypapers.storage.engine import write_transaction
from dailypapers.web.auth import limit
from dailypapers.web.community import arxiv_fetch
from dailypapers.web.deps import connect
from dailypapers.web.params import BodyId

router = APIRouter(prefix="/api", tags=["community"])
bearer = HTTPBearer(auto_error=False, description="An API token from `dailypapers token create`.")


def token_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> RowMapping:
    """The active user owning the bearer token; 401 without a valid (unexpired) token, 403
    if banned."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ActionError("Send an API token: Authorization: Bearer <token>.", 401)
    token = credentials.credentials
    if len(token) > 200:
        raise ActionError("Invalid API token.", 401)
    engine = request.app.state.engine
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        user = accounts.token_user(conn=conn, token_hash=hash_secret(token), now=now)
    if user is None:  # unknown, revoked (also by a password change) or expired
        raise ActionError("Invalid API token.", 401)
    last = user["last_used_at"]
    if last is None or now - last > dt.timedelta(minutes=10):
        # Recorded at most every ten minutes: no write on every API call.
        with write_transaction(engine) as conn:
            accounts.touch_token(conn=conn, token_id=user["token_id"], now=now)
    return actions.require_active(user)


User = Annotated[RowMapping, Depends(token_user)]


class CommentIn(BaseModel):
    """A new comment: Markdown text, optionally replying to a comment."""

    body: str = Field(min_length=1, max_length=actions.MAX_COMMENT)
    parentId: BodyId | None = None  # noqa: N815 - HF-style field name


@router.post(
    "/papers/{arxiv_id:arxiv}/submit",
    status_code=201,
    summary="Submit to today's list",
    response_model=shapes.SubmittedOut,
    responses=shapes.errors(401, 403, 404, 409, 422, 429, 502, 503, 504),
)
def submit(arxiv_id: ArxivIdPath, request: Request, user: User) -> Any:
    """Put a paper on today's list (fetched from arXiv when unknown)."""
    limit(request, "submit", f"user:{user['id']}")
    done = actions.submit(
        request.app.state.engine,
        user,
        arxiv_id,
        fetch=arxiv_fetch(request),
        window_days=request.app.state.settings.submit_window_days,
        today=request.app.state.settings.now().date(),
    )
    with connect(request) as conn:
        row = daily.paper_detail(conn=conn, arxiv_id=done.paper_id)
    assert row is not None
    paper = shapes.paper_json(row, base=site_base(request))
    return {"paper": paper, "dailyDate": done.day.isoformat()}


def _vote(request: Request, user: RowMapping, arxiv_id: str, up: bool) -> Any:
    limit(request, "upvote", f"user:{user['id']}")
    count = actions.set_vote(request.app.state.engine, user, arxiv_id, up=up)
    return {"upvotes": count, "voted": up}


@router.post(
    "/papers/{arxiv_id:arxiv}/upvote",
    summary="Upvote a paper (idempotent)",
    response_model=shapes.VoteOut,
    responses=shapes.errors(401, 403, 404, 422, 429),
)
def upvote(arxiv_id: ArxivIdPath, request: Request, user: User) -> Any:
    """Add your upvote; repeating it changes nothing."""
    return _vote(request, user, arxiv_id, True)


@router.delete(
    "/papers/{arxiv_id:arxiv}/upvote",
    summary="Withdraw an upvote (idempotent)",
    response_model=shapes.VoteOut,
    responses=shapes.errors(401, 403, 404, 422, 429),
)
def unvote(arxiv_id: ArxivIdPath, request: Request, user: User) -> Any:
    """Remove your upvote; repeating it changes nothing."""
    return _vote(request, user, arxiv_id, False)


@router.get(
    "/papers/{arxiv_id:arxiv}/comments",
    summary="Comments on a paper",
    response_model=list[shapes.CommentOut],
    responses=shapes.errors(404, 422),
)
def list_comments(arxiv_id: ArxivIdPath, request: Request) -> Any:
    """Visible comments, oldest first, each with its replies."""
    paper_id = actions.paper_id_or_404(request.app.state.engine, arxiv_id)
    with connect(request) as conn:
        views = comments.threads(conn=conn, paper_id=paper_id)
    return [view.as_json() for view in views]


@router.post(
    "/papers/{arxiv_id:arxiv}/comments",
    status_code=201,
    summary="Comment on a paper",
    response_model=shapes.CommentOut,
    # 400: a body that is not JSON at all (FastAPI refuses it before validation).
    responses=shapes.errors(400, 401, 403, 404, 422, 429),
)
def add_comment(arxiv_id: ArxivIdPath, payload: CommentIn, request: Request, user: User) -> Any:
    """Add a comment (Markdown) or a reply (``parentId``)."""
    limit(request, "comment", f"user:{user['id']}")
    comment_id = actions.add_comment(
        request.app.state.engine, user, arxiv_id, payload.body, payload.parentId
    )
    with connect(request) as conn:
        views = comments.threads(
            conn=conn, paper_id=actions.paper_id_or_404(request.app.state.engine, arxiv_id)
        )
    for view in views:
        for candidate in (view, *view.replies):
            if candidate.id == comment_id:
                return candidate.as_json() | {"replies": []}
    return JSONResponse({"id": comment_id}, status_code=201)
