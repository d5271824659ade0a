"""What the signed-in visitor has saved, for every card and the paper page's save control.

``saved_ids`` is one query per page whatever the number of cards (the ids of every paper on
any of the visitor's lists, read once and kept on the request). Pages that show it are
personal, so they are never served from the response cache: logged-in visitors bypass it
(``web/cache.py``) and their pages are ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from dailypapers.storage import lists


def saved_ids(request: Request) -> set[str]:
    """Ids of the papers on the visitor's lists (empty for anonymous visitors)."""
    from dailypapers.web.auth import current_user

    if hasattr(request.state, "saved_ids"):
        held: set[str] = request.state.saved_ids
        return held
    user = current_user(request)
    ids: set[str] = set()
    if user is not None:
        with request.app.state.engine.connect() as conn:
            ids = lists.saved_paper_ids(conn=conn, user_id=user["id"])
    request.state.saved_ids = ids
    return ids


def save_choices(request: Request, paper_id: str) -> dict[str, Any]:
    """The visitor's lists and which of them hold ``paper_id`` (with its notes there)."""
    from dailypapers.web.auth import current_user

    user = current_user(request)
    if user is None:
        return {"lists": [], "holding": {}}
    with request.app.state.engine.connect() as conn:
        mine = lists.user_lists(conn=conn, user_id=user["id"])
        holding = lists.lists_holding(conn=conn, user_id=user["id"], paper_id=paper_id)
    return {"lists": mine, "holding": holding}


def public_lists(request: Request, user_id: int) -> list[Any]:
    """A member's public lists, for their profile."""
    with request.app.state.engine.connect() as conn:
        return lists.user_lists(conn=conn, user_id=user_id, visibility="public")
