"""The outermost layers of the site: proxy headers, security headers, redirects kept on this
site and a request-body limit.

``SiteApp`` wraps Starlette's whole stack (its error middleware included) in these, so every
response carries the security headers (a 500 too), the client address is the real one only
when the connecting peer is a configured proxy, and a body over the limit is refused with 413
before anything parses or spools it.
"""

from __future__ import annotations

import json
from typing import cast

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dailypapers.settings import Settings
from dailypapers.web.observability import RequestObserver

# KaTeX draws with inline style attributes, so styles allow 'unsafe-inline'; scripts never do.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SiteHeaders:
    """Adds CSP, Permissions-Policy, nosniff, referrer and framing headers (and HSTS when the
    site is served over HTTPS) to every response that does not set its own, and keeps
    redirects on this site.

    Redirects to this site never name the request's ``Host``: Starlette's trailing-slash
    redirect (``/trending/`` to ``/trending``) wrote ``http://<Host>/trending``, so a forged
    ``Host`` sent the visitor to another site. Such a location becomes its path (or, for a
    path a browser would read as another host, ``//x``, the configured base URL and path).
    Both are done in one pass over the response's headers.
    """

    def __init__(self, app: ASGIApp, *, https: bool, base_url: str) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([HSTS] if https else [])
        self.base = base_url.rstrip("/").encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"location" in present:
                    headers = [
                        (n, self._relocate(scope, v) if n.lower() == b"location" else v)
                        for n, v in headers
                    ]
                headers += [h for h in self.headers if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, rewrite)

    def _relocate(self, scope: Scope, value: bytes) -> bytes:
        """A location naming the request's own ``Host``, without it."""
        host = next((v for n, v in scope["headers"] if n == b"host"), b"")
        if not host:
            return value
        for prefix in (b"http://" + host, b"https://" + host):
            rest = value[len(prefix) :]
            if value.startswith(prefix) and rest.startswith(b"/"):
                return self.base + rest if rest.startswith((b"//", b"/\\")) else rest
        return value


def _too_large(limit: int) -> str:
    return f"The request body is too large: the limit is {limit:,} bytes."


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, before the app reads them.

    A ``Content-Length`` over the limit is answered at once; a body without one (chunked) is
    counted as it streams, and the app's read fails with 413 at the first byte too many.
    """

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths or {}  # paths with a limit of their own (library uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, send, declared.isdigit(), limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Send, too_large: bool, limit: int) -> None:
        status, text = (413, _too_large(limit)) if too_large else (400, "Bad Content-Length.")
        wants_json = scope["path"].startswith("/api/") or any(
            k == b"accept" and b"application/json" in v for k, v in scope["headers"]
        )
        if wants_json:
            body, kind = json.dumps({"error": text}).encode(), b"application/json"
        else:
            body, kind = text.encode(), b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class SiteApp(FastAPI):
    """FastAPI with proxy headers, security headers and the body limit outside everything
    else, Starlette's error middleware included (so a 500 carries the headers too)."""

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack wrapped in the site's outermost middlewares."""
        settings: Settings = self.state.settings
        app: ASGIApp = BodyLimit(
            super().build_middleware_stack(),
            settings.body_limit_kb * 1024,
            {"/lists/import": settings.import_max_kb * 1024},  # web/library.py
        )
        app = SiteHeaders(app, https=settings.secure_cookies, base_url=settings.base_url)
        # Request id, access log and metrics: outside the body limit and the security headers
        # (their refusals are counted too), inside the proxy headers (the real client address).
        app = RequestObserver(
            app,
            metrics=self.state.metrics,
            routes=self.router.routes,
            access_log=settings.access_log,
        )
        proxied = ProxyHeadersMiddleware(app, trusted_hosts=settings.forwarded_allow_ips)  # type: ignore[arg-type]
        return cast(ASGIApp, proxied)
