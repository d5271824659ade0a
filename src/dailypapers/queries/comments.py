"""A paper's comment threads as pages and the API show them: rendered, ordered, one level deep."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from dailypapers.community.markdown import render
from dailypapers.storage import community
from dailypapers.timefmt import hf_time


@dataclass(slots=True)
class CommentView:
    """One comment as shown: safe HTML, author, flags, and its replies."""

    id: int
    paper_id: str
    user_id: int
    username: str
    display_name: str
    body: str
    html: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    deleted: bool
    hidden: bool
    parent_id: int | None
    replies: list[CommentView] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The API shape of this comment and its replies."""
        return {
            "id": self.id,
            "paperId": self.paper_id,
            "parentId": self.parent_id,
            "author": {"user": self.username, "fullname": self.display_name},
            "body": self.body,
            "html": self.html,
            "createdAt": hf_time(self.created_at),
            "editedAt": hf_time(self.edited_at),
            "deleted": self.deleted,
            "hidden": self.hidden,
            "replies": [reply.as_json() for reply in self.replies],
        }


def threads(*, conn: Connection, paper_id: str, moderator: bool = False) -> list[CommentView]:
    """Top-level comments (oldest first) with their replies; hidden ones only for moderators.

    A deleted comment that has replies stays as a placeholder so the replies keep their place.
    """
    views: dict[int, CommentView] = {}
    top: list[CommentView] = []
    for row in community.paper_comments(conn=conn, paper_id=paper_id):
        if row["hidden"] and not moderator:
            continue
        deleted = row["deleted_at"] is not None
        view = CommentView(
            id=row["id"],
            paper_id=row["paper_id"],
            user_id=row["user_id"],
            username=row["username"],
            display_name=row["display_name"],
            body="" if deleted else row["body"],
            # Rendered when written; a row without it (none after migration 0006) now.
            html="" if deleted else row["html"] if row["html"] is not None else render(row["body"]),
            created_at=row["created_at"],
            edited_at=row["edited_at"],
            deleted=deleted,
            hidden=bool(row["hidden"]),
            parent_id=row["parent_id"],
        )
        views[view.id] = view
        if view.parent_id is None:
            top.append(view)
        elif view.parent_id in views:
            views[view.parent_id].replies.append(view)
    return [view for view in top if not view.deleted or view.replies]


def count(views: list[CommentView]) -> int:
    """Visible comments and replies."""
    return sum(1 + len([r for r in v.replies if not r.deleted]) - v.deleted for v in views)
