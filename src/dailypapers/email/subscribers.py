"""Subscribing: double opt-in for visitors, immediate for logged-in users, preferences,
unsubscribing. Every function validates its input and raises ``SubscriptionError`` with a
message meant for the person asking."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from dailypapers.community.accounts import AccountError, TokenError, mail_address
from dailypapers.community.follows import MAX_PER_KIND
from dailypapers.email import tokens
from dailypapers.settings import Settings
from dailypapers.storage import subscriptions as repo
from dailypapers.storage.engine import write_transaction

PERIODS = ("daily", "weekly")
MAX_FOLLOWS = MAX_PER_KIND  # the digest's lists are the member's follows: the same limit
CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$")
SPLIT = re.compile(r"[,\n;]+")


class SubscriptionError(Exception):
    """A refused subscription action, with a message for the person asking."""


def check_email(value: str, settings: Settings | None = None) -> str:
    """A normalised address the site can mail, by the one check sign-up uses too
    (``accounts.mail_address``: line breaks, length, syntax, and non-ASCII characters before
    the @ only with an SMTPUTF8 server); raises SubscriptionError. Internationalised domains
    become their ``xn--`` form."""
    try:
        return mail_address(value, settings)
    except AccountError as exc:
        raise SubscriptionError(str(exc)) from None


def _items(value: str | list[str], what: str, longest: int) -> list[str]:
    """At most MAX_FOLLOWS distinct items, refused as soon as there are more: the work is
    linear and stops early whatever the size of the form (a form of 20,000 short keywords
    used to cost minutes of quadratic de-duplication)."""
    raw = SPLIT.split(value) if isinstance(value, str) else value
    items: list[str] = []
    seen: set[str] = set()
    for item in (" ".join(part.split()) for part in raw):
        if not item or item.lower() in seen:
            continue
        if len(item) > longest or any(ord(ch) < 32 for ch in item):
            raise SubscriptionError(f"Each {what} has at most {longest} characters.")
        if len(items) == MAX_FOLLOWS:
            raise SubscriptionError(f"Follow at most {MAX_FOLLOWS} {what}s.")
        seen.add(item.lower())
        items.append(item)
    return items


def preferences(
    *,
    period: str = "daily",
    trending_count: int | str = 10,
    categories: str | list[str] = "",
    keywords: str | list[str] = "",
    authors: str | list[str] = "",
    similar: bool = True,
) -> dict[str, Any]:
    """Checked digest preferences (lists accept comma- or line-separated text)."""
    if period not in PERIODS:
        raise SubscriptionError("Choose a daily or a weekly digest.")
    try:
        count = int(trending_count)
    except ValueError:
        raise SubscriptionError("The number of trending papers must be a number.") from None
    if not 0 <= count <= 50:
        raise SubscriptionError("Choose between 0 and 50 trending papers.")
    cats = _items(categories, "category", 32)
    for cat in cats:
        if not CATEGORY.match(cat):
            raise SubscriptionError(f"{cat!r} is not an arXiv category such as cs.LG.")
    return {
        "period": period,
        "trending_count": count,
        "categories": cats,
        "keywords": _items(keywords, "keyword", 60),
        "authors": _items(authors, "author", 100),
        "similar": bool(similar),
    }


def request(
    engine: Engine, *, email: str, prefs: dict[str, Any], settings: Settings | None = None
) -> tuple[RowMapping, bool]:
    """Start a subscription for a visitor: (subscription, whether it needs confirming).

    An address already active is left as it is (the caller mails it a preferences link
    instead of telling the visitor, so the form reveals nothing about who subscribes).
    """
    address = check_email(email, settings)
    try:
        with write_transaction(engine) as conn:
            found = repo.by_email(conn=conn, email=address)
            if found is None:
                sid = repo.create(conn=conn, email=address, status="pending", **prefs)
            elif found["status"] == "active":
                return found, False
            else:
                sid = int(found["id"])
                repo.update_subscription(conn=conn, subscription_id=sid, status="pending", **prefs)
            row = repo.by_id(conn=conn, subscription_id=sid)
    except IntegrityError:  # the same address submitted twice at once
        raise SubscriptionError("Please try again in a moment.") from None
    assert row is not None
    return row, True


def _checked(row: RowMapping | None, email: str) -> RowMapping:
    if row is None or row["email"] != email:
        raise TokenError("This link is not valid any more.")
    return row


def confirm(engine: Engine, settings: Settings, token: str) -> RowMapping:
    """Activate the subscription of a confirmation link; raises TokenError."""
    sid, email = tokens.read_confirm(settings, token)
    with write_transaction(engine) as conn:
        row = _checked(repo.by_id(conn=conn, subscription_id=sid), email)
        if row["status"] != "active":
            repo.update_subscription(
                conn=conn,
                subscription_id=sid,
                status="active",
                bounces=0,
                confirmed_at=dt.datetime.now(dt.UTC),
                unsubscribed_at=None,
            )
        fresh = repo.by_id(conn=conn, subscription_id=sid)
    assert fresh is not None
    return fresh


def from_link(engine: Engine, settings: Settings, purpose: str, token: str) -> RowMapping:
    """The subscription of an unsubscribe or preferences link; raises TokenError."""
    sid, email = tokens.read_link(settings, purpose, token)
    with engine.connect() as conn:
        return _checked(repo.by_id(conn=conn, subscription_id=sid), email)


def unsubscribe(engine: Engine, settings: Settings, token: str) -> RowMapping:
    """Stop the digests of an unsubscribe link at once (idempotent); raises TokenError."""
    row = from_link(engine, settings, "unsubscribe", token)
    set_status(engine, subscription_id=int(row["id"]), status="unsubscribed")
    return row


def set_status(engine: Engine, *, subscription_id: int, status: str) -> None:
    """Change a subscription's status (``unsubscribed`` records when)."""
    extra = {"unsubscribed_at": dt.datetime.now(dt.UTC)} if status == "unsubscribed" else {}
    with engine.begin() as conn:
        repo.update_subscription(conn=conn, subscription_id=subscription_id, status=status, **extra)


def save(engine: Engine, *, subscription_id: int, prefs: dict[str, Any]) -> None:
    """Store new preferences."""
    with engine.begin() as conn:
        repo.update_subscription(conn=conn, subscription_id=subscription_id, **prefs)


def for_user(
    engine: Engine,
    *,
    user: RowMapping,
    prefs: dict[str, Any],
    settings: Settings | None = None,
) -> RowMapping:
    """Subscribe a logged-in user with a verified address (no confirmation link needed); the
    address passes the same check as a visitor's."""
    if user["email_verified_at"] is None or not user["email"]:
        raise SubscriptionError("Confirm your email address first (see your settings).")
    check_email(user["email"], settings)
    try:
        return _save_for_user(engine, user, prefs)
    except IntegrityError:
        # The same form sent twice at once (PostgreSQL runs both checks before either
        # inserts): the other one created the row, so this one updates it.
        return _save_for_user(engine, user, prefs)


def _save_for_user(engine: Engine, user: RowMapping, prefs: dict[str, Any]) -> RowMapping:
    with write_transaction(engine) as conn:
        row = repo.by_user(conn=conn, user_id=user["id"]) or repo.by_email(
            conn=conn, email=user["email"]
        )
        values = {**prefs, "status": "active", "bounces": 0, "unsubscribed_at": None}
        if row is None:
            sid = repo.create(
                conn=conn, email=user["email"], status="active", user_id=user["id"], **prefs
            )
        else:
            sid = int(row["id"])
            repo.update_subscription(
                conn=conn, subscription_id=sid, user_id=user["id"], email=user["email"], **values
            )
        fresh = repo.by_id(conn=conn, subscription_id=sid)
    assert fresh is not None
    return fresh


def add(
    engine: Engine,
    *,
    email: str,
    confirmed: bool,
    prefs: dict[str, Any],
    settings: Settings | None = None,
) -> RowMapping:
    """Operators' ``subscriber add``: create or update, active when ``confirmed``."""
    address = check_email(email, settings)
    status = "active" if confirmed else "pending"
    with write_transaction(engine) as conn:
        row = repo.by_email(conn=conn, email=address)
        if row is None:
            sid = repo.create(conn=conn, email=address, status=status, **prefs)
        else:
            sid = int(row["id"])
            repo.update_subscription(conn=conn, subscription_id=sid, status=status, **prefs)
        fresh = repo.by_id(conn=conn, subscription_id=sid)
    assert fresh is not None
    return fresh
