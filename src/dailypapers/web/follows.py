"""Follows and For you pages: ``/follows`` (manage what you follow), the follow buttons on
category, author and member pages, ``/for-you`` and its "not interested" button.

Every form is a real POST with the session's CSRF token and a redirect back (``next``); a
script asking for JSON gets ``{"following": ...}`` instead. The template global
``following(request, kind, value)`` tells a button its state (one query per page).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from dailypapers.community import follows as following_actions
from dailypapers.community.actions import require_active
from dailypapers.queries import foryou
from dailypapers.storage import follows as repo
from dailypapers.storage.follows import fold
from dailypapers.web.accounts import Csrf, login_required, redirect
from dailypapers.web.auth import check_csrf, current_user, limit, safe_next
from dailypapers.web.deps import connect
from dailypapers.web.render import TEMPLATES, page

router = APIRouter(include_in_schema=False)
Kind = Annotated[str, Form(max_length=16)]
Value = Annotated[str, Form(max_length=400)]
Next = Annotated[str, Form(max_length=2000)]
Days = Annotated[int, Query(ge=1, le=foryou.MAX_DAYS)]


def viewer_follows(request: Request) -> dict[str, set[str]]:
    """The signed-in viewer's follows as folded keys by kind (read once per request)."""
    held: dict[str, set[str]] | None = getattr(request.state, "follows", None)
    if held is not None:
        return held
    user = current_user(request)
    held = {kind: set() for kind in repo.KINDS}
    if user is not None:
        with connect(request) as conn:
            found = repo.of_user(conn=conn, user_id=int(user["id"]))
        held = {kind: {fold(v) for v in values} for kind, values in found.items()}
    request.state.follows = held
    return held


def following(request: Request, kind: str, value: str) -> bool:
    """Whether the signed-in viewer follows ``value`` (template global for follow buttons)."""
    return fold(value) in viewer_follows(request).get(kind, set())


TEMPLATES.env.globals["following"] = following


def _answer(request: Request, next_url: str, state: bool, kind: str, value: str) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"following": state, "kind": kind, "value": value})
    return redirect(safe_next(next_url or "/follows"))


@router.get("/follows")
def follows_page(request: Request) -> Response:
    """What the member follows, with forms to add and remove."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    with connect(request) as conn:
        found = repo.of_user(conn=conn, user_id=int(user["id"]))
    response = page(request, "follows.html", {"title": "Following", "follows": found})
    response.headers["cache-control"] = "private, no-store"
    return response


@router.post("/follows")
def follow(
    request: Request,
    csrf_token: Csrf = "",
    kind: Kind = "",
    value: Value = "",
    next: Next = "",
    action: Annotated[str, Form(max_length=16)] = "follow",
) -> Response:
    """Follow (or, with ``action=unfollow``, stop following) a category, author, keyword or
    member."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "follow", f"user:{user['id']}")
    engine = request.app.state.engine
    if action == "unfollow":
        following_actions.unfollow(engine, user, kind, value)
        return _answer(request, next, False, kind, value)
    following_actions.follow(engine, user, kind, value)
    return _answer(request, next, True, kind, value)


@router.get("/for-you")
def for_you_page(request: Request, days: Days = foryou.DEFAULT_DAYS) -> Response:
    """The member's For you picks, each with its reasons and a "not interested" button."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    require_active(user)
    limit(request, "for_you", f"user:{user['id']}")
    today = request.app.state.settings.now().date()
    with connect(request) as conn:
        found = foryou.for_you(conn, user_id=int(user["id"]), today=today, days=days)
    context: dict[str, Any] = {"title": "For you", "picks": found, "days": days}
    response = page(request, "for_you.html", context)
    response.headers["cache-control"] = "private, no-store"
    return response


@router.post("/for-you/not-interested")
def not_interested(
    request: Request,
    csrf_token: Csrf = "",
    paper: Annotated[str, Form(max_length=64)] = "",
    undo: Annotated[str, Form(max_length=8)] = "",
    next: Next = "",
) -> Response:
    """Mark a pick "not interested" (or take it back with ``undo``): it leaves the list and
    papers like it rank lower."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "follow", f"user:{user['id']}")
    paper_id = following_actions.not_interested(request.app.state.engine, user, paper, on=not undo)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"paperId": paper_id, "notInterested": not undo})
    return redirect(safe_next(next or "/for-you"))
