"""My data on the web: ``/settings/data`` (download everything as JSON, delete the account).

Deleting needs the password again and the session's CSRF token; guesses count against the
account's log-in limit. Afterwards every session and API token is gone, the cookie is
cleared and a page says what happened.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dailypapers.community import accounts as account_actions
from dailypapers.community import mydata
from dailypapers.web.accounts import Csrf, FormStr, login_required, notice
from dailypapers.web.auth import check_csrf, clear_session_cookie, current_user, limit
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/settings/data")
def data_page(request: Request) -> Response:
    """Download my data, or delete my account."""
    if current_user(request) is None:
        return login_required(request)
    return page(request, "my_data.html", {"title": "Your data"})


@router.get("/settings/data/export.json")
def download(request: Request) -> Response:
    """Everything the site holds about the signed-in user, as a JSON file."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    settings = request.app.state.settings
    document = mydata.export(request.app.state.engine, user, site=settings.base_url)
    name = f"{settings.site_name}-{user['username']}.json".replace(" ", "-").replace('"', "")
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/settings/delete")
def delete_account(
    request: Request,
    csrf_token: Csrf = "",
    password: FormStr = "",
    mode: Annotated[Literal["anonymise", "remove"], Form()] = "anonymise",
) -> Response:
    """Delete the signed-in user's account (password again; votes and comments anonymised
    or removed, as chosen)."""
    user = current_user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    limit(request, "login", "account:" + account_actions.account_key(user["email"] or ""))
    if not account_actions.password_matches(user["password_hash"], password):
        context = {"title": "Your data", "error": "That is not your password."}
        return page(request, "my_data.html", context, 403)
    done = mydata.delete_account(request.app.state.engine, user, password=password, mode=mode)
    kept = "kept without your name" if mode == "anonymise" else "removed"
    message = (
        f"Your account is deleted: your {done['votes']} upvotes and {done['comments']} "
        f"comments were {kept}, your lists, imports, subscriptions, sessions and API tokens "
        "are gone."
    )
    request.state.user = None
    response = notice(request, "Account deleted", message)
    clear_session_cookie(request, response)
    return response
