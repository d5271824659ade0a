"""CORS for the read-only API and the feeds: any origin may read them, never with
credentials, and only with GET and HEAD.

Responses to GET and HEAD under ``/api/``, ``/feeds/`` and ``/openapi.json`` carry
``Access-Control-Allow-Origin: *`` (the same for every origin, so caches need no ``Vary``)
and expose the headers a client reads (``ETag``, ``Link``, ``Retry-After``...). A preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) for GET or HEAD is answered 204 with the
allowed methods and headers; one for any other method (the write routes: submit, upvote,
comment) is left to the app, which answers it without CORS headers, so a browser on another
origin cannot send it. ``Allow-Credentials`` is never sent, so cookies never make another
origin's request act as a visitor's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIXES = ("/api/", "/feeds/", "/openapi.json")
READ_METHODS = (b"GET", b"HEAD")
ALLOWED_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "if-none-match",
        "if-modified-since",
        "cache-control",
        "x-request-id",
    }
)
EXPOSED = b"ETag, Last-Modified, Link, Retry-After, X-Request-ID, Content-Language"
MAX_AGE = b"86400"


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


class ReadOnlyCors:
    """Open the read-only routes to every origin (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            wanted = _header(scope, b"access-control-request-method")
            origin = _header(scope, b"origin")
            if origin is not None and wanted is not None and wanted.strip() in READ_METHODS:
                await self._preflight(scope, send)
                return
            await self.app(scope, receive, send)
            return
        if method not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-")
                ]
                headers += [
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", EXPOSED),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, wrapped)

    async def _preflight(self, scope: Scope, send: Send) -> None:
        asked = (_header(scope, b"access-control-request-headers") or b"").decode("latin-1")
        names = [n.strip().lower() for n in asked.split(",") if n.strip()]
        allowed = [n for n in names if n in ALLOWED_HEADERS]
        headers = [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
            (b"access-control-max-age", MAX_AGE),
            (b"vary", b"Access-Control-Request-Method, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        if allowed:
            headers.append((b"access-control-allow-headers", ", ".join(allowed).encode()))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
