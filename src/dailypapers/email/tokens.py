"""Signed links in digest mail: confirm a subscription, manage preferences, unsubscribe.

The confirmation link expires (``email_token_hours``), like account links. Unsubscribe and
preferences links do not expire: they sit in every digest, and an unsubscribe link that stops
working after two days would break RFC 8058 one-click unsubscribe for older messages. They
carry the subscription id and its address, so they stop working when the subscription is
deleted or its address changes, and forging one needs the site's secret key.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from dailypapers.community.accounts import TokenError, make_token, read_token
from dailypapers.settings import Settings


def _payload(subscription: Any) -> dict[str, Any]:
    return {"s": int(subscription["id"]), "e": str(subscription["email"])}


def _serializer(settings: Settings, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=f"dailypapers.digest.{purpose}")


def confirm_token(settings: Settings, subscription: Any) -> str:
    """Timed token for the double opt-in link."""
    return make_token(settings, "subscribe", _payload(subscription))


def read_confirm(settings: Settings, token: str) -> tuple[int, str]:
    """(subscription id, email) of a confirmation link; raises TokenError."""
    payload = read_token(settings, "subscribe", token, settings.email_token_hours * 3600)
    return _parts(payload)


def link_token(settings: Settings, purpose: str, subscription: Any) -> str:
    """Non-expiring token for the ``unsubscribe`` or ``preferences`` link."""
    return str(_serializer(settings, purpose).dumps(_payload(subscription)))


def read_link(settings: Settings, purpose: str, token: str) -> tuple[int, str]:
    """(subscription id, email) of an unsubscribe or preferences link; raises TokenError."""
    try:
        payload = _serializer(settings, purpose).loads(token)
    except BadSignature:
        raise TokenError("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(payload, dict):
        raise TokenError("This link is not valid.")
    return _parts(payload)


def _parts(payload: dict[str, Any]) -> tuple[int, str]:
    try:
        return int(payload["s"]), str(payload["e"])
    except (KeyError, TypeError, ValueError):
        raise TokenError("This link is not valid.") from None


def url(settings: Settings, path: str) -> str:
    """An absolute link on the site."""
    return settings.base_url.rstrip("/") + path


def unsubscribe_url(settings: Settings, subscription: Any) -> str:
    """The one-click unsubscribe URL (also the ``List-Unsubscribe`` header)."""
    return url(settings, f"/unsubscribe?token={link_token(settings, 'unsubscribe', subscription)}")


def preferences_url(settings: Settings, subscription: Any) -> str:
    """The preferences page of a subscription."""
    return url(settings, f"/subscription?token={link_token(settings, 'preferences', subscription)}")
