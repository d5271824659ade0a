"""The private feed link on ``/settings``: make a new one (shown once) or revoke it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dailypapers.community.actions import require_active
from dailypapers.feeds import tokens
from dailypapers.web.accounts import Csrf, login_required, redirect
from dailypapers.web.auth import check_csrf, current_user
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)


def personal_urls(base_url: str, token: str) -> dict[str, str]:
    """The RSS and Atom addresses of a private feed token."""
    base = base_url.rstrip("/") + f"/feeds/personal/{token}"
    return {"rss": base + ".rss", "atom": base + ".atom"}


@router.post("/settings/feed")
def new_feed_link(request: Request, csrf_token: Csrf = "") -> Response:
    """Make a new private feed link (the old one stops working) and show it once."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    require_active(user)
    token = tokens.new_link_token(request.app.state.engine, user_id=user["id"])
    urls = personal_urls(request.app.state.settings.base_url, token)
    return page(request, "feed_link.html", {"title": "Your private feed", "urls": urls})


@router.post("/settings/feed/delete")
def revoke_feed_link(request: Request, csrf_token: Csrf = "") -> Response:
    """Revoke the private feed link."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    tokens.revoke(request.app.state.engine, user_id=user["id"])
    return redirect("/settings?saved=feed#feed")
