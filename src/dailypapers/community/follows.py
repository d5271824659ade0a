"""Following: checked follow and unfollow of categories, authors, keywords and members, and
"not interested" marks. The web pages, the API and the digest form all come through here, so
one set of rules (kinds, lengths, how many) holds everywhere."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from dailypapers.community.actions import paper_id_or_404, require_active
from dailypapers.community.errors import ActionError
from dailypapers.storage import accounts
from dailypapers.storage import follows as repo
from dailypapers.storage.engine import write_transaction

MAX_PER_KIND = 50
CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$")
LONGEST = {"category": 32, "author": 100, "keyword": 60, "user": 40}
LABELS = {"category": "categories", "author": "authors", "keyword": "keywords", "user": "members"}


def check(kind: str, value: str) -> str:
    """The value to store for a follow of ``kind`` (spaces collapsed); ActionError 422 if
    it cannot be followed."""
    if kind not in repo.KINDS:
        raise ActionError("Follow a category, an author, a keyword or a member.", 422)
    value = " ".join(str(value).split())
    if not value:
        raise ActionError(f"Say which {kind} to follow.", 422)
    if len(value) > LONGEST[kind] or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ActionError(f"A {kind} has at most {LONGEST[kind]} characters.", 422)
    if kind == "category" and not CATEGORY.match(value):
        raise ActionError(f"{value!r} is not an arXiv category such as cs.LG.", 422)
    return value


def follow(engine: Engine, user: RowMapping | None, kind: str, value: str) -> bool:
    """Follow ``value``; True when new. Members are followed by username (they must exist
    and not be the follower)."""
    user = require_active(user)
    value = check(kind, value)
    with write_transaction(engine) as conn:
        if kind == "user":
            target = accounts.user_by_username(conn=conn, username=value)
            if target is None:
                raise ActionError(f"No member called {value!r}.", 404)
            if int(target["id"]) == int(user["id"]):
                raise ActionError("You cannot follow yourself.", 409)
            value = str(target["username"])
        if repo.count(conn=conn, user_id=int(user["id"]), kind=kind) >= MAX_PER_KIND:
            # 409: the request is fine, the member's state refuses it (unfollow something).
            raise ActionError(f"Follow at most {MAX_PER_KIND} {LABELS[kind]}.", 409)
        return repo.add(conn=conn, user_id=int(user["id"]), kind=kind, value=value)


def unfollow(engine: Engine, user: RowMapping | None, kind: str, value: str) -> bool:
    """Stop following ``value``; True when it was followed (unfollowing twice is fine)."""
    user = require_active(user)
    if kind not in repo.KINDS:
        raise ActionError("Follow a category, an author, a keyword or a member.", 422)
    value = " ".join(str(value).split())[:200]
    with write_transaction(engine) as conn:
        return repo.remove(conn=conn, user_id=int(user["id"]), kind=kind, value=value)


def not_interested(engine: Engine, user: RowMapping | None, arxiv_id: str, *, on: bool) -> str:
    """Mark (or unmark) a paper "not interested"; returns its canonical id."""
    user = require_active(user)
    paper_id = paper_id_or_404(engine, arxiv_id)
    with write_transaction(engine) as conn:
        if on:
            repo.mark_not_interested(conn=conn, user_id=int(user["id"]), paper_id=paper_id)
        else:
            repo.unmark_not_interested(conn=conn, user_id=int(user["id"]), paper_id=paper_id)
    return paper_id
