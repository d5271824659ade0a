"""My data: everything the site holds about a user as one JSON document, and deleting the
account (docs/accounts.md, "Your data").

The document has the profile, follows and digest preferences, votes, comments, submissions,
reading lists with their notes, imported libraries with every entry, email subscriptions,
API tokens and sessions (their names and dates, never the secrets) and any other table that
keeps rows per user (``storage/account_data.user_tables``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from dailypapers.community.accounts import password_matches
from dailypapers.community.errors import ActionError
from dailypapers.storage import account_data, runs
from dailypapers.storage.engine import write_transaction

FORMAT_VERSION = 1
Mode = Literal["anonymise", "remove"]


def export(engine: Engine, user: RowMapping, *, site: str) -> dict[str, Any]:
    """The user's data as one JSON-ready document."""
    with engine.connect() as conn:
        profile = account_data.user_row(conn=conn, user_id=user["id"])
        tables = account_data.user_tables(conn=conn, user_id=user["id"])
        submitted = account_data.submissions(conn=conn, user_id=user["id"])
        by_email = account_data.email_subscription(conn=conn, email=user["email"])
        items = account_data.saved_items(conn=conn, user_id=user["id"])
    lists = tables.pop("reading_lists", [])
    by_list: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        by_list.setdefault(item.pop("list_id"), []).append(item)
    for reading_list in lists:
        reading_list["papers"] = by_list.get(reading_list["id"], [])
    imports = tables.pop("library_imports", [])
    entries = tables.pop("library_entries", [])
    for library in imports:
        library["entries"] = [e for e in entries if e.get("import_id") == library["id"]]
    return {
        "format": "dailypapers-my-data",
        "version": FORMAT_VERSION,
        "site": site,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "profile": profile,
        "follows": tables.pop("follows", []),
        "subscriptions": tables.pop("subscriptions", []) + by_email,
        "votes": tables.pop("votes", []),
        "comments": tables.pop("comments", []),
        "submissions": submitted,
        "reading_lists": lists,
        "imported_libraries": imports,
        "api_tokens": tables.pop("api_tokens", []),
        "sessions": tables.pop("sessions", []),
        "feed_tokens": tables.pop("feed_tokens", []),
        "other": tables,  # tables added later (not interested marks, ...)
    }


def delete_account(
    engine: Engine, user: RowMapping, *, password: str, mode: Mode
) -> dict[str, int]:
    """Delete ``user``'s account after checking the password again; ``mode`` says whether
    votes and comments are anonymised (kept, without a name) or removed."""
    if not password_matches(user["password_hash"], password):
        raise ActionError("That is not your password.", 403)
    with write_transaction(engine) as conn:
        done = account_data.delete_user(conn=conn, user=user, remove=mode == "remove")
        runs.bump_revision(conn=conn)  # comments, names and counts on cached pages changed
        if mode == "remove" and done["votes"]:
            runs.bump_revision(conn=conn, key="votes")
    return done
