"""The account emails: confirm your address, you already have an account, reset your password."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy.engine import RowMapping

from dailypapers.community.accounts import reset_token, verification_token
from dailypapers.mailer import new_message
from dailypapers.settings import Settings


def _link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def verification(settings: Settings, user: RowMapping) -> EmailMessage:
    """Asks a new user to confirm the address by opening a link."""
    link = _link(settings, f"/verify?token={verification_token(settings, user)}")
    text = (
        f"Hello {user['display_name']},\n\n"
        f"Confirm your email address for {settings.site_name} by opening this link:\n\n"
        f"{link}\n\n"
        f"The link works for {settings.email_token_hours} hours. If you did not sign up, "
        "ignore this message: no account is active until the link is opened.\n"
    )
    return new_message(
        settings,
        to=user["email"],
        subject=f"Confirm your email for {settings.site_name}",
        text=text,
    )


def already_registered(settings: Settings, user: RowMapping) -> EmailMessage:
    """Sent instead of a second account, so sign-up never reveals who is registered."""
    text = (
        f"Hello {user['display_name']},\n\n"
        f"Someone tried to sign up for {settings.site_name} with this address, which already "
        f"has an account (username {user['username']}).\n\n"
        f"Log in: {_link(settings, '/login')}\n"
        f"Forgot your password? {_link(settings, '/reset')}\n\n"
        "If it was not you, you can ignore this message.\n"
    )
    return new_message(
        settings, to=user["email"], subject=f"Your {settings.site_name} account", text=text
    )


def password_reset(settings: Settings, user: RowMapping) -> EmailMessage:
    """A one-time link to choose a new password."""
    link = _link(settings, f"/reset/confirm?token={reset_token(settings, user)}")
    text = (
        f"Hello {user['display_name']},\n\n"
        f"Choose a new password for {settings.site_name} here:\n\n{link}\n\n"
        f"The link works once, for {settings.password_reset_minutes} minutes. If you did not "
        "ask for it, ignore this message: your password has not changed.\n"
    )
    return new_message(
        settings, to=user["email"], subject=f"Reset your {settings.site_name} password", text=text
    )
