"""Private feed links: a random token in the URL, stored only as its SHA-256.

A user has at most one link; making a new one revokes the old, and revoking leaves none.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine

from dailypapers.storage import feeds
from dailypapers.storage.engine import write_transaction

PREFIX = "feed_"  # so a leaked link is recognisable as a feed link, not an API token


def token_hash(token: str) -> str:
    """The stored form of a feed token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_link_token(engine: Engine, *, user_id: int) -> str:
    """Make ``user_id`` a new feed token (the previous one stops working) and return it:
    it is not stored, so this is the only time it is known."""
    token = PREFIX + secrets.token_urlsafe(32)
    with write_transaction(engine) as conn:
        feeds.set_feed_token(conn=conn, user_id=user_id, token_hash=token_hash(token))
    return token


def revoke(engine: Engine, *, user_id: int) -> bool:
    """Revoke ``user_id``'s feed link; False when there was none."""
    with write_transaction(engine) as conn:
        return feeds.delete_feed_token(conn=conn, user_id=user_id)
