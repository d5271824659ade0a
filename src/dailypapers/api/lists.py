"""Reading lists and my data over JSON: a list's JSON twin (``GET /api/lists/{token}``,
public and unlisted lists), and with ``Authorization: Bearer <token>`` the caller's lists,
saving a paper to a list, and the caller's whole data (the same document as
``/settings/data/export.json``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from dailypapers.api import shapes
from dailypapers.api.community import User
from dailypapers.api.params import ArxivIdPath
from dailypapers.community import mydata
from dailypapers.community.actions import paper_id_or_404
from dailypapers.community.errors import ActionError
from dailypapers.queries import lists as list_queries
from dailypapers.storage import lists
from dailypapers.storage.engine import write_transaction
from dailypapers.web.auth import limit
from dailypapers.web.deps import connect

router = APIRouter(prefix="/api", tags=["lists"])
# What a list's token looks like (22 URL-safe characters), for the documentation's examples.
EXAMPLE_TOKEN = "q3Vf8nL2pXw7Rt5ZkE1c_A"  # noqa: S105 - a documented example, not a secret
Token = Annotated[
    str,
    Path(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The list's token (the last part of its address)",
        examples=[EXAMPLE_TOKEN],
    ),
]


class SaveIn(BaseModel):
    """Which list of yours (its token) and an optional private note."""

    list: str = Field(
        min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=[EXAMPLE_TOKEN]
    )
    note: str | None = Field(None, max_length=5000, examples=["Read section 3 first."])


@router.get(
    "/lists/{token}",
    summary="A reading list (public or unlisted)",
    responses=shapes.errors(404, 422),
)
def get_list(token: Token, request: Request) -> Any:
    """A public or unlisted list with its papers (private lists are not found here)."""
    with connect(request) as conn:
        listing = list_queries.view(conn=conn, token=token, viewer_id=None)
    if listing is None:
        raise ActionError("No reading list at this address (or it is private).", 404)
    return list_queries.list_json(listing, request.app.state.settings.base_url)


@router.get(
    "/me/lists",
    summary="Your reading lists",
    responses=shapes.errors(401, 403),
)
def my_lists(request: Request, user: User) -> Any:
    """Every list of yours, with its papers and your notes."""
    base = request.app.state.settings.base_url
    with connect(request) as conn:
        rows = lists.user_lists(conn=conn, user_id=user["id"])
        views = [list_queries.view(conn=conn, token=r["token"], viewer_id=user["id"]) for r in rows]
    return [list_queries.list_json(v, base) for v in views if v is not None]


@router.post(
    "/papers/{arxiv_id:arxiv}/save",
    summary="Save a paper to one of your lists",
    # 400: a body that is not JSON at all (FastAPI refuses it before validation).
    responses=shapes.errors(400, 401, 403, 404, 422, 429),
)
def save(arxiv_id: ArxivIdPath, payload: SaveIn, request: Request, user: User) -> Any:
    """Put the paper on your list (its note replaced when you send one)."""
    limit(request, "lists", f"user:{user['id']}")
    paper_id = paper_id_or_404(request.app.state.engine, arxiv_id)
    with write_transaction(request.app.state.engine) as conn:
        row = lists.list_by_token(conn=conn, token=payload.list)
        if row is None or row["user_id"] != user["id"]:
            raise ActionError("No reading list of yours with that token.", 404)
        lists.save_paper(conn=conn, list_id=row["id"], paper_id=paper_id, note=payload.note)
    return {"saved": True, "list": row["token"], "paper": paper_id}


@router.get(
    "/me/data",
    summary="Everything the site holds about you",
    responses=shapes.errors(401, 403),
)
def my_data(request: Request, user: User) -> Any:
    """Your profile, follows, votes, comments, lists, imports, subscriptions and tokens."""
    return mydata.export(request.app.state.engine, user, site=request.app.state.settings.base_url)
