"""gzip and brotli for HTML, JSON, feeds and other text, chosen by ``Accept-Encoding``.

``Compress`` runs inside the response cache, and the cache keys its entries by the coding
``negotiate`` picks for the request: a cache hit is sent as stored, already compressed, and a
client that did not ask for a coding is never sent it. Text responses carry
``Vary: Accept-Encoding`` whether or not they were compressed. Bodies under ``minimum``
bytes, types that are already compressed (images, fonts, archives), ``no-transform``,
responses that have a ``Content-Encoding`` and partial ones (206) are sent as they are; a
compressed one offers no byte ranges. A streamed body (more than one message) is compressed
as it streams, flushed at every message, so nothing waits for the end. A complete 200 body
without an ``ETag`` gets one (the hash of the uncompressed body; weak, ``W/"..."``, when the
body sent is compressed), which ``web/conditional.py`` answers 304 against.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Protocol

import brotli  # type: ignore[import-untyped]
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CODINGS = ("br", "gzip")  # preferred first when the client weighs them equally
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/xhtml+xml",
    "application/x-bibtex",
    "application/ld+json",
    "image/svg+xml",
)
MINIMUM = 1024  # bytes: below this a coding's header costs about what it saves


def _quality(value: str) -> float:
    try:
        q = float(value)
    except ValueError:
        return 0.0
    return q if 0.0 <= q <= 1.0 else 0.0


def negotiate(accept_encoding: str | None) -> str:
    """``br``, ``gzip`` or ``identity``: the coding the client weighs highest (``q`` values,
    ``*`` for codings it does not name; ``q=0`` refuses), brotli first on a tie."""
    if not accept_encoding:
        return "identity"
    weights: dict[str, float] = {}
    for part in accept_encoding[:1000].split(","):
        name, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                q = _quality(value.strip())
        weights.setdefault(name.strip().lower(), q)
    star = weights.get("*", 0.0)
    best, best_q = "identity", 0.0
    for coding in CODINGS:
        q = weights.get(coding, star)
        if q > best_q:
            best, best_q = coding, q
    return best


def request_coding(scope: Scope) -> str:
    """The coding ``negotiate`` picks for this request (the response cache keys by it)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return negotiate(value.decode("latin-1"))
    return "identity"


class _Coder(Protocol):
    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class _Gzip:
    def __init__(self, level: int) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    def __init__(self, quality: int) -> None:
        self._b = brotli.Compressor(quality=quality)

    def feed(self, data: bytes) -> bytes:
        return bytes(self._b.process(data) + self._b.flush())

    def finish(self) -> bytes:
        return bytes(self._b.finish())


def _compressible(headers: Headers, status: int) -> bool:
    kind = headers.get("content-type", "").lower()
    return (
        status >= 200
        and status not in (204, 206, 304)
        and kind.startswith(TEXT_TYPES)
        and "content-encoding" not in headers
        and "content-range" not in headers
        and "no-transform" not in headers.get("cache-control", "").lower()
    )


def _add_vary(headers: MutableHeaders) -> None:
    vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    if "*" not in vary and "accept-encoding" not in (v.lower() for v in vary):
        headers["vary"] = ", ".join([*vary, "Accept-Encoding"])


def _weak(etag: str) -> str:
    return etag if etag.startswith("W/") else f"W/{etag}"


class Compress:
    """Compress text responses with the coding the client prefers (see the module doc)."""

    def __init__(
        self, app: ASGIApp, minimum: int = MINIMUM, gzip_level: int = 6, brotli_quality: int = 4
    ) -> None:
        self.app = app
        self.minimum = minimum
        self.gzip_level = gzip_level
        self.brotli_quality = brotli_quality

    def _coder(self, coding: str) -> _Coder:
        return _Brotli(self.brotli_quality) if coding == "br" else _Gzip(self.gzip_level)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        coding = request_coding(scope)
        tag_bodies = scope["method"] == "GET"
        start: Message | None = None
        coder: _Coder | None = None
        passthrough = False

        async def wrapped(message: Message) -> None:
            nonlocal start, coder, passthrough
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            if passthrough:
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            if coder is not None:  # streaming
                data = coder.feed(body) if body else b""
                if not more:
                    data += coder.finish()
                await send({"type": "http.response.body", "body": data, "more_body": more})
                return
            headers = MutableHeaders(raw=list(start.get("headers", [])))
            status = int(start["status"])
            if status == 304 and coding != "identity" and "etag" in headers:
                headers["etag"] = _weak(headers["etag"])
            eligible = _compressible(headers, status)
            if eligible:
                _add_vary(headers)
            if (
                eligible
                and not more
                and tag_bodies
                and status == 200
                and "etag" not in headers
                and "no-store" not in headers.get("cache-control", "")
            ):
                headers["etag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if not eligible or coding == "identity" or (not more and len(body) < self.minimum):
                passthrough = True
                await send({**start, "headers": headers.raw})
                await send(message)
                return
            headers["content-encoding"] = coding
            # Byte ranges would count the compressed body: offer none (as nginx's gzip does).
            del headers["accept-ranges"]
            if "etag" in headers:
                headers["etag"] = _weak(headers["etag"])
            coder = self._coder(coding)
            data = coder.feed(body) if body else b""
            if more:
                del headers["content-length"]
                await send({**start, "headers": headers.raw})
                await send({"type": "http.response.body", "body": data, "more_body": True})
                return
            data += coder.finish()
            headers["content-length"] = str(len(data))
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": data, "more_body": False})

        await self.app(scope, receive, wrapped)
