"""Who is asking: the session cookie, CSRF tokens for forms, safe redirects, rate-limit keys.

Logged-in forms carry the session's own CSRF token. Anonymous forms (sign-up, log-in,
reset) use a signed double-submit cookie. Every POST form is checked with ``check_csrf``,
which also refuses a foreign ``Origin``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlalchemy.engine import RowMapping

from dailypapers.community import ratelimit
from dailypapers.community.accounts import hash_secret
from dailypapers.community.errors import ActionError
from dailypapers.settings import Settings
from dailypapers.storage import accounts

SESSION_COOKIE = "dp_session"
CSRF_COOKIE = "dp_csrf"
DEVICE_COOKIE = "dp_device"
DEVICE_DAYS = 365
CSRF_FIELD = "csrf_token"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def current_user(request: Request) -> RowMapping | None:
    """The logged-in user (with the session's ``csrf``), or None; read once per request."""
    if hasattr(request.state, "user"):
        user: RowMapping | None = request.state.user
        return user
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) < 200:
        with request.app.state.engine.connect() as conn:
            user = accounts.session_user(
                conn=conn, session_hash=hash_secret(token), now=dt.datetime.now(dt.UTC)
            )
        if user is not None and user["banned_at"] is not None:
            user = None
    request.state.user = user
    return user


def _sign(settings: Settings, value: str) -> str:
    key = hashlib.sha256(f"csrf:{settings.secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _anonymous_token(request: Request) -> str | None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    value, _, signature = cookie.partition(".")
    if value and hmac.compare_digest(signature, _sign(_settings(request), value)):
        return cookie
    return None


def csrf_token(request: Request) -> str:
    """The token forms on this page must send back (creates the anonymous cookie if needed)."""
    user = current_user(request)
    if user is not None:
        return str(user["csrf"])
    token = _anonymous_token(request) or getattr(request.state, "new_csrf", None)
    if token is None:
        value = secrets.token_urlsafe(24)
        token = f"{value}.{_sign(_settings(request), value)}"
        request.state.new_csrf = token
    return token


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the anonymous CSRF cookie if this request created one."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=_settings(request).secure_cookies,
            path="/",
        )


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, with default ports dropped."""
    parts = urlsplit(url.strip())
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc.removesuffix(default)
    return f"{scheme}://{netloc}"


def _same_origin(request: Request) -> bool:
    """No ``Origin`` (older browsers, same-origin GET-made forms), or the site's own: the
    configured base URL (behind a proxy ``Host`` is the upstream's), or this request's host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    try:
        return _origin(origin) == _origin(_settings(request).base_url) or (
            urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
        )
    except ValueError:  # an Origin no browser sends
        return False


def check_anonymous_form(request: Request, submitted: str | None) -> None:
    """``check_csrf`` for a form that cached pages carry without a token (anonymous pages are
    shared, so they hold no per-visitor token): with no token, an anonymous visitor's form
    must come with this site's ``Origin``, which browsers set on every cross-site POST."""
    if submitted or current_user(request) is not None or not request.headers.get("origin"):
        check_csrf(request, submitted)
    elif not _same_origin(request):
        raise ActionError("This form did not come from this site.", 403)


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a form whose token does not match this visitor's, or that comes from elsewhere."""
    user = current_user(request)
    expected = str(user["csrf"]) if user is not None else _anonymous_token(request)
    if (
        not submitted
        or expected is None
        or not hmac.compare_digest(submitted.encode(), expected.encode())
        or not _same_origin(request)
    ):
        raise ActionError(
            "This form has expired or did not come from this site. Reload the page and try again.",
            403,
        )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Log the browser in (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
    settings = _settings(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def _device_mark(request: Request, account: str) -> str:
    key = hashlib.sha256(f"device:{_settings(request).secret_key}".encode()).digest()
    return hmac.new(key, account.encode(), hashlib.sha256).hexdigest()[:32]


def known_device(request: Request, account: str) -> bool:
    """Whether this browser has logged in to ``account`` before (a signed cookie set at each
    log-in). Such a browser is not held back by the account's log-in limit, so strangers
    guessing passwords cannot lock the account's owner out; it still has its address's."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, _device_mark(request, account))


def set_device_cookie(request: Request, response: Response, account: str) -> None:
    """Remember that this browser logged in to ``account`` (see ``known_device``)."""
    response.set_cookie(
        DEVICE_COOKIE,
        _device_mark(request, account),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=_settings(request).secure_cookies,
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Log the browser out."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_settings(request).secure_cookies, httponly=True
    )


def safe_next(value: str | None) -> str:
    """A local path to go to after logging in; anything pointing off-site becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ch in value for ch in "\r\n\\"):
        return "/"
    return value


def client_key(request: Request) -> str:
    """The client address used for anonymous rate limits: an IPv4 address, or the /64 network
    of an IPv6 one. A single host is given a whole /64 and can rotate through its 2^64
    addresses, so keying on the full address made every per-client limit unlimited."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # "testclient", a Unix socket, ...
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def limit(request: Request, action: str, who: str) -> None:
    """Count one ``action`` by ``who`` against its configured rate; raises RateLimited."""
    rate = getattr(_settings(request), f"rate_limit_{action}")
    ratelimit.check(request.app.state.engine, key=f"{action}:{who}", rate=rate)
