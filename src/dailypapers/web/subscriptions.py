"""Digest pages: subscribe (double opt-in), confirm, preferences, unsubscribe, previews.

``POST /unsubscribe`` is the RFC 8058 one-click endpoint: mail clients post
``List-Unsubscribe=One-Click`` with no cookie, so the signed token is its only credential (no
CSRF check). Every other form carries a CSRF token. Nothing changes state on GET: link
scanners open links in mail before people do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dailypapers.community.accounts import TokenError
from dailypapers.community.errors import ActionError
from dailypapers.email import schedule, subscribers, tokens
from dailypapers.email.preview import next_digest
from dailypapers.email.render import (
    already_subscribed_message,
    confirmation_message,
    preview_html,
)
from dailypapers.email.subscribers import SubscriptionError
from dailypapers.storage import follows as follows_repo
from dailypapers.storage import subscriptions as repo
from dailypapers.web.accounts import DEMO_LINK_TEXT, demo_link, send_later
from dailypapers.web.auth import (
    CSRF_FIELD,
    check_anonymous_form,
    check_csrf,
    client_key,
    current_user,
    limit,
)
from dailypapers.web.params import AnyForm, Day
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False, lifespan=schedule.lifespan)
Text = Annotated[str, Form(max_length=5000)]
Token = Annotated[str, Form(max_length=1000)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
FAVICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
# RateLimited is not caught here: the app's handler answers 429 with Retry-After.
Refused = (SubscriptionError, TokenError, ActionError)


def _notice(
    request: Request, title: str, message: str, status: int = 200, **extra: Any
) -> Response:
    return page(
        request, "subscribe_notice.html", {"title": title, "message": message, **extra}, status
    )


def _refused(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status", 400)
    return _notice(request, "That did not work", str(exc), status)


def _prefs(form: Any) -> dict[str, Any]:
    return subscribers.preferences(
        period=str(form.get("period", "daily")),
        trending_count=str(form.get("trending_count", "10")),
        categories=",".join(str(v) for v in form.getlist("categories")),
        keywords=str(form.get("keywords", "")),
        authors=str(form.get("authors", "")),
        similar=form.get("similar") == "on",
    )


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, email: str = "") -> Response:
    """The visitor's subscription form (the home page's form leads here)."""
    if current_user(request) is not None:
        return RedirectResponse("/settings/email", status_code=303)
    context = {"title": "Get trending papers in your email inbox", "email": email[:320]}
    return page(request, "subscribe_form.html", context)


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, form: AnyForm) -> Response:
    """Start a subscription and mail the confirmation link (double opt-in)."""
    email = str(form.get("email", ""))[:1000]
    try:
        check_anonymous_form(request, str(form.get(CSRF_FIELD, "")))  # the home page's box too
        limit(request, "subscribe", client_key(request))
        prefs = _prefs(form)
        prefs["trending_count"] = request.app.state.settings.digest_trending_default
        row, needs_confirming = subscribers.request(
            request.app.state.engine, email=email, prefs=prefs, settings=request.app.state.settings
        )
    except Refused as exc:
        context = {"title": "Subscribe", "email": email[:320], "error": str(exc)}
        return page(request, "subscribe_form.html", context, getattr(exc, "status", 400))
    settings = request.app.state.settings
    build = confirmation_message if needs_confirming else already_subscribed_message
    message = build(settings, row)
    link = demo_link(request, message) if needs_confirming else None
    send_later(request, message)  # after the answer, within the recipient's limit
    return _notice(
        request,
        "Check your inbox",
        f"We sent a message to {row['email']}. Open the link in it to confirm your subscription.",
        link=link,
        link_text=DEMO_LINK_TEXT,
    )


@router.get("/subscribe/confirm", response_class=HTMLResponse)
def confirm_form(request: Request, token: str = "") -> Response:
    """A button that confirms (GET changes nothing: mail scanners open links)."""
    return _notice(
        request, "Confirm your subscription", "", confirm_token=token[:1000], action="confirm"
    )


@router.post("/subscribe/confirm", response_class=HTMLResponse)
def confirm(request: Request, token: Token, csrf: Csrf = "") -> Response:
    """Activate the subscription of a confirmation link."""
    try:
        check_csrf(request, csrf)
        row = subscribers.confirm(request.app.state.engine, request.app.state.settings, token)
    except Refused as exc:
        return _refused(request, exc)
    prefs = "/subscription?token=" + tokens.link_token(
        request.app.state.settings, "preferences", row
    )
    return _notice(
        request,
        "You are subscribed",
        f"{row['email']} will get the {row['period']} digest of trending papers.",
        link=prefs,
        link_text="Choose what is in your digest",
    )


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_form(request: Request, token: str = "") -> Response:
    """The unsubscribe link's page: one button (GET does not unsubscribe)."""
    settings = request.app.state.settings
    try:
        row = subscribers.from_link(request.app.state.engine, settings, "unsubscribe", token)
    except TokenError as exc:
        return _refused(request, exc)
    return _notice(
        request,
        "Unsubscribe",
        f"Stop sending digests to {row['email']}?",
        unsubscribe_token=token,
        action="unsubscribe",
    )


@router.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe(request: Request, form: AnyForm, token: str = "") -> Response:
    """RFC 8058 one-click unsubscribe: the signed token is the credential (no CSRF, no cookie)."""
    if not token:
        token = str(form.get("token", ""))[:1000]
    try:
        row = subscribers.unsubscribe(request.app.state.engine, request.app.state.settings, token)
    except TokenError as exc:
        return _refused(request, exc)
    return _notice(
        request,
        "You are unsubscribed",
        f"No more digests will be sent to {row['email']}.",
        link=f"/subscribe?email={row['email']}",
        link_text="Changed your mind? Subscribe again",
    )


def _preferences_page(request: Request, row: Any, action: str, **extra: Any) -> Response:
    context = {"title": "Email digest", "sub": row, "action": action, **extra}
    return page(request, "subscribe_preferences.html", context)


@router.get("/subscription", response_class=HTMLResponse)
def preferences_form(request: Request, token: str = "", saved: bool = False) -> Response:
    """Preferences of the subscription in a digest's preferences link."""
    settings = request.app.state.settings
    try:
        row = subscribers.from_link(request.app.state.engine, settings, "preferences", token)
    except TokenError as exc:
        return _refused(request, exc)
    return _preferences_page(
        request,
        row,
        "/subscription",
        token=token,
        saved=saved,
        unsubscribe="/unsubscribe?token=" + tokens.link_token(settings, "unsubscribe", row),
        preview=f"/subscription/preview?token={token}",
    )


@router.post("/subscription", response_class=HTMLResponse)
def save_preferences(request: Request, form: AnyForm) -> Response:
    """Store preferences sent from the preferences-link page."""
    token = str(form.get("token", ""))[:1000]
    settings = request.app.state.settings
    try:
        check_csrf(request, str(form.get(CSRF_FIELD, "")))
        row = subscribers.from_link(request.app.state.engine, settings, "preferences", token)
        subscribers.save(request.app.state.engine, subscription_id=row["id"], prefs=_prefs(form))
    except Refused as exc:
        return _refused(request, exc)
    return RedirectResponse(f"/subscription?token={token}&saved=1", status_code=303)


@router.get("/subscription/preview", response_class=HTMLResponse)
def preview_by_link(request: Request, token: str = "", date: Day | None = None) -> Response:
    """The next digest of the subscription in a preferences link, as it would arrive."""
    settings = request.app.state.settings
    try:
        row = subscribers.from_link(request.app.state.engine, settings, "preferences", token)
    except TokenError as exc:
        return _refused(request, exc)
    return _preview(request, row, date)


def _preview(request: Request, row: Any, date: Day | None = None) -> Response:
    settings = request.app.state.settings
    content = next_digest(request.app.state.engine, row, date=date or settings.demo_as_of)
    if content.empty:
        return _notice(request, "Nothing to send", "The next digest would be empty: none is sent.")
    html = preview_html(settings, content, row).replace("<head>", f"<head>{FAVICON}", 1)
    response = HTMLResponse(html)
    response.headers["cache-control"] = "private, no-store"
    return response


@router.get("/settings/email", response_class=HTMLResponse)
def user_preferences(request: Request, saved: bool = False) -> Response:
    """A logged-in user's digest subscription."""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/settings/email", status_code=303)
    with request.app.state.engine.connect() as conn:
        row = repo.by_user(conn=conn, user_id=user["id"])
        # Not subscribed yet: the form starts from the member's follows (the same lists).
        follows = None if row else follows_repo.of_user(conn=conn, user_id=int(user["id"]))
    return _preferences_page(
        request,
        row,
        "/settings/email",
        saved=saved,
        preview="/settings/email/preview",
        follows=follows,
    )


@router.post("/settings/email", response_class=HTMLResponse)
def save_user_preferences(request: Request, form: AnyForm) -> Response:
    """Subscribe, change preferences or unsubscribe a logged-in user."""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/settings/email", status_code=303)
    engine = request.app.state.engine
    try:
        check_csrf(request, str(form.get(CSRF_FIELD, "")))
        if form.get("unsubscribe"):
            with engine.connect() as conn:
                row = repo.by_user(conn=conn, user_id=user["id"])
            if row is not None:
                subscribers.set_status(engine, subscription_id=row["id"], status="unsubscribed")
        else:
            subscribers.for_user(
                engine, user=user, prefs=_prefs(form), settings=request.app.state.settings
            )
    except Refused as exc:
        return _refused(request, exc)
    return RedirectResponse("/settings/email?saved=1", status_code=303)


@router.get("/settings/email/preview", response_class=HTMLResponse)
def user_preview(request: Request, date: Day | None = None) -> Response:
    """A logged-in user's next digest."""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/settings/email/preview", status_code=303)
    with request.app.state.engine.connect() as conn:
        row = repo.by_user(conn=conn, user_id=user["id"])
    if row is None:
        return _notice(request, "Not subscribed", "Subscribe first to preview your digest.", 404)
    return _preview(request, row, date)


@router.get("/admin/digests/preview", response_class=HTMLResponse)
def admin_preview(request: Request, email: str = "", date: Day | None = None) -> Response:
    """Admins: the next digest of any subscriber."""
    user = current_user(request)
    if user is None or not user["is_admin"]:
        return _notice(request, "Not allowed", "Only admins can preview others' digests.", 403)
    with request.app.state.engine.connect() as conn:
        row = repo.by_email(conn=conn, email=email.strip().lower())
    if row is None:
        return _notice(request, "No such subscriber", f"Nobody subscribes as {email!r}.", 404)
    return _preview(request, row, date)
