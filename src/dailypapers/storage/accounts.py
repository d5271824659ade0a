"""Accounts repository: users, login sessions and API tokens (all secrets stored hashed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from dailypapers.storage.schema import api_tokens, sessions, users

USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.email,
    users.c.password_hash,
    users.c.email_verified_at,
    users.c.is_admin,
    users.c.banned_at,
    users.c.created_at,
)


def create_user(
    *,
    conn: Connection,
    username: str,
    email: str | None,
    password_hash: str | None,
    display_name: str | None = None,
    is_admin: bool = False,
    verified: bool = False,
) -> int:
    """Insert a user and return its id (the caller checks that name and email are free)."""
    now = dt.datetime.now(dt.UTC)
    key = conn.execute(
        insert(users).values(
            username=username,
            display_name=display_name or username,
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            email_verified_at=now if verified else None,
            created_at=now,
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def user_by_email(*, conn: Connection, email: str) -> RowMapping | None:
    """The user with this (lower-cased) email, if any."""
    query = select(*USER_COLUMNS).where(users.c.email == email)
    return conn.execute(query).mappings().first()


def user_by_id(*, conn: Connection, user_id: int) -> RowMapping | None:
    """The user with this id, if any."""
    return conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id)).mappings().first()


def user_by_username(*, conn: Connection, username: str) -> RowMapping | None:
    """The user with this username (case-insensitive), if any."""
    query = select(*USER_COLUMNS).where(func.lower(users.c.username) == username.lower())
    return conn.execute(query).mappings().first()


def update_user(*, conn: Connection, user_id: int, **values: Any) -> None:
    """Set columns of one user."""
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def create_session(
    *, conn: Connection, session_hash: str, user_id: int, csrf: str, expires_at: dt.datetime
) -> None:
    """Store a login session (by the hash of its cookie token)."""
    conn.execute(
        insert(sessions).values(
            id=session_hash,
            user_id=user_id,
            csrf=csrf,
            created_at=dt.datetime.now(dt.UTC),
            expires_at=expires_at,
        )
    )


def session_user(*, conn: Connection, session_hash: str, now: dt.datetime) -> RowMapping | None:
    """The user and CSRF token of a live session, or None when unknown or expired."""
    query = (
        select(*USER_COLUMNS, sessions.c.csrf, sessions.c.expires_at)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(sessions.c.id == session_hash, sessions.c.expires_at > now)
    )
    return conn.execute(query).mappings().first()


def delete_session(*, conn: Connection, session_hash: str) -> None:
    """Log one session out."""
    conn.execute(delete(sessions).where(sessions.c.id == session_hash))


def delete_user_sessions(*, conn: Connection, user_id: int) -> None:
    """Log a user out everywhere (password change, ban)."""
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def delete_expired_sessions(*, conn: Connection, now: dt.datetime) -> int:
    """Remove expired sessions; returns how many."""
    return conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount


def create_token(
    *,
    conn: Connection,
    user_id: int,
    token_hash: str,
    name: str,
    expires_at: dt.datetime | None = None,
) -> int:
    """Store an API token (by its hash; None ``expires_at``: until revoked) and return its id."""
    key = conn.execute(
        insert(api_tokens).values(
            user_id=user_id,
            token_hash=token_hash,
            name=name,
            created_at=dt.datetime.now(dt.UTC),
            expires_at=expires_at,
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def token_user(*, conn: Connection, token_hash: str, now: dt.datetime) -> RowMapping | None:
    """The user owning an API token, or None when unknown or expired at ``now``."""
    query = (
        select(*USER_COLUMNS, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
        .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
        .where(
            api_tokens.c.token_hash == token_hash,
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
        )
    )
    return conn.execute(query).mappings().first()


def touch_token(*, conn: Connection, token_id: int, now: dt.datetime) -> None:
    """Record when a token was last used."""
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


def count_tokens(*, conn: Connection, user_id: int) -> int:
    """How many API tokens a user holds (expired ones included, until revoked)."""
    query = select(func.count()).select_from(api_tokens).where(api_tokens.c.user_id == user_id)
    return int(conn.execute(query).scalar_one())


def list_tokens(*, conn: Connection, user_id: int) -> list[RowMapping]:
    """A user's API tokens (without secrets), newest first."""
    query = (
        select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.created_at, api_tokens.c.expires_at)
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def delete_user_tokens(*, conn: Connection, user_id: int) -> int:
    """Revoke every API token of a user (password changed or reset); returns how many."""
    return int(conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount)


def delete_token(*, conn: Connection, user_id: int, token_id: int) -> bool:
    """Revoke one of a user's tokens; False when it was not theirs."""
    result = conn.execute(
        delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    )
    return result.rowcount > 0
