"""What signed-in people do: submit papers, upvote, comment; and what moderators do.

Every function takes the acting user (a row from the accounts repository), checks what the
user may do, and runs one short transaction. Banned users are refused everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from dailypapers.community.errors import ActionError
from dailypapers.community.markdown import render
from dailypapers.ingest.normalize import Rejected, normalize, parse_arxiv_id
from dailypapers.records import Paper, RawPaper
from dailypapers.storage import accounts, community, papers, runs
from dailypapers.storage.engine import write_transaction

MAX_COMMENT = 10_000
Fetch = Callable[[str], Iterable[RawPaper]]


def require_active(user: RowMapping | None) -> RowMapping:
    """The user, if signed in, verified and not banned; else ActionError (401/403)."""
    if user is None:
        raise ActionError("Log in first.", 401)
    if user["banned_at"] is not None:
        raise ActionError("This account has been suspended by the site's moderators.", 403)
    if user["email_verified_at"] is None:
        raise ActionError("Confirm your email address first (see the link we sent you).", 403)
    return user


def require_admin(user: RowMapping | None) -> RowMapping:
    """The user, if an active admin; else ActionError."""
    user = require_active(user)
    if not user["is_admin"]:
        raise ActionError("Only the site's administrators can do that.", 403)
    return user


def paper_id_or_404(engine: Engine, arxiv_id: str) -> str:
    """The canonical id of a visible paper; ActionError 404 otherwise."""
    try:
        paper_id, _ = parse_arxiv_id(arxiv_id)
    except Rejected:
        raise ActionError(f"Not an arXiv id: {arxiv_id[:80]!r}", 404) from None
    with engine.connect() as conn:
        row = papers.get_paper(conn=conn, arxiv_id=paper_id)
    if row is None or row["hidden"]:
        raise ActionError(f"No paper {paper_id} here.", 404)
    return paper_id


def set_vote(engine: Engine, user: RowMapping | None, arxiv_id: str, *, up: bool) -> int:
    """Upvote (``up``) or withdraw the vote; idempotent. Returns the paper's new count."""
    user = require_active(user)
    paper_id = paper_id_or_404(engine, arxiv_id)
    with write_transaction(engine) as conn:
        if up:
            changed = community.add_vote(conn=conn, user_id=user["id"], paper_id=paper_id)
        else:
            changed = community.remove_vote(conn=conn, user_id=user["id"], paper_id=paper_id)
        if changed:
            runs.bump_revision(conn=conn, key="votes")
        return community.upvote_count(conn=conn, paper_id=paper_id)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A paper put on a day's list by a user."""

    paper_id: str
    day: dt.date
    fetched: bool


def submit(
    engine: Engine,
    user: RowMapping | None,
    ref: str,
    *,
    fetch: Fetch,
    window_days: int,
    today: dt.date | None = None,
) -> Submitted:
    """Put a paper (arXiv id or URL) on today's list, fetching it from arXiv if unknown.

    Refused when the paper is already on a list (409, with a link to its day), too old
    (422), unknown to arXiv (404), or the user may not submit.
    """
    user = require_active(user)
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        paper_id, _ = parse_arxiv_id(ref)
    except Rejected:
        raise ActionError(
            f"{ref.strip()[:80]!r} is not an arXiv id or URL (like 2410.17243 or "
            "https://arxiv.org/abs/2410.17243).",
            422,
        ) from None
    with engine.connect() as conn:
        known = papers.get_paper(conn=conn, arxiv_id=paper_id)
        day = community.listed_day(conn=conn, paper_id=paper_id)
    if day is not None:
        raise ActionError(f"{paper_id} is already on the list of {day}.", 409, _day_link(day))
    fetched = False
    if known is None:
        known_paper = _fetch(fetch, paper_id)
        with write_transaction(engine) as conn:
            papers.upsert_papers(conn=conn, batch=[known_paper])
            known = papers.get_paper(conn=conn, arxiv_id=paper_id)
        fetched = True
    assert known is not None
    if known["hidden"]:
        raise ActionError(f"{paper_id} cannot be submitted here.", 403)
    age = (today - known["published_at"].date()).days
    if age > window_days:
        raise ActionError(
            f"{paper_id} was first published on {known['published_at'].date()}, {age} days "
            f"ago; only papers from the last {window_days} days can be submitted.",
            422,
        )
    try:
        with write_transaction(engine) as conn:
            community.submit_entry(conn=conn, paper_id=paper_id, day=today, user_id=user["id"])
            runs.bump_revision(conn=conn)
    except IntegrityError:
        with engine.connect() as conn:
            day = community.listed_day(conn=conn, paper_id=paper_id)
        raise ActionError(
            f"{paper_id} is already on the list of {day}.", 409, _day_link(day)
        ) from None
    return Submitted(paper_id, today, fetched)


def _day_link(day: dt.date | None) -> str | None:
    return f"/papers?date={day}" if day else None


def _fetch(fetch: Fetch, paper_id: str) -> Paper:
    try:
        records = list(fetch(paper_id))
    except ActionError:  # busy, or arXiv too slow: already a clear answer
        raise
    except Exception as exc:  # network and feed errors become one clear message
        raise ActionError(f"Could not fetch {paper_id} from arXiv: {exc}", 502) from None
    for raw in records:
        if raw.error:
            continue
        try:
            paper = normalize(raw)
        except Rejected:
            continue
        if paper.arxiv_id == paper_id:
            return paper
    raise ActionError(f"arXiv has no paper {paper_id}.", 404)


def _comment_body(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise ActionError("A comment cannot be empty.", 422)
    if len(body) > MAX_COMMENT:
        raise ActionError(f"A comment has at most {MAX_COMMENT:,} characters.", 422)
    return body


def add_comment(
    engine: Engine, user: RowMapping | None, arxiv_id: str, body: str, parent_id: int | None
) -> int:
    """Comment on a paper, or reply to a top-level comment (replies are one level deep)."""
    user = require_active(user)
    paper_id = paper_id_or_404(engine, arxiv_id)
    body = _comment_body(body)
    html = render(body)  # once, outside the write lock: pages show the stored HTML
    with write_transaction(engine) as conn:
        if parent_id is not None:
            parent = community.get_comment(conn=conn, comment_id=parent_id, lock=True)
            if parent is None or parent["paper_id"] != paper_id or parent["hidden"]:
                raise ActionError("The comment you replied to is not there any more.", 404)
            # A reply to a reply joins its thread: threads are one level deep.
            parent_id = parent["parent_id"] or parent["id"]
        comment_id = community.add_comment(
            conn=conn,
            paper_id=paper_id,
            user_id=user["id"],
            body=body,
            html=html,
            parent_id=parent_id,
        )
        runs.bump_revision(conn=conn)  # cached paper pages show comments
    return comment_id


def _own_comment(engine: Engine, user: RowMapping, comment_id: int) -> RowMapping:
    with engine.connect() as conn:
        comment = community.get_comment(conn=conn, comment_id=comment_id)
    if comment is None or comment["deleted_at"] is not None:
        raise ActionError("No such comment.", 404)
    if comment["user_id"] != user["id"]:
        raise ActionError("You can only change your own comments.", 403)
    return comment


def edit_comment(engine: Engine, user: RowMapping | None, comment_id: int, body: str) -> RowMapping:
    """Change the text of one's own comment; returns the comment before the edit."""
    user = require_active(user)
    comment = _own_comment(engine, user, comment_id)
    body = _comment_body(body)
    html = render(body)
    with write_transaction(engine) as conn:
        community.edit_comment(conn=conn, comment_id=comment_id, body=body, html=html)
        runs.bump_revision(conn=conn)
    return comment


def delete_comment(engine: Engine, user: RowMapping | None, comment_id: int) -> RowMapping:
    """Delete one's own comment; returns it."""
    user = require_active(user)
    comment = _own_comment(engine, user, comment_id)
    with write_transaction(engine) as conn:
        community.delete_comment(conn=conn, comment_id=comment_id)
        runs.bump_revision(conn=conn)
    return comment


def moderate_comment(
    engine: Engine, admin: RowMapping | None, comment_id: int, *, hidden: bool
) -> RowMapping:
    """Hide (or show again) any comment."""
    require_admin(admin)
    with write_transaction(engine) as conn:
        comment = community.get_comment(conn=conn, comment_id=comment_id)
        if comment is None:
            raise ActionError("No such comment.", 404)
        community.set_comment_hidden(conn=conn, comment_id=comment_id, hidden=hidden)
        runs.bump_revision(conn=conn)
    return comment


def moderate_paper(engine: Engine, admin: RowMapping | None, arxiv_id: str, *, hidden: bool) -> str:
    """Hide a paper from every list, page and search result (or show it again)."""
    require_admin(admin)
    try:
        paper_id, _ = parse_arxiv_id(arxiv_id)
    except Rejected:
        raise ActionError(f"Not an arXiv id: {arxiv_id[:80]!r}", 404) from None
    with write_transaction(engine) as conn:
        if not community.set_paper_hidden(conn=conn, paper_id=paper_id, hidden=hidden):
            raise ActionError(f"No paper {paper_id} here.", 404)
        runs.bump_revision(conn=conn)
    return paper_id


def ban_user(
    engine: Engine, admin: RowMapping | None, username: str, *, banned: bool
) -> RowMapping:
    """Ban a user (ends their sessions; their writes are refused) or lift the ban."""
    admin = require_admin(admin)
    with write_transaction(engine) as conn:
        target = accounts.user_by_username(conn=conn, username=username)
        if target is None:
            raise ActionError(f"No user {username!r}.", 404)
        if target["id"] == admin["id"]:
            raise ActionError("You cannot ban yourself.", 422)
        accounts.update_user(
            conn=conn,
            user_id=target["id"],
            banned_at=dt.datetime.now(dt.UTC) if banned else None,
        )
        if banned:
            accounts.delete_user_sessions(conn=conn, user_id=target["id"])
    return target
