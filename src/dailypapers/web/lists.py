"""Reading lists on the web: my lists, a list's page (with its JSON twin, feeds and BibTeX,
CSL-JSON and RIS exports), and saving a paper to lists with a note.

Every change is a POST form with the session's CSRF token (it works without JavaScript;
``Accept: application/json`` gets JSON instead of a redirect). A list's address is its
random token: ``/lists/{token}``. Visibility rules are in ``queries/lists.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.engine import RowMapping

from dailypapers.community.actions import paper_id_or_404, require_active
from dailypapers.community.errors import ActionError
from dailypapers.feeds.build import Site
from dailypapers.feeds.lists import list_feed
from dailypapers.feeds.xml import MEDIA_TYPES, render
from dailypapers.library.imports import list_token
from dailypapers.queries import lists as list_queries
from dailypapers.storage import lists
from dailypapers.storage.engine import write_transaction
from dailypapers.web.accounts import Csrf, FormStr, login_required, redirect
from dailypapers.web.auth import check_csrf, current_user, limit, safe_next
from dailypapers.web.deps import connect
from dailypapers.web.render import page

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Visibility = Annotated[Literal["private", "unlisted", "public"], Form()]
Name = Annotated[str, Form(max_length=200)]
Note = Annotated[str, Form(max_length=5000)]
MAX_LISTS = 200  # lists per user
EXPORTS = {
    "bib": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
    "csl.json": "application/vnd.citationstyles.csl+json",
}


def _clean_name(name: str) -> str:
    return " ".join(name.split())[:200]


def _user(request: Request) -> RowMapping | None:
    return current_user(request)


def _viewer_id(request: Request) -> int | None:
    user = _user(request)
    return int(user["id"]) if user is not None else None


def _view(request: Request, token: str) -> list_queries.ListView:
    with connect(request) as conn:
        listing = list_queries.view(conn=conn, token=token, viewer_id=_viewer_id(request))
    if listing is None:
        raise ActionError("No reading list at this address (or it is private).", 404)
    return listing


def _own(request: Request, token: str) -> RowMapping:
    """The signed-in user's list at ``token`` (404 for anyone else's)."""
    user = require_active(_user(request))
    with connect(request) as conn:
        row = lists.list_by_token(conn=conn, token=token)
    if row is None or row["user_id"] != user["id"]:
        raise ActionError("No reading list of yours at this address.", 404)
    return row


def _create(request: Request, user: RowMapping, name: str, visibility: str) -> RowMapping:
    """A new list of ``user`` (names are unique per user: a taken one is refused)."""
    name = _clean_name(name)
    if not name:
        raise ActionError("Give the list a name.", 422)
    with write_transaction(request.app.state.engine) as conn:
        if lists.list_named(conn=conn, user_id=user["id"], name=name) is not None:
            raise ActionError(f"You already have a list called {name!r}.", 409)
        if len(lists.user_lists(conn=conn, user_id=user["id"])) >= MAX_LISTS:
            raise ActionError(f"You can have at most {MAX_LISTS} lists.", 422)
        list_id = lists.create_list(
            conn=conn, user_id=user["id"], name=name, token=list_token(), visibility=visibility
        )
        row = lists.list_by_id(conn=conn, list_id=list_id)
    assert row is not None
    return row


@router.get("/lists")
def my_lists(request: Request) -> Response:
    """The signed-in user's lists, a form for a new one, and their imports."""
    from dailypapers.storage import library

    user = _user(request)
    if user is None:
        return login_required(request)
    with connect(request) as conn:
        mine = lists.user_lists(conn=conn, user_id=user["id"])
        imports = library.user_imports(conn=conn, user_id=user["id"])
    return page(
        request, "reading_lists.html", {"title": "Your lists", "lists": mine, "imports": imports}
    )


@router.post("/lists")
def create_list(
    request: Request, csrf_token: Csrf = "", name: Name = "", visibility: Visibility = "private"
) -> Response:
    """Create a list."""
    user = _user(request)
    if user is None:
        return login_required(request)
    check_csrf(request, csrf_token)
    require_active(user)
    limit(request, "lists", f"user:{user['id']}")
    row = _create(request, user, name, visibility)
    return redirect(f"/lists/{row['token']}")


@router.post("/papers/{arxiv_id:path}/save")
def save(
    request: Request,
    arxiv_id: str,
    csrf_token: Csrf = "",
    target: Annotated[str, Form(alias="list", max_length=64)] = "",
    new_list: Name = "",
    note: Note = "",
    action: Annotated[Literal["save", "remove"], Form()] = "save",
    next: FormStr = "",
) -> Response:
    """Save a paper to one of the user's lists (or a new one), with a note; or take it off."""
    wants_json = "application/json" in request.headers.get("accept", "")
    user = _user(request)
    if user is None:
        if wants_json:
            return JSONResponse(
                {"error": "Log in to save papers.", "login": "/login"}, status_code=401
            )
        return redirect(f"/login?next=/papers/{arxiv_id}")
    check_csrf(request, csrf_token)
    require_active(user)
    limit(request, "lists", f"user:{user['id']}")
    paper_id = paper_id_or_404(request.app.state.engine, arxiv_id)
    if target:
        row = _own(request, target)
    elif action == "save":
        wanted = _clean_name(new_list) or "Saved"
        with connect(request) as conn:
            existing = lists.list_named(conn=conn, user_id=user["id"], name=wanted)
        row = existing or _create(request, user, wanted, "private")
    else:
        raise ActionError("Say which list to take the paper off.", 422)
    with write_transaction(request.app.state.engine) as conn:
        if action == "save":
            lists.save_paper(
                conn=conn, list_id=row["id"], paper_id=paper_id, note=note.strip() or None
            )
        else:
            lists.remove_paper(conn=conn, list_id=row["id"], paper_id=paper_id)
        saved = paper_id in lists.saved_paper_ids(conn=conn, user_id=user["id"])
    if wants_json:
        return JSONResponse({"saved": saved, "list": row["token"], "name": row["name"]})
    return redirect(safe_next(next) if next else f"/papers/{paper_id}#save")


@router.get("/lists/{token}.json")
def list_json(request: Request, token: Token) -> Response:
    """The JSON twin of a list page."""
    listing = _view(request, token)
    body = list_queries.list_json(listing, request.app.state.settings.base_url)
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


@router.get("/lists/{token}/feed.{fmt}")
def feed(request: Request, token: Token, fmt: Literal["rss", "atom"]) -> Response:
    """RSS or Atom of a public or unlisted list (private lists have no feed)."""
    listing = _view(request, token)
    if listing.row["visibility"] == "private":
        return PlainTextResponse("A private list has no feed.", status_code=404)
    settings = request.app.state.settings
    site = Site(settings.site_name, settings.base_url)
    self_url = site.url(f"/lists/{quote(token)}/feed.{fmt}")
    body = render(list_feed(site=site, self_url=self_url, listing=listing), fmt)
    headers = {"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"}
    if listing.public:
        headers["Cache-Control"] = "public, max-age=300"
        del headers["X-Robots-Tag"]
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/lists/{token}/export.{fmt}")
def export(request: Request, token: Token, fmt: Literal["bib", "ris", "csl.json"]) -> Response:
    """The list as BibTeX, RIS or CSL-JSON, to download (never with private notes)."""
    listing = _view(request, token)
    with connect(request) as conn:
        entries = list_queries.keyed(conn=conn, rows=listing.papers)
    body: str | bytes
    if fmt == "bib":
        body = list_queries.bibtex(entries)
    elif fmt == "ris":
        body = list_queries.ris(entries)
    else:
        body = list_queries.csl_json(entries)
    filename = f"list-{token[:12]}.{fmt}"
    return Response(
        body,
        media_type=EXPORTS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/lists/{token}")
def list_page(request: Request, token: Token) -> Response:
    """A list's page: its papers (with notes and edit forms for the owner)."""
    listing = _view(request, token)
    context = {"title": listing.row["name"], "listing": listing, "row": listing.row}
    response = page(request, "reading_list.html", context)
    if not listing.public:
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Cache-Control"] = "private, no-store"
    return response


@router.post("/lists/{token}/edit")
def edit_list(
    request: Request,
    token: Token,
    csrf_token: Csrf = "",
    name: Name = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    visibility: Visibility = "private",
) -> Response:
    """Rename a list, describe it or change who can see it."""
    check_csrf(request, csrf_token)
    row = _own(request, token)
    clean = _clean_name(name)
    if not clean:
        raise ActionError("Give the list a name.", 422)
    with write_transaction(request.app.state.engine) as conn:
        other = lists.list_named(conn=conn, user_id=row["user_id"], name=clean)
        if other is not None and other["id"] != row["id"]:
            raise ActionError(f"You already have a list called {clean!r}.", 409)
        lists.update_list(
            conn=conn,
            list_id=row["id"],
            name=clean,
            description=description.strip(),
            visibility=visibility,
        )
    return redirect(f"/lists/{token}?saved=1")


@router.post("/lists/{token}/delete")
def delete_list(request: Request, token: Token, csrf_token: Csrf = "") -> Response:
    """Delete a list (the papers stay on the site, and on the user's other lists)."""
    check_csrf(request, csrf_token)
    row = _own(request, token)
    with write_transaction(request.app.state.engine) as conn:
        lists.delete_list(conn=conn, list_id=row["id"])
    return redirect("/lists?deleted=1")


@router.post("/lists/{token}/note")
def set_note(
    request: Request,
    token: Token,
    csrf_token: Csrf = "",
    paper: Annotated[str, Form(max_length=64)] = "",
    note: Note = "",
) -> Response:
    """Change the private note of a paper on a list."""
    check_csrf(request, csrf_token)
    row = _own(request, token)
    paper_id = paper_id_or_404(request.app.state.engine, paper)
    with write_transaction(request.app.state.engine) as conn:
        holding = lists.lists_holding(conn=conn, user_id=row["user_id"], paper_id=paper_id)
        if row["id"] not in holding:
            raise ActionError("That paper is not on this list.", 404)
        lists.save_paper(conn=conn, list_id=row["id"], paper_id=paper_id, note=note.strip())
    return redirect(f"/lists/{token}#paper-{paper_id}")
