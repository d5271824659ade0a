"""Accounts: sign-up, email verification, log-in, password reset and API tokens.

Passwords are hashed with argon2id (argon2-cffi). Links in emails are signed, timed tokens
(itsdangerous); a reset link carries a fingerprint of the current password hash, so it
works once. Nothing here tells a visitor whether an email address is registered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from dailypapers import mailer
from dailypapers.ingest.normalize import strip_controls
from dailypapers.settings import Settings
from dailypapers.storage import accounts, feeds
from dailypapers.storage.engine import write_transaction

HASHER = PasswordHasher()
# Each argon2 computation takes 64 MiB (the hasher's memory cost) for its duration: forty log-in
# attempts at once (one per thread of the pool, from forty addresses) asked for 2.5 GiB. At most
# HASH_SLOTS run at once per process; the others wait their turn.
HASH_SLOTS = 4
HASHING = threading.BoundedSemaphore(HASH_SLOTS)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
# "arxiv" names the system submitter of automatically featured papers (storage/daily.py).
RESERVED = {
    "admin",
    "api",
    "static",
    "login",
    "logout",
    "signup",
    "settings",
    "me",
    "root",
    "arxiv",
}
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_TOKENS = 50  # API tokens one user may hold at once
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash(secrets.token_hex(16))


class AccountError(Exception):
    """A user-facing reason an account action was refused."""


class TokenError(Exception):
    """A link token that is forged, for another purpose, or expired."""


def normalize_email(value: str) -> str:
    """A syntactically valid address, lower-cased, an internationalised domain in its
    ``xn--`` form; raises AccountError with the reason."""
    if any(ch in value for ch in "\r\n\0"):
        raise AccountError("An email address cannot contain line breaks.")
    value = value.strip()
    if len(value) > 254:
        raise AccountError("That email address is too long (254 characters at most).")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(f"That email address is not valid: {exc}") from None
    return f"{checked.local_part}@{checked.ascii_domain}".lower()


NON_ASCII = (
    "Addresses with non-ASCII characters before the @ are not supported: "
    "this site's mail server cannot deliver to them."
)


def mail_address(value: str, settings: Settings | None) -> str:
    """The one check for an address the site will mail (sign-up, both subscription paths):
    ``normalize_email``, and non-ASCII characters before the ``@`` only when the mail server
    offers SMTPUTF8 (``settings`` None: never). Raises AccountError."""
    address = normalize_email(value)
    if mailer.needs_smtputf8(address) and (
        settings is None or not mailer.Mailer(settings).smtputf8()
    ):
        raise AccountError(NON_ASCII)
    return address


def check_username(value: str) -> str:
    """A username of 2 to 32 letters, digits, '-' or '_'; raises AccountError."""
    value = value.strip()
    if not USERNAME.match(value):
        raise AccountError(
            "A username has 2 to 32 characters: letters, digits, '-' and '_', "
            "starting with a letter or digit."
        )
    if value.lower() in RESERVED:
        raise AccountError("That username is reserved.")
    return value


# Bidirectional controls (embeddings, overrides, isolates, marks): a name ending in U+202E
# shows the "@username" printed after it backwards, so "ssob" reads as "boss".
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_display_name(value: str) -> str:
    """A display name as shown beside comments and in mail: no control characters, terminal
    escapes or bidirectional controls, whitespace collapsed, at most 100 characters."""
    return " ".join(_BIDI.sub("", strip_controls(value)).split())[:100]


def check_password(value: str) -> str:
    """A password of 8 to 1024 characters; raises AccountError."""
    if len(value) < MIN_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(value) > MAX_PASSWORD:
        raise AccountError(f"A password has at most {MAX_PASSWORD} characters.")
    return value


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    with HASHING:
        return HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (always spends one hash computation)."""
    try:
        with HASHING:
            verified = HASHER.verify(password_hash or _DUMMY_HASH, password)
        return verified and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=f"dailypapers.{purpose}")


def make_token(settings: Settings, purpose: str, payload: dict[str, Any]) -> str:
    """A signed, timestamped token for a link in an email."""
    return str(_serializer(settings, purpose).dumps(payload))


def read_token(settings: Settings, purpose: str, token: str, max_age: int) -> dict[str, Any]:
    """The payload of a token made by ``make_token``; raises TokenError."""
    try:
        payload = _serializer(settings, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise TokenError("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(payload, dict):
        raise TokenError("This link is not valid.")
    return payload


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def verification_token(settings: Settings, user: RowMapping) -> str:
    """Token for the link that confirms ``user``'s email address."""
    return make_token(settings, "verify", {"u": user["id"], "e": user["email"]})


def reset_token(settings: Settings, user: RowMapping) -> str:
    """Token for a one-time password-reset link."""
    return make_token(
        settings, "reset", {"u": user["id"], "p": _fingerprint(user["password_hash"])}
    )


@dataclass(frozen=True, slots=True)
class Signup:
    """What a sign-up did: the user to send a verification link to, or an existing account."""

    user: RowMapping | None
    existing: RowMapping | None


def signup(
    engine: Engine,
    *,
    username: str,
    email: str,
    password: str,
    settings: Settings | None = None,
) -> Signup:
    """Create an unverified account, or report the account that already has this email.

    Raises AccountError for invalid input or a taken username (usernames are public). The
    username is checked before the email, so the answer never depends on whether the email
    is registered.
    """
    username = check_username(username)
    email = mail_address(email, settings)
    check_password(password)
    password_hash = hash_password(password)
    try:
        with write_transaction(engine) as conn:
            if accounts.user_by_username(conn=conn, username=username) is not None:
                raise AccountError("That username is taken. Choose another.")
            existing = accounts.user_by_email(conn=conn, email=email)
            if existing is not None:
                return Signup(None, existing)
            user_id = accounts.create_user(
                conn=conn, username=username, email=email, password_hash=password_hash
            )
            user = accounts.user_by_id(conn=conn, user_id=user_id)
    except IntegrityError:
        # Another sign-up won a race (PostgreSQL checks concurrently): answer as if it had
        # come first, so a registered email still gets the same answer as a new one.
        with engine.connect() as conn:
            existing = accounts.user_by_email(conn=conn, email=email)
        if existing is not None:
            return Signup(None, existing)
        raise AccountError("That username is taken. Choose another.") from None
    return Signup(user, None)


def create_user(
    conn: Connection, *, email: str, password: str, admin: bool = False, username: str = ""
) -> RowMapping:
    """Create a verified account (operators' ``user create``); raises AccountError."""
    email = normalize_email(email)
    check_password(password)
    if accounts.user_by_email(conn=conn, email=email) is not None:
        raise AccountError(f"A user with email {email} already exists.")
    base = username or re.sub(r"[^A-Za-z0-9_-]", "", email.split("@")[0])[:28] or "user"
    if not username and (len(base) < 2 or base.lower() in RESERVED):
        base = f"{base}1"  # a derived name never fails for being short or reserved
    base = check_username(base)
    name, n = base, 1
    while accounts.user_by_username(conn=conn, username=name) is not None:
        n += 1
        name = f"{base}{n}"
    user_id = accounts.create_user(
        conn=conn,
        username=name,
        email=email,
        password_hash=hash_password(password),
        is_admin=admin,
        verified=True,
    )
    user = accounts.user_by_id(conn=conn, user_id=user_id)
    assert user is not None
    return user


def check_verification(settings: Settings, token: str) -> None:
    """Raise TokenError unless ``token`` is a valid, unexpired verification token."""
    read_token(settings, "verify", token, settings.email_token_hours * 3600)


def verify_email(engine: Engine, settings: Settings, token: str) -> RowMapping:
    """Mark the address in a verification link as confirmed; raises TokenError."""
    payload = read_token(settings, "verify", token, settings.email_token_hours * 3600)
    with write_transaction(engine) as conn:
        user = accounts.user_by_id(conn=conn, user_id=int(payload.get("u", 0)))
        if user is None or user["email"] != payload.get("e"):
            raise TokenError("This link is not valid any more.")
        if user["email_verified_at"] is None:
            accounts.update_user(
                conn=conn, user_id=user["id"], email_verified_at=dt.datetime.now(dt.UTC)
            )
        fresh = accounts.user_by_id(conn=conn, user_id=user["id"])
    assert fresh is not None
    return fresh


def account_key(email: str) -> str:
    """The account a log-in attempt is for, for per-account rate limits (the normalised
    address, or the raw text lower-cased when it is not an address)."""
    try:
        return normalize_email(email)
    except AccountError:
        return " ".join(email.split()).lower()[:254]


def authenticate(conn: Connection, *, email: str, password: str) -> RowMapping:
    """The user with these credentials; raises AccountError with a message that is the same
    for an unknown email and a wrong password."""
    try:
        address = normalize_email(email)
    except AccountError:
        address = ""
    user = accounts.user_by_email(conn=conn, email=address) if address else None
    if not password_matches(user["password_hash"] if user else None, password) or user is None:
        raise AccountError("Wrong email or password.")
    if user["banned_at"] is not None:
        raise AccountError("This account has been suspended by the site's moderators.")
    return user


def user_for_reset(engine: Engine, settings: Settings, token: str) -> RowMapping:
    """The user a reset link is for, if the link is valid and unused; raises TokenError."""
    payload = read_token(settings, "reset", token, settings.password_reset_minutes * 60)
    with engine.connect() as conn:
        user = accounts.user_by_id(conn=conn, user_id=int(payload.get("u", 0)))
    if user is None or _fingerprint(user["password_hash"]) != payload.get("p"):
        raise TokenError("This link was already used or is not valid. Ask for a new one.")
    return user


def set_password(engine: Engine, *, user_id: int, password: str) -> None:
    """Change a password, end every session of the user and revoke their API tokens and
    private feed link (a stolen token must not outlive the password it was made with); raises
    AccountError."""
    check_password(password)
    with write_transaction(engine) as conn:
        accounts.update_user(conn=conn, user_id=user_id, password_hash=hash_password(password))
        accounts.delete_user_sessions(conn=conn, user_id=user_id)
        accounts.delete_user_tokens(conn=conn, user_id=user_id)
        feeds.delete_feed_token(conn=conn, user_id=user_id)


def hash_secret(value: str) -> str:
    """SHA-256 of a session or API token (tokens have 256 random bits; no salt needed)."""
    return hashlib.sha256(value.encode()).hexdigest()


def start_session(engine: Engine, settings: Settings, *, user_id: int) -> tuple[str, str]:
    """Create a login session; returns the cookie token and the session's CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    with write_transaction(engine) as conn:
        accounts.delete_expired_sessions(conn=conn, now=now)
        accounts.create_session(
            conn=conn,
            session_hash=hash_secret(token),
            user_id=user_id,
            csrf=csrf,
            expires_at=now + dt.timedelta(days=settings.session_days),
        )
    return token, csrf


MAX_TOKEN_DAYS = 3650


def create_api_token(
    conn: Connection, *, user_id: int, name: str = "cli", days: int | None = None
) -> str:
    """A new API token for ``user_id`` (shown once; only its hash is stored), refused after
    ``days`` days (None or 0: until revoked); raises AccountError for a bad ``days`` or when
    the user already holds MAX_TOKENS (each one is a row and a line on the settings page)."""
    if days is not None and not 0 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"A token expires after 0 (never) to {MAX_TOKEN_DAYS} days.")
    if accounts.count_tokens(conn=conn, user_id=user_id) >= MAX_TOKENS:
        raise AccountError(
            f"You already have {MAX_TOKENS} API tokens. Revoke one before creating another."
        )
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    token = "dp_" + secrets.token_urlsafe(32)
    accounts.create_token(
        conn=conn, user_id=user_id, token_hash=hash_secret(token), name=name, expires_at=expires
    )
    return token
