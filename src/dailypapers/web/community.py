"""Community pages: submit, upvote (with and without JavaScript), comments, profiles,
trending views and the moderators' admin page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from dailypapers.community import actions
from dailypapers.community.errors import ActionError
from dailypapers.community.fetching import ArxivFetches
from dailypapers.queries import daily
from dailypapers.queries.daily import TRENDING_SPANS
from dailypapers.storage import accounts, community
from dailypapers.web.accounts import Csrf, FormStr, login_required, redirect
from dailypapers.web.auth import check_csrf, current_user, limit, safe_next
from dailypapers.web.browse import category_filter
from dailypapers.web.deps import connect
from dailypapers.web.params import OptionalFormId, PathId, Username
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)


def arxiv_fetch(request: Request) -> actions.Fetch:
    """Fetch one paper by id from arXiv for an unknown submission (bounded: see fetching.py)."""
    fetches: ArxivFetches = request.app.state.arxiv_fetches
    return fetches.fetch


@router.get("/submit")
def submit_form(request: Request, ref: str = "") -> Response:
    """The submit form."""
    if current_user(request) is None:
        return login_required(request)
    return page(request, "submit.html", {"title": "Submit a paper", "ref": ref[:300]})


@router.post("/submit")
def submit(request: Request, csrf_token: Csrf = "", ref: FormStr = "") -> Response:
    """Put a paper on today's list."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "submit", f"user:{user['id']}")
    settings = request.app.state.settings
    try:
        done = actions.submit(
            request.app.state.engine,
            user,
            ref,
            fetch=arxiv_fetch(request),
            window_days=settings.submit_window_days,
            today=settings.now().date(),
        )
    except ActionError as exc:
        context = {"title": "Submit a paper", "ref": ref[:300], "error": exc.message}
        return page(request, "submit.html", {**context, "error_link": exc.link}, exc.status)
    return redirect(f"/papers/{done.paper_id}?submitted=1")


@router.post("/papers/{arxiv_id:path}/upvote")
def upvote(
    request: Request,
    arxiv_id: str,
    csrf_token: Csrf = "",
    action: Annotated[Literal["up", "down"], Form()] = "up",
    next: FormStr = "",
) -> Response:
    """Toggle an upvote. Forms get a redirect back; ``fetch`` (Accept: JSON) gets the count."""
    wants_json = "application/json" in request.headers.get("accept", "")
    user = current_user(request)
    if user is None:
        if wants_json:
            return JSONResponse({"error": "Log in to upvote.", "login": "/login"}, status_code=401)
        return redirect(f"/login?next=/papers/{arxiv_id}")
    check_csrf(request, csrf_token)
    limit(request, "upvote", f"user:{user['id']}")
    count = actions.set_vote(request.app.state.engine, user, arxiv_id, up=action == "up")
    if wants_json:
        return JSONResponse({"upvotes": count, "voted": action == "up"})
    return redirect(safe_next(next) if next else f"/papers/{arxiv_id}")


@router.post("/papers/{arxiv_id:path}/comments")
def comment(
    request: Request,
    arxiv_id: str,
    csrf_token: Csrf = "",
    body: FormStr = "",
    parent_id: OptionalFormId = None,
) -> Response:
    """Add a comment or a reply."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "comment", f"user:{user['id']}")
    comment_id = actions.add_comment(request.app.state.engine, user, arxiv_id, body, parent_id)
    return redirect(f"/papers/{arxiv_id}#comment-{comment_id}")


@router.get("/comments/{comment_id}/edit")
def edit_form(request: Request, comment_id: PathId) -> Response:
    """Edit one's own comment."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    with connect(request) as conn:
        found = community.get_comment(conn=conn, comment_id=comment_id)
    if found is None or found["deleted_at"] is not None:
        raise ActionError("No such comment.", 404)
    if found["user_id"] != user["id"]:
        raise ActionError("You can only change your own comments.", 403)
    return page(request, "comment_edit.html", {"title": "Edit comment", "comment": found})


@router.post("/comments/{comment_id}/edit")
def edit(
    request: Request, comment_id: PathId, csrf_token: Csrf = "", body: FormStr = ""
) -> Response:
    """Save an edited comment."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "comment", f"user:{user['id']}")
    found = actions.edit_comment(request.app.state.engine, user, comment_id, body)
    return redirect(f"/papers/{found['paper_id']}#comment-{comment_id}")


@router.post("/comments/{comment_id}/delete")
def delete(request: Request, comment_id: PathId, csrf_token: Csrf = "") -> Response:
    """Delete one's own comment."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    found = actions.delete_comment(request.app.state.engine, user, comment_id)
    return redirect(f"/papers/{found['paper_id']}#comments")


@router.get("/users/{username}")
def profile(request: Request, username: Username) -> Response:
    """A user's submissions and upvotes."""
    with connect(request) as conn:
        person = accounts.user_by_username(conn=conn, username=username[:64])
        if person is None:
            raise ActionError(f"No user {username[:64]!r}.", 404)
        submitted = community.submissions(conn=conn, user_id=person["id"])
        upvoted = community.upvoted_papers(conn=conn, user_id=person["id"])
        comment_count = community.user_comment_count(conn=conn, user_id=person["id"])
    return page(
        request,
        "profile.html",
        {
            "title": person["display_name"],
            "person": person,
            "submitted": submitted,
            "upvoted": upvoted,
            "comment_count": comment_count,
        },
    )


@router.get("/trending")
def trending(
    request: Request,
    span: Literal["day", "week", "month"] = "day",
    p: Annotated[int, Query(ge=0, le=10_000)] = 0,
    category: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Trending papers of the latest day, week or month (docs/ranking.md); with
    ``?category=`` the category's trending page (web/browse.py)."""
    if (narrowed := category_filter(request, category, "/trending")) is not None:
        return narrowed
    with connect(request) as conn:
        result = daily.trending_list(
            conn=conn,
            span=span,
            page=p,
            limit=request.app.state.settings.page_size,
            now=request.app.state.settings.now(),
        )
    if result is None:
        return page(request, "empty.html", {"title": "No papers yet"})
    titles = {"day": "Trending today", "week": "Trending this week", "month": "Trending this month"}
    return page(
        request,
        "trending.html",
        {"title": titles[span], "listing": result, "span": span, "spans": list(TRENDING_SPANS)},
    )


@router.get("/admin")
def admin(request: Request) -> Response:
    """Recent submissions and comments, with moderation buttons (admins only)."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    actions.require_admin(user)
    with connect(request) as conn:
        submitted = community.submissions(conn=conn, limit=100, include_hidden=True)
        recent = community.recent_comments(conn=conn, limit=100)
    return page(
        request, "admin.html", {"title": "Moderation", "submitted": submitted, "comments": recent}
    )


@router.post("/admin/comments/{comment_id}/{what}")
def moderate_comment(
    request: Request, comment_id: PathId, what: Literal["hide", "show"], csrf_token: Csrf = ""
) -> Response:
    """Hide or show a comment."""
    check_csrf(request, csrf_token)
    actions.moderate_comment(
        request.app.state.engine, current_user(request), comment_id, hidden=what == "hide"
    )
    return redirect("/admin#comments")


@router.post("/admin/papers/{arxiv_id:path}/{what}")
def moderate_paper(
    request: Request, arxiv_id: str, what: Literal["hide", "show"], csrf_token: Csrf = ""
) -> Response:
    """Hide a paper from lists (or show it again)."""
    check_csrf(request, csrf_token)
    actions.moderate_paper(
        request.app.state.engine, current_user(request), arxiv_id, hidden=what == "hide"
    )
    return redirect("/admin#submissions")


@router.post("/admin/users/{username}/{what}")
def moderate_user(
    request: Request, username: Username, what: Literal["ban", "unban"], csrf_token: Csrf = ""
) -> Response:
    """Ban a user or lift a ban."""
    check_csrf(request, csrf_token)
    actions.ban_user(
        request.app.state.engine, current_user(request), username, banned=what == "ban"
    )
    return redirect(f"/users/{username}")
