"""Account pages: sign up, confirm email, log in and out, reset password, settings, tokens.

Mail asked for by a visitor (confirmation, reset, "you already have an account") is queued and
sent after the answer (``send_later``), so the answer and its timing are the same whether or
not the address has an account; each recipient gets at most ``rate_limit_mail_recipient``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import RowMapping

from dailypapers.community import accounts as account_actions
from dailypapers.community import mails
from dailypapers.community.accounts import AccountError, TokenError
from dailypapers.community.actions import require_active
from dailypapers.community.errors import ActionError
from dailypapers.community.ratelimit import recipient_check
from dailypapers.mailer import LINK, MailQueue
from dailypapers.settings import Settings
from dailypapers.storage import accounts
from dailypapers.storage import feeds as feed_repo
from dailypapers.storage.engine import write_transaction
from dailypapers.web.auth import (
    CSRF_FIELD,
    check_csrf,
    clear_session_cookie,
    client_key,
    current_user,
    known_device,
    limit,
    safe_next,
    set_device_cookie,
    set_session_cookie,
)
from dailypapers.web.params import PathId
from dailypapers.web.render import page

FormStr = Annotated[str, Form(max_length=10_000)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
TOKEN_DAYS = (0, 7, 30, 90, 365)  # expiry choices for a new API token (0: never)
_QUEUE_LOCK = threading.Lock()
DRAIN_SECONDS = 10.0


def mail_queue(app: Any) -> MailQueue:
    """The app's queue of mail sent on request (made on first use)."""
    with _QUEUE_LOCK:
        found: MailQueue | None = getattr(app.state, "mail_queue", None)
        if found is None:
            settings: Settings = app.state.settings
            allow = recipient_check(app.state.engine, settings.rate_limit_mail_recipient)
            found = app.state.mail_queue = MailQueue(settings, allow)
        return found


def demo_link(request: Request, message: EmailMessage) -> str | None:
    """The link in ``message`` when the demo has no mail server (the message goes to the
    outbox folder); None on any other site, so a real inbox stays the only way to the link."""
    settings: Settings = request.app.state.settings
    if settings.demo_as_of is None or settings.smtp_host:
        return None
    body = message.get_body(("plain",))
    found = LINK.search(body.get_content()) if body is not None else None
    return found.group(0) if found else None


DEMO_LINK_TEXT = "Open the link (demo: no mail server, the message went to the outbox folder)"


def send_later(request: Request, message: EmailMessage) -> None:
    """Send ``message`` after the answer (never inside the request), if its recipient is
    within the per-recipient limit."""
    mail_queue(request.app).put(message)


@asynccontextmanager
async def _drain_mail(app: Any) -> AsyncIterator[None]:
    yield
    found: MailQueue | None = getattr(app.state, "mail_queue", None)
    if found is not None:  # on shutdown, give queued mail a moment to leave
        await asyncio.to_thread(found.join, DRAIN_SECONDS)


router = APIRouter(include_in_schema=False, lifespan=_drain_mail)


def notice(
    request: Request, title: str, message: str, status: int = 200, **extra: object
) -> Response:
    """A page with one message (sent email, confirmed address, ...)."""
    return page(request, "notice.html", {"title": title, "message": message, **extra}, status)


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST, the browser GETs the next page."""
    return RedirectResponse(url, status_code=303)


def login_required(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the log-in page and back here afterwards."""
    return redirect(f"/login?next={request.url.path}")


@router.get("/signup")
def signup_form(request: Request) -> Response:
    """The sign-up form."""
    return page(request, "signup.html", {"title": "Sign up", "form": {}})


@router.post("/signup")
def signup(
    request: Request,
    csrf_token: Csrf = "",
    username: FormStr = "",
    email: FormStr = "",
    password: FormStr = "",
) -> Response:
    """Create an account and email a confirmation link; a registered email gets the same
    answer (its owner is told by mail), and a taken username is refused whatever the email."""
    check_csrf(request, csrf_token)
    settings = request.app.state.settings
    form = {"username": username, "email": email}
    limit(request, "signup", client_key(request))
    try:
        result = account_actions.signup(
            request.app.state.engine,
            username=username,
            email=email,
            password=password,
            settings=settings,
        )
    except AccountError as exc:
        return page(
            request, "signup.html", {"title": "Sign up", "form": form, "error": str(exc)}, 422
        )
    link = None
    if result.user is not None:
        message = mails.verification(settings, result.user)
        link = demo_link(request, message)  # new accounts only: never a reset link
        send_later(request, message)
    else:
        assert result.existing is not None
        send_later(request, mails.already_registered(settings, result.existing))
    return notice(
        request,
        "Check your inbox",
        "We sent a link to the address you gave. Open it to confirm your email, then log in.",
        link=(link, DEMO_LINK_TEXT) if link else None,
    )


def _bad_verify_link(request: Request, exc: TokenError) -> Response:
    return notice(
        request, "Link not valid", str(exc), 400, link=("/verify/resend", "Send a new link")
    )


@router.get("/verify")
def verify_form(request: Request, token: str = "") -> Response:
    """The confirmation link's page: a button that confirms (GET changes nothing: mail link
    scanners open links before people do)."""
    token = token[:2000]
    try:
        account_actions.check_verification(request.app.state.settings, token)
    except TokenError as exc:
        return _bad_verify_link(request, exc)
    return page(request, "verify.html", {"title": "Confirm your email", "token": token})


@router.post("/verify")
def verify(request: Request, csrf_token: Csrf = "", token: FormStr = "") -> Response:
    """Confirm an email address (the button on the confirmation link's page)."""
    check_csrf(request, csrf_token)
    try:
        user = account_actions.verify_email(
            request.app.state.engine, request.app.state.settings, token[:2000]
        )
    except TokenError as exc:
        return _bad_verify_link(request, exc)
    return notice(
        request,
        "Email confirmed",
        f"Thank you, {user['display_name']}. Your address is confirmed.",
        link=("/login", "Log in"),
    )


@router.get("/verify/resend")
def resend_form(request: Request) -> Response:
    """Ask for a new confirmation link."""
    return page(
        request, "email_form.html", {"title": "New confirmation link", "action": "/verify/resend"}
    )


def _email_link(
    request: Request,
    csrf_token: str,
    email: str,
    *,
    title: str,
    mail: Callable[[Settings, RowMapping], EmailMessage | None],
    answer: str,
) -> Response:
    """An "email me a link" form: ``mail`` builds the message for the account (None: send
    nothing); the answer is the same whether or not the address has an account."""
    check_csrf(request, csrf_token)
    limit(request, "password_reset", client_key(request))
    try:
        address = account_actions.normalize_email(email)
    except AccountError as exc:
        context = {"title": title, "action": request.url.path, "error": str(exc)}
        return page(request, "email_form.html", context, 422)
    with request.app.state.engine.connect() as conn:
        user = accounts.user_by_email(conn=conn, email=address)
    message = mail(request.app.state.settings, user) if user is not None else None
    if message is not None:
        send_later(request, message)  # after the answer: same time for every address
    return notice(request, "Check your inbox", answer)


@router.post("/verify/resend")
def resend(request: Request, csrf_token: Csrf = "", email: FormStr = "") -> Response:
    """Send a new confirmation link if the address has an unconfirmed account."""
    return _email_link(
        request,
        csrf_token,
        email,
        title="New confirmation link",
        mail=lambda s, u: mails.verification(s, u) if u["email_verified_at"] is None else None,
        answer="If that address has an account waiting for confirmation, a new link is on its way.",
    )


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The log-in form."""
    return page(request, "login.html", {"title": "Log in", "next": safe_next(next), "form": {}})


@router.post("/login")
def login(
    request: Request,
    csrf_token: Csrf = "",
    email: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/",
) -> Response:
    """Check the credentials and start a session; wrong email and wrong password read the same.
    Attempts are limited per client address and per account (whatever the client address),
    except that a browser which logged in to the account before is not held back by the
    account's limit: strangers spending it cannot lock the owner out."""
    check_csrf(request, csrf_token)
    engine = request.app.state.engine
    target = safe_next(next)
    account = account_actions.account_key(email)
    limit(request, "login", client_key(request))
    if not known_device(request, account):
        limit(request, "login", "account:" + account)
    context = {"title": "Log in", "next": target, "form": {"email": email}}
    try:
        with engine.connect() as conn:
            user = account_actions.authenticate(conn, email=email, password=password)
    except AccountError as exc:
        return page(request, "login.html", {**context, "error": str(exc)}, 401)
    if user["email_verified_at"] is None:
        return page(
            request,
            "login.html",
            {**context, "error": "Confirm your email address first.", "resend": True},
            403,
        )
    token, _ = account_actions.start_session(engine, request.app.state.settings, user_id=user["id"])
    response = redirect(target)
    set_session_cookie(request, response, token)
    set_device_cookie(request, response, account)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Csrf = "") -> Response:
    """End this session."""
    user = current_user(request)
    response = redirect("/")
    if user is not None:
        check_csrf(request, csrf_token)
        token = request.cookies.get("dp_session", "")
        with write_transaction(request.app.state.engine) as conn:
            accounts.delete_session(conn=conn, session_hash=account_actions.hash_secret(token))
    clear_session_cookie(request, response)
    return response


@router.get("/reset")
def reset_form(request: Request) -> Response:
    """Ask for a password-reset link."""
    return page(request, "email_form.html", {"title": "Reset your password", "action": "/reset"})


@router.post("/reset")
def reset(request: Request, csrf_token: Csrf = "", email: FormStr = "") -> Response:
    """Email a reset link if the address has an account; the answer is the same either way."""
    return _email_link(
        request,
        csrf_token,
        email,
        title="Reset your password",
        mail=lambda s, u: mails.password_reset(s, u) if u["banned_at"] is None else None,
        answer="If that address has an account, a link to choose a new password is on its way.",
    )


def _reset_user(request: Request, token: str) -> RowMapping:
    return account_actions.user_for_reset(
        request.app.state.engine, request.app.state.settings, token[:2000]
    )


@router.get("/reset/confirm")
def reset_confirm_form(request: Request, token: str = "") -> Response:
    """Choose a new password (from the emailed link)."""
    try:
        _reset_user(request, token)
    except TokenError as exc:
        return notice(
            request, "Link not valid", str(exc), 400, link=("/reset", "Ask for a new link")
        )
    return page(request, "reset_confirm.html", {"title": "Choose a new password", "token": token})


@router.post("/reset/confirm")
def reset_confirm(
    request: Request, csrf_token: Csrf = "", token: FormStr = "", password: FormStr = ""
) -> Response:
    """Set the new password; every existing session of the account ends."""
    check_csrf(request, csrf_token)
    try:
        user = _reset_user(request, token)
        account_actions.set_password(
            request.app.state.engine, user_id=user["id"], password=password
        )
    except TokenError as exc:
        return notice(
            request, "Link not valid", str(exc), 400, link=("/reset", "Ask for a new link")
        )
    except AccountError as exc:
        return page(
            request,
            "reset_confirm.html",
            {"title": "Choose a new password", "token": token, "error": str(exc)},
            422,
        )
    return notice(
        request, "Password changed", "Log in with your new password.", link=("/login", "Log in")
    )


def _settings_page(
    request: Request, user: RowMapping, status: int = 200, **extra: object
) -> Response:
    with request.app.state.engine.connect() as conn:
        tokens = accounts.list_tokens(conn=conn, user_id=user["id"])
        feed_since = feed_repo.feed_token_created(conn=conn, user_id=user["id"])
    context = {
        "title": "Settings",
        "tokens": tokens,
        "feed_since": feed_since,
        "token_days": TOKEN_DAYS,
        "now": dt.datetime.now(dt.UTC),
        **extra,
    }
    return page(request, "settings.html", context, status)


@router.get("/settings")
def settings_page(request: Request) -> Response:
    """Profile, password and API tokens of the logged-in user."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    return _settings_page(request, user)


@router.post("/settings/profile")
def save_profile(request: Request, csrf_token: Csrf = "", display_name: FormStr = "") -> Response:
    """Change the display name."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    name = account_actions.clean_display_name(display_name)
    if not name:
        return _settings_page(request, user, 422, error="A display name cannot be empty.")
    with write_transaction(request.app.state.engine) as conn:
        accounts.update_user(conn=conn, user_id=user["id"], display_name=name)
    return redirect("/settings?saved=profile")


@router.post("/settings/password")
def change_password(
    request: Request, csrf_token: Csrf = "", current: FormStr = "", password: FormStr = ""
) -> Response:
    """Change the password (knowing the current one); other sessions end, this one continues.
    Guesses of the current password count against the account's log-in limit: a stolen
    session cookie must not become an unlimited password oracle."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "login", "account:" + account_actions.account_key(user["email"] or ""))
    engine = request.app.state.engine
    if not account_actions.password_matches(user["password_hash"], current):
        return _settings_page(request, user, 422, error="Your current password is not right.")
    try:
        account_actions.set_password(engine, user_id=user["id"], password=password)
    except AccountError as exc:
        return _settings_page(request, user, 422, error=str(exc))
    token, _ = account_actions.start_session(engine, request.app.state.settings, user_id=user["id"])
    response = redirect("/settings?saved=password")
    set_session_cookie(request, response, token)
    return response


@router.post("/settings/tokens")
def new_token(
    request: Request, csrf_token: Csrf = "", name: FormStr = "", days: FormStr = "0"
) -> Response:
    """Create an API token (expiring after ``days`` days, 0: never) and show it once."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    require_active(user)
    if not days.strip().isdigit() or int(days) not in TOKEN_DAYS:
        return _settings_page(request, user, 422, error="Choose when the token expires.")
    try:
        with write_transaction(request.app.state.engine) as conn:
            token = account_actions.create_api_token(
                conn,
                user_id=user["id"],
                name=" ".join(name.split())[:100] or "token",
                days=int(days),
            )
    except AccountError as exc:
        return _settings_page(request, user, 422, error=str(exc))
    return _settings_page(request, user, new_token=token)


@router.post("/settings/tokens/{token_id}/delete")
def delete_token(request: Request, token_id: PathId, csrf_token: Csrf = "") -> Response:
    """Revoke an API token."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    with write_transaction(request.app.state.engine) as conn:
        if not accounts.delete_token(conn=conn, user_id=user["id"], token_id=token_id):
            raise ActionError("No such token.", 404)
    return redirect("/settings?saved=token")
