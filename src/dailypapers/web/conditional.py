"""Conditional GET: 304 Not Modified for a 200 whose validators the client already holds.

``If-None-Match`` is compared with the response's ``ETag`` by the weak comparison (RFC 9110
13.1.2: ``W/"x"`` matches ``"x"``), so a client that was sent a compressed variant (weak
tag) revalidates too; only without it is ``If-Modified-Since`` compared with
``Last-Modified``. The middleware sits outside the response cache, so a feed or page that is
cached answers a poller's revalidation without a query and with no body. A 304 keeps the
headers that describe the stored response (``ETag``, ``Cache-Control``, ``Vary``,
``Last-Modified``, ...) and drops the body and its length and type.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DROPPED = ("content-length", "content-type", "content-encoding")


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison) or is ``*``."""
    wanted = {_opaque(t) for t in if_none_match.split(",") if t.strip()}
    return "*" in wanted or _opaque(etag) in wanted


def not_modified_since(if_modified_since: str, last_modified: str) -> bool:
    """Whether ``Last-Modified`` is no later than ``If-Modified-Since`` (False when either
    is not an HTTP date)."""
    try:
        since = parsedate_to_datetime(if_modified_since)
        modified = parsedate_to_datetime(last_modified)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None or modified.tzinfo is None:
        return False
    return modified <= since


class ConditionalGet:
    """Turn a GET/HEAD 200 into a 304 when the request's validators match (see above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        inm = ims = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"if-modified-since":
                ims = value.decode("latin-1")
        if inm is None and ims is None:
            await self.app(scope, receive, send)
            return
        swallowing = False

        async def wrapped(message: Message) -> None:
            nonlocal swallowing
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                etag, modified = headers.get("etag"), headers.get("last-modified")
                if inm is not None:
                    match = etag is not None and etag_matches(inm, etag)
                else:
                    match = ims is not None and modified is not None
                    match = match and not_modified_since(ims or "", modified or "")
                if match:
                    swallowing = True
                    for name in DROPPED:
                        del headers[name]
                    await send({**message, "status": 304, "headers": headers.raw})
                    return
            if swallowing and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, wrapped)
